package e2e

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"userimages/internal/testkit/pgtest"
	"userimages/s3store/s3test"
)

// clientFrom returns a client whose connections come from the loopback
// address ip (127.0.0.2, …): another user, as the server sees it.
func clientFrom(ip string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 10 * time.Second}
	return &http.Client{
		Transport: &http.Transport{DialContext: d.DialContext, MaxIdleConnsPerHost: 4, DisableCompression: true},
		Timeout:   time.Minute,
	}
}

// flowOutcome counts the answers of many flows.
type flowOutcome struct {
	mu       sync.Mutex
	claimed  []string          // paths
	statuses map[string]int    // "PUT 503 ServiceUnavailable" → count, for every answer but success
	netErrs  int               // requests that got no HTTP answer
	firstNet error             // the first of those
	latency  []time.Duration   // of successful flows
	bodies   map[string][]byte // one served copy per claimed size, to compare the others with
}

func newFlowOutcome() *flowOutcome {
	return &flowOutcome{statuses: map[string]int{}, bodies: map[string][]byte{}}
}

// record notes the end of one flow: its error (nil for a 201) and step.
func (o *flowOutcome) record(err error, path string, took time.Duration) {
	o.mu.Lock()
	defer o.mu.Unlock()
	var e *errStatus
	switch {
	case err == nil:
		o.claimed = append(o.claimed, path)
		o.latency = append(o.latency, took)
	case errors.As(err, &e):
		o.statuses[fmt.Sprintf("%s %d %s", e.step, e.status, errorCode(e.body))]++
	default:
		o.netErrs++
		if o.firstNet == nil {
			o.firstNet = err
		}
	}
}

// runFlows runs conc workers doing full flows of img for d, two workers per
// loopback address (127.0.0.2 on), and returns what they got. A PUT refused
// by the admission cap (503) waits a moment, as a client told Retry-After
// would, and the worker goes on with a new flow.
func runFlows(srv *server, img []byte, conc int, d time.Duration) *flowOutcome {
	o := newFlowOutcome()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	var wg sync.WaitGroup
	for w := range conc {
		c := clientFrom(fmt.Sprintf("127.0.0.%d", 2+w/2))
		wg.Go(func() {
			for ctx.Err() == nil {
				start := time.Now()
				var path string
				up, err := createUpload(c, srv.base, "", "image/jpeg", len(img))
				if err == nil {
					err = putUpload(c, up, img)
				}
				if err == nil {
					var got imageResponse
					got, err = claim(c, srv.base, "", up.Upload.Token, brandID)
					path = got.UserImage.Path
				}
				o.record(err, path, time.Since(start))
				if statusOf(err) == http.StatusServiceUnavailable {
					time.Sleep(200 * time.Millisecond)
				}
			}
			c.CloseIdleConnections()
		})
	}
	wg.Wait()
	return o
}

// check fails t on any network error or 5xx but the admission cap's 503
// ServiceUnavailable at the PUT, and logs the throughput.
func (o *flowOutcome) check(t *testing.T, what string, d time.Duration) {
	t.Helper()
	slices.Sort(o.latency)
	p := func(q float64) time.Duration {
		if len(o.latency) == 0 {
			return 0
		}
		return o.latency[int(q*float64(len(o.latency)-1))]
	}
	t.Logf("%s: %d flows claimed (%.1f/s), p50 %v, p99 %v; other answers %v; network errors %d",
		what, len(o.claimed), float64(len(o.claimed))/d.Seconds(), p(0.5).Round(time.Millisecond), p(0.99).Round(time.Millisecond), o.statuses, o.netErrs)
	if o.netErrs > 0 {
		t.Errorf("%s: %d requests got no answer, first: %v", what, o.netErrs, o.firstNet)
	}
	for answer, n := range o.statuses {
		if strings.Contains(answer, " 5") && answer != "put upload 503 ServiceUnavailable" {
			t.Errorf("%s: %d × %s, want no 5xx but the admission cap's", what, n, answer)
		}
		if strings.Contains(answer, " 4") {
			t.Errorf("%s: %d × %s, want no 4xx for healthy requests", what, n, answer)
		}
	}
	if len(o.claimed) == 0 {
		t.Errorf("%s: no flow completed", what)
	}
}

