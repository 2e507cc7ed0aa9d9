package main

import (
	"bytes"
	"encoding/json"
	"image/jpeg"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"
)

func ds(ms ...int) []time.Duration {
	var out []time.Duration
	for _, m := range ms {
		out = append(out, time.Duration(m)*time.Millisecond)
	}
	return out
}

func TestPercentile(t *testing.T) {
	ten := ds(1, 2, 3, 4, 5, 6, 7, 8, 9, 10)
	hundred := make([]time.Duration, 100)
	for i := range hundred {
		hundred[i] = time.Duration(i+1) * time.Millisecond
	}
	for _, tt := range []struct {
		in   []time.Duration
		p    float64
		want time.Duration
	}{
		{nil, 50, 0},
		{ds(7), 50, 7 * time.Millisecond},
		{ds(7), 99, 7 * time.Millisecond},
		{ten, 50, 5 * time.Millisecond}, // nearest rank: ceil(0.5*10) = 5th
		{ten, 90, 9 * time.Millisecond},
		{ten, 99, 10 * time.Millisecond},
		{ten, 100, 10 * time.Millisecond},
		{ten, 0, 1 * time.Millisecond},
		{ten, 10, 1 * time.Millisecond},
		{ten, 11, 2 * time.Millisecond},
		{hundred, 99, 99 * time.Millisecond},
		{hundred, 99.9, 100 * time.Millisecond},
		{hundred, 50, 50 * time.Millisecond},
	} {
		if got := percentile(tt.in, tt.p); got != tt.want {
			t.Errorf("percentile(%d values, %v) = %v, want %v", len(tt.in), tt.p, got, tt.want)
		}
	}
}

func TestSummarizeSortsAndDoesNotReorderInput(t *testing.T) {
	in := ds(9, 1, 5, 3, 7, 2, 8, 4, 10, 6)
	orig := append([]time.Duration(nil), in...)
	s := summarize(in)
	if s.N != 10 || s.P50 != 5*time.Millisecond || s.P99 != 10*time.Millisecond || s.Max != 10*time.Millisecond ||
		s.Mean != 5500*time.Microsecond {
		t.Errorf("summarize = %+v", s)
	}
	for i := range in {
		if in[i] != orig[i] {
			t.Fatalf("summarize reordered its input: %v", in)
		}
	}
	if z := summarize(nil); z != (summary{}) {
		t.Errorf("summarize(nil) = %+v, want zero", z)
	}
}

func TestParseStatus(t *testing.T) {
	status := `Name:	userimages
Umask:	0022
State:	S (sleeping)
VmPeak:	 1261948 kB
VmSize:	 1261948 kB
VmHWM:	   40960 kB
VmRSS:	   20480 kB
RssAnon:	   10000 kB
Threads:	8
`
	m, err := parseStatus([]byte(status))
	if err != nil {
		t.Fatal(err)
	}
	if m.RSS != 20480<<10 || m.HWM != 40960<<10 {
		t.Errorf("parseStatus = %+v, want RSS 20 MiB and HWM 40 MiB", m)
	}
	// A kernel thread has neither line.
	if m, err := parseStatus([]byte("Name:\tkthreadd\nState:\tS\n")); err != nil || m != (memStatus{}) {
		t.Errorf("kernel thread: %+v, %v", m, err)
	}
	if _, err := parseStatus([]byte("VmRSS:\t12 MB\n")); err == nil {
		t.Error("a unit other than kB was accepted")
	}
	if _, err := parseStatus([]byte("VmRSS:\tx kB\n")); err == nil {
		t.Error("a non-number was accepted")
	}
}

// The sampler reads this very process: its RSS must be positive and
// agree with what /proc says, and peak must be at least the idle figure.
func TestTreeMemOfSelf(t *testing.T) {
	m, err := treeMem(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if m.RSS <= 0 || m.HWM < m.RSS {
		t.Errorf("treeMem(self) = %+v", m)
	}
	s := startSampler(os.Getpid(), time.Millisecond)
	time.Sleep(20 * time.Millisecond)
	peak, n := s.finish()
	if n < 2 || peak <= 0 {
		t.Errorf("sampler: peak %d after %d samples", peak, n)
	}
}

func TestNoopAnswerSizeAndHandler(t *testing.T) {
	for _, size := range []int{400, 602, 1000} {
		b, err := noopAnswer(size)
		if err != nil {
			t.Fatal(err)
		}
		if len(b) != size {
			t.Errorf("noopAnswer(%d) is %d bytes", size, len(b))
		}
	}
	if _, err := noopAnswer(10); err == nil {
		t.Error("noopAnswer(10) made an answer")
	}
	answer, _ := noopAnswer(602)
	srv := httptest.NewServer(noopHandler(answer))
	defer srv.Close()
	up, n, err := createUpload(t.Context(), srv.Client(), srv.URL, 200000)
	if err != nil || n != 602 || up.Upload.Token == "" {
		t.Errorf("create against no-op: %d bytes, %+v, %v", n, up, err)
	}
	res, err := http.Post(srv.URL, "application/json", strings.NewReader(`{"content_type":1}`))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusBadRequest {
		t.Errorf("bad JSON: status %d, want 400", res.StatusCode)
	}
}

func TestImages(t *testing.T) {
	imgs, err := makeImages()
	if err != nil {
		t.Fatal(err)
	}
	if len(imgs.big) != 2_000_000 {
		t.Errorf("big image is %d bytes", len(imgs.big))
	}
	if n := len(imgs.small); n < 150_000 || n > 250_000 {
		t.Errorf("small image is %d bytes, want about 200 KB", n)
	}
	for name, b := range map[string][]byte{"small": imgs.small, "big": imgs.big, "tiny": imgs.tiny} {
		if _, err := jpeg.Decode(bytes.NewReader(b)); err != nil {
			t.Errorf("%s image does not decode: %v", name, err)
		}
	}
}

func TestCompare(t *testing.T) {
	rs := []result{
		{Scenario: "create", Target: "userimages", Op: "create", ReqPerSec: 300},
		{Scenario: "create", Target: "noop", Op: "create", ReqPerSec: 1000},
		{Scenario: "put256", Target: "userimages", Op: "put", IdleRSSMiB: 20, PeakRSSMiB: 100},
		{Scenario: "scale", Target: "images=1000", Op: "get", Concurrency: 1, P50Ms: 1, P99Ms: 2},
		{Scenario: "scale", Target: "images=1000000", Op: "get", Concurrency: 1, P50Ms: 1.1, P99Ms: 3},
	}
	got := compare(rs)
	b, _ := json.Marshal(got)
	if len(got) != 4 {
		t.Fatalf("compare: %s", b)
	}
	if got[0].Ratio != 0.3 || got[0].Met {
		t.Errorf("create: %+v", got[0])
	}
	if got[1].Ratio != 80 || got[1].Met {
		t.Errorf("put256: %+v", got[1])
	}
	if !got[2].Met || got[3].Met {
		t.Errorf("scale: %s", b)
	}
}