// checkServedAlike fails t unless a sample of the claimed paths serve the
// same bytes (all flows uploaded the same image).
func (o *flowOutcome) checkServedAlike(t *testing.T, base string, sample int, want []byte) []byte {
	t.Helper()
	for i, path := range o.claimed {
		if i%max(1, len(o.claimed)/sample) != 0 {
			continue
		}
		got, err := fetch(http.DefaultClient, base, path)
		if err != nil {
			t.Errorf("GET %s: %v", path, err)
			continue
		}
		if want == nil {
			want = got
		}
		if !bytes.Equal(got, want) {
			t.Errorf("GET %s: got %d bytes, not the %d the others serve", path, len(got), len(want))
		}
	}
	return want
}

// openUnder lists the files under dir that pid has open.
func openUnder(t *testing.T, pid int, dir string) []string {
	t.Helper()
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		t.Skipf("cannot list open files: %v", err)
	}
	abs, _ := filepath.Abs(dir)
	var open []string
	for _, fd := range fds {
		if target, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, fd.Name())); err == nil && strings.HasPrefix(target, abs+"/") {
			open = append(open, strings.TrimPrefix(target, abs+"/"))
		}
	}
	return open
}

// TestWritePathUnderLoad: on the embedded default, 64 and then 256 users
// doing full flows of a 1.35 MB photo for 20 s each get no 5xx but the
// documented admission 503, and no network error; every claimed image is
// served as checked, and the idle server afterwards holds few SQLite
// handles.
func TestWritePathUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("a 40 s load test")
	}
	data := t.TempDir()
	srv := startServer(t, data, "--rate-limit-create", "off", "--rate-limit-put", "off", "--rate-limit-claim", "off")
	rng := newRand(t)
	img := padJPEG(encodeJPEG(t, rng, 640, 480), 1_350_000, rngBytes(rng))

	d := 20 * time.Second
	if v, err := time.ParseDuration(os.Getenv("USERIMAGES_TEST_LOAD_DURATION")); err == nil {
		d = v // for a quick try; the test's claims are for 20 s
	}
	first := runFlows(srv, img, 64, d)
	first.check(t, "64 users", d)
	served := first.checkServedAlike(t, srv.base, 50, nil)
	second := runFlows(srv, img, 256, d)
	second.check(t, "256 users", d)
	second.checkServedAlike(t, srv.base, 50, served)

	time.Sleep(5 * time.Second) // idle readers close after 2 s
	// Only the database's handles: the perceptual hasher may still be
	// reading the load's pictures one at a time (its backlog).
	var handles []string
	for _, name := range openUnder(t, srv.cmd.Process.Pid, data) {
		if strings.HasPrefix(name, "userimages.db") {
			handles = append(handles, name)
		}
	}
	if len(handles) > 8 {
		t.Errorf("idle server after the load: %d handles of the database open (%q), want at most 8", len(handles), handles)
	}
}

// slowPutFrom starts a PUT of up from the loopback address ip over a raw
// connection, sends the headers and the first bytes of data, and reports
// whether the server answered at once (its status) or holds the upload
// (0: it is reading the body, which never comes).
func slowPutFrom(t *testing.T, ip string, up uploadResponse, data []byte) (status int, conn net.Conn) {
	t.Helper()
	u, err := url.Parse(up.Upload.URL)
	if err != nil {
		t.Fatal(err)
	}
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
	conn, err = d.Dial("tcp", u.Host)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	var req bytes.Buffer
	fmt.Fprintf(&req, "PUT %s HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\n", u.RequestURI(), u.Host, len(data))
	for k, v := range up.Upload.Headers {
		fmt.Fprintf(&req, "%s: %s\r\n", k, v)
	}
	req.WriteString("\r\n")
	req.Write(data[:100])
	if _, err := conn.Write(req.Bytes()); err != nil {
		t.Fatal(err)
	}
	conn.SetReadDeadline(time.Now().Add(time.Second))
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return 0, conn // held: the server waits for the body
		}
		t.Fatalf("slow PUT from %s: %v", ip, err)
	}
	res.Body.Close()
	return res.StatusCode, conn
}

// TestSlowClientCannotLockOut: one address trickling 64 PUT bodies holds at
// most its own share of the upload slots (the rest get 429 at once), while
// a user at another address uploads normally.
func TestSlowClientCannotLockOut(t *testing.T) {
	srv := startServer(t, t.TempDir(), "--rate-limit-create", "off", "--rate-limit-put", "off", "--rate-limit-claim", "off")
	rng := newRand(t)
	img := padJPEG(encodeJPEG(t, rng, 64, 64), 200_000, rngBytes(rng))
	slow := clientFrom("127.0.0.1")
	held, refused := 0, 0
	for range 64 {
		up, err := createUpload(slow, srv.base, "", "image/jpeg", len(img))
		if err != nil {
			t.Fatal(err)
		}
		switch status, _ := slowPutFrom(t, "127.0.0.1", up, img); status {
		case 0:
			held++
		case http.StatusTooManyRequests:
			refused++
		default:
			t.Fatalf("slow PUT: got status %d, want it held or 429", status)
		}
	}
	if held != 4 || refused != 60 {
		t.Errorf("64 slow PUTs from one address: %d held, %d refused with 429; want 4 and 60", held, refused)
	}

	// Meanwhile another user's uploads go through.
	other := clientFrom("127.0.0.2")
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Go(func() {
			up, err := createUpload(other, srv.base, "", "image/jpeg", len(img))
			if err == nil {
				err = putUpload(other, up, img)
			}
			if err == nil {
				_, err = claim(other, srv.base, "", up.Upload.Token, brandID)
			}
			errs[i] = err
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("upload %d from 127.0.0.2 while 127.0.0.1 trickles: %v", i, err)
		}
	}
}

// mountTmpfs mounts a tmpfs of size bytes at a new directory, for a real
// small file system; it needs root. It is unmounted when t ends, after the
// cleanups registered later (a server on it) have run.
func mountTmpfs(t *testing.T, size int64) string {
	t.Helper()
	dir := t.TempDir()
	out, err := exec.Command("mount", "-t", "tmpfs", "-o", fmt.Sprintf("size=%d,mode=0700", size), "tmpfs", dir).CombinedOutput()
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("mount a tmpfs for the full-disk test (CI runs as root): %v: %s", err, out)
		}
		t.Skipf("cannot mount a tmpfs (needs root): %v: %s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", dir, err, out)
		}
	})
	return dir
}

// fill writes a ballast file to dir until its file system is full.
func fill(t *testing.T, dir string) string {
	t.Helper()
	path := filepath.Join(dir, "ballast")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	chunk := make([]byte, 64<<10)
	for {
		if _, err := f.Write(chunk); err != nil {
			if errors.Is(err, syscall.ENOSPC) {
				return path
			}
			t.Fatal(err)
		}
	}
}

// readyStatus is the status of GET /readyz.
func readyStatus(t *testing.T, srv *server) int {
	t.Helper()
	res, _, err := do(http.DefaultClient, http.MethodGet, srv.base+"/readyz", "", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	return res.StatusCode
}

// wantStorageError fails t unless err is an answer with status and code,
// a Retry-After, and an errors body.
func wantStorageError(t *testing.T, what string, err error, statuses ...int) {
	t.Helper()
	var e *errStatus
	if !errors.As(err, &e) || !slices.Contains(statuses, e.status) || (errorCode(e.body) != "InsufficientStorage" && errorCode(e.body) != "StorageUnavailable") {
		t.Errorf("%s on a full disk: got %v, want %v InsufficientStorage (or StorageUnavailable) with an errors body", what, err, statuses)
	}
}

// TestFullDisk: on a real, full file system, uploads answer 507 (or 503)
// with an errors body, never 500 or a 4xx, /readyz answers 503, nothing
// confirmed is lost, and uploads work again when space returns.
func TestFullDisk(t *testing.T) {
	disk := mountTmpfs(t, 24<<20)
	data := filepath.Join(disk, "data")
	srv := startServer(t, data, "--min-free-space", "4000000")
	rng := newRand(t)
	img := padJPEG(encodeJPEG(t, rng, 64, 64), 1_000_000, rngBytes(rng))
	flow := func() (imageResponse, uploadResponse, error) {
		up, err := createUpload(http.DefaultClient, srv.base, "", "image/jpeg", len(img))
		if err != nil {
			return imageResponse{}, up, err
		}
		if err := putUpload(http.DefaultClient, up, img); err != nil {
			return imageResponse{}, up, err
		}
		got, err := claim(http.DefaultClient, srv.base, "", up.Upload.Token, brandID)
		return got, up, err
	}
	var confirmed []string
	for range 3 {
		got, _, err := flow()
		if err != nil {
			t.Fatalf("flow with room on the disk: %v", err)
		}
		confirmed = append(confirmed, got.UserImage.Path)
	}
	if got := readyStatus(t, srv); got != http.StatusOK {
		t.Fatalf("/readyz with room: got %d, want 200", got)
	}
	served, err := fetch(http.DefaultClient, srv.base, confirmed[0])
	if err != nil {
		t.Fatal(err)
	}
	// An upload received before the disk fills, claimed after.
	pending, err := createUpload(http.DefaultClient, srv.base, "", "image/jpeg", len(img))
	if err != nil {
		t.Fatal(err)
	}
	if err := putUpload(http.DefaultClient, pending, img); err != nil {
		t.Fatal(err)
	}

	ballast := fill(t, disk)
	if got := readyStatus(t, srv); got != http.StatusServiceUnavailable {
		t.Errorf("/readyz on a full disk: got %d, want 503", got)
	}
	for range 3 {
		up, err := createUpload(http.DefaultClient, srv.base, "", "image/jpeg", len(img))
		if err != nil {
			t.Fatalf("step 1 stores nothing, so it works on a full disk: %v", err)
		}
		wantStorageError(t, "PUT", putUpload(http.DefaultClient, up, img), http.StatusInsufficientStorage, http.StatusServiceUnavailable)
	}
	// The claim writes a row: committed (201) if SQLite still has room in
	// its WAL, else refused as full. Never anything else.
	if _, err := claim(http.DefaultClient, srv.base, "", pending.Upload.Token, brandID); err != nil {
		wantStorageError(t, "claim", err, http.StatusInsufficientStorage, http.StatusServiceUnavailable)
	}
	for _, path := range confirmed {
		if got, err := fetch(http.DefaultClient, srv.base, path); err != nil || !bytes.Equal(got, served) {
			t.Errorf("GET %s on a full disk: got %d bytes, %v; want the %d confirmed", path, len(got), err, len(served))
		}
	}

	if err := os.Remove(ballast); err != nil {
		t.Fatal(err)
	}
	if got := readyStatus(t, srv); got != http.StatusOK {
		t.Errorf("/readyz with room again: got %d, want 200", got)
	}
	if _, err := claim(http.DefaultClient, srv.base, "", pending.Upload.Token, brandID); err != nil {
		t.Errorf("claim of the pending upload with room again: %v", err)
	}
	got, _, err := flow()
	if err != nil {
		t.Fatalf("flow with room again: %v", err)
	}
	confirmed = append(confirmed, got.UserImage.Path)
	for _, path := range confirmed {
		if got, err := fetch(http.DefaultClient, srv.base, path); err != nil || !bytes.Equal(got, served) {
			t.Errorf("GET %s after the disk filled: got %d bytes, %v; want the %d confirmed", path, len(got), err, len(served))
		}
	}
}

// cutProxy relays TCP connections to an upstream address; while cutting,
// it ends every connection once it has relayed cutAfter bytes from
// upstream, as a store dying mid-response would.
type cutProxy struct {
	ln       net.Listener
	upstream string
	cutting  atomic.Bool
	cuts     atomic.Int64
}

const cutAfter = 32 << 10

func startCutProxy(t *testing.T, upstream string) *cutProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cutProxy{ln: ln, upstream: upstream}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() { p.relay(c) })
		}
	})
	return p
}

func (p *cutProxy) relay(c net.Conn) {
	defer c.Close()
	u, err := net.Dial("tcp", p.upstream)
	if err != nil {
		return
	}
	defer u.Close()
	go func() { io.Copy(u, c); u.Close() }()
	buf := make([]byte, 8<<10)
	relayed := 0
	for {
		n, err := u.Read(buf)
		if n > 0 {
			if p.cutting.Load() && relayed+n > cutAfter {
				c.Write(buf[:cutAfter-relayed])
				p.cuts.Add(1)
				return // both ends closed mid-response
			}
			if _, werr := c.Write(buf[:n]); werr != nil {
				return
			}
			relayed += n
		}
		if err != nil {
			return
		}
	}
}

// TestScaleOutClaimSurvivesCutStore: when the object store's GET of the
// staged bytes is cut short during a claim, the claim answers 503
// StorageUnavailable with Retry-After, never a 4xx that blames the image,
// and the same claim succeeds once the store answers again.
func TestScaleOutClaimSurvivesCutStore(t *testing.T) {
	s3 := s3test.Start(t)
	bucket := s3.NewBucket(t)
	endpoint, err := url.Parse(s3.Endpoint)
	if err != nil {
		t.Fatal(err)
	}
	proxy := startCutProxy(t, endpoint.Host)
	blob, _ := url.Parse(s3.URL(bucket))
	q := blob.Query()
	q.Set("endpoint", "http://"+proxy.ln.Addr().String())
	blob.RawQuery = q.Encode()
	srv := startServerEnv(t, t.TempDir(), s3.Env(), "--db", pgtest.URL(t), "--blob", blob.String())

	rng := newRand(t)
	for _, tt := range []struct {
		name string
		img  []byte
		ct   string
	}{
		{"jpeg", padJPEG(encodeJPEG(t, rng, 320, 240), 600_000, rngBytes(rng)), "image/jpeg"},
		{"png", encodePNG(t, rng, 400, 300), "image/png"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			up, err := createUpload(http.DefaultClient, srv.base, "", tt.ct, len(tt.img))
			if err != nil {
				t.Fatal(err)
			}
			if err := putUpload(http.DefaultClient, up, tt.img); err != nil {
				t.Fatalf("PUT through the healthy store: %v", err)
			}
			proxy.cutting.Store(true)
			cutsBefore := proxy.cuts.Load()
			res, body, err := do(http.DefaultClient, http.MethodPost, srv.base+"/api/v2/guide/user_images", "", jsonHeader,
				[]byte(`{"token":"`+up.Upload.Token+`","brand_id":"`+brandID+`"}`))
			proxy.cutting.Store(false)
			if err != nil {
				t.Fatal(err)
			}
			if proxy.cuts.Load() == cutsBefore {
				t.Fatalf("the store's answers were not cut (claim got %d %s)", res.StatusCode, body)
			}
			if res.StatusCode != http.StatusServiceUnavailable || errorCode(body) != "StorageUnavailable" || res.Header.Get("Retry-After") == "" {
				t.Errorf("claim while the store's GET is cut: got %d %s (Retry-After %q), want 503 StorageUnavailable with Retry-After",
					res.StatusCode, body, res.Header.Get("Retry-After"))
			}
			got, err := claim(http.DefaultClient, srv.base, "", up.Upload.Token, brandID)
			if err != nil {
				t.Fatalf("the same claim once the store heals: %v", err)
			}
			served, err := fetch(http.DefaultClient, srv.base, got.UserImage.Path)
			if err != nil || int64(len(served)) != got.UserImage.Size {
				t.Errorf("GET %s: got %d bytes, %v; want %d", got.UserImage.Path, len(served), err, got.UserImage.Size)
			}
		})
	}
}
