package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// result is one measured run: one operation against one target.
type result struct {
	Scenario    string  `json:"scenario"`
	Target      string  `json:"target"`
	Op          string  `json:"op"`
	Concurrency int     `json:"concurrency"`
	Seconds     float64 `json:"seconds"`
	Requests    int     `json:"requests"`
	Errors      int     `json:"errors"`
	FirstError  string  `json:"first_error,omitempty"`
	ReqPerSec   float64 `json:"req_per_sec"`
	MBPerSec    float64 `json:"mb_per_sec"` // 10^6 bytes of request or response bodies per second
	MeanMs      float64 `json:"mean_ms"`
	P50Ms       float64 `json:"p50_ms"`
	P90Ms       float64 `json:"p90_ms"`
	P99Ms       float64 `json:"p99_ms"`
	MaxMs       float64 `json:"max_ms"`
	IdleRSSMiB  float64 `json:"idle_rss_mib"`
	PeakRSSMiB  float64 `json:"peak_rss_mib"`
	HWMMiB      float64 `json:"vmhwm_mib"` // VmHWM at the end: the kernel's peak since start
	RSSSamples  int     `json:"rss_samples"`
	LoadAvg     float64 `json:"loadavg_1m"`      // of the whole machine, when the run started
	Round       int     `json:"round,omitempty"` // of an alternating comparison (harness.alternate)
	// CPUUsPerReq is the CPU time (user + system) of the target's process
	// tree during the run per request, in µs: what the machine's other
	// load disturbs much less than req/s.
	CPUUsPerReq float64 `json:"cpu_us_per_req,omitempty"`
}

// op performs one request of worker w; it returns the body bytes that
// count towards MB/s. errPoolEmpty ends the worker without counting.
type op func(ctx context.Context, w int) (int64, error)

// drive runs c workers calling fn until d has passed (or every worker's
// pool is empty), timing each call, while sampling the RSS of pid.
func drive(ctx context.Context, scenario, target, opName string, pid, c int, d time.Duration, fn op) result {
	r := result{Scenario: scenario, Target: target, Op: opName, Concurrency: c, LoadAvg: loadAvg()}
	if m, err := treeMem(pid); err == nil {
		r.IdleRSSMiB = mib(m.RSS)
	}
	sampler := startSampler(pid, 10*time.Millisecond)
	cpu0 := treeCPU(pid)
	var lat latencies
	var bytesN, errs atomic.Int64
	var firstErr atomic.Value
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	start := time.Now()
	var wg sync.WaitGroup
	for w := range c {
		wg.Add(1)
		go func() {
			defer wg.Done()
			mine := make([]time.Duration, 0, 1024)
			for ctx.Err() == nil {
				t0 := time.Now()
				n, err := fn(ctx, w)
				el := time.Since(t0)
				if errors.Is(err, errPoolEmpty) {
					break
				}
				if err != nil {
					if ctx.Err() != nil {
						break // cut short by the deadline: not an error of the target
					}
					errs.Add(1)
					firstErr.CompareAndSwap(nil, err.Error())
					continue
				}
				mine = append(mine, el)
				bytesN.Add(n)
			}
			lat.add(mine)
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	peak, samples := sampler.finish()
	if m, err := treeMem(pid); err == nil {
		r.HWMMiB = mib(m.HWM)
		peak = max(peak, m.RSS)
	}
	s := summarize(lat.all)
	r.Seconds = elapsed.Seconds()
	r.Requests = s.N
	r.Errors = int(errs.Load())
	if e, ok := firstErr.Load().(string); ok {
		r.FirstError = e
	}
	r.ReqPerSec = float64(s.N) / elapsed.Seconds()
	r.MBPerSec = float64(bytesN.Load()) / 1e6 / elapsed.Seconds()
	r.MeanMs, r.P50Ms, r.P90Ms, r.P99Ms, r.MaxMs = ms(s.Mean), ms(s.P50), ms(s.P90), ms(s.P99), ms(s.Max)
	r.PeakRSSMiB = mib(peak)
	if s.N > 0 && pid > 0 {
		r.CPUUsPerReq = float64(treeCPU(pid)-cpu0) / 1e3 / float64(s.N)
	}
	r.RSSSamples = samples
	return r
}

// loadAvg is the machine's 1-minute load average: other work on the machine
// during a run shows there.
func loadAvg() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 0
	}
	v, _ := strconv.ParseFloat(f[0], 64)
	return v
}

func mib(b int64) float64        { return float64(b) / (1 << 20) }
func ms(d time.Duration) float64 { return float64(d) / 1e6 }

// newClient is the load client: keep-alive connections enough for c
// workers, no compression, no proxy, large buffers for 2 MB bodies.
func newClient(c int) *http.Client {
	return &http.Client{
		Transport: &http.Transport{
			Proxy:               nil,
			MaxIdleConns:        0,
			MaxIdleConnsPerHost: c + 16,
			IdleConnTimeout:     90 * time.Second,
			DisableCompression:  true,
			WriteBufferSize:     64 << 10,
			ReadBufferSize:      64 << 10,
		},
		Timeout: 2 * time.Minute,
	}
}

// statusError is an answer with an unexpected status.
type statusError struct {
	what   string
	status int
	body   []byte
}

func (e *statusError) Error() string {
	return fmt.Sprintf("%s: status %d: %s", e.what, e.status, bytes.TrimSpace(tail(e.body, 300)))
}

// do sends one request and reads the whole answer into buf (reused), which
// it returns; the status must be want.
func do(ctx context.Context, c *http.Client, method, url string, header map[string]string, body []byte, want int, buf *bytes.Buffer) (*bytes.Buffer, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return buf, err
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	res, err := c.Do(req)
	if err != nil {
		return buf, err
	}
	defer res.Body.Close()
	if buf == nil {
		buf = new(bytes.Buffer)
	}
	buf.Reset()
	if _, err := buf.ReadFrom(res.Body); err != nil {
		return buf, fmt.Errorf("%s %s: read body: %w", method, req.URL.Path, err)
	}
	if res.StatusCode != want {
		return buf, &statusError{method + " " + req.URL.Path, res.StatusCode, buf.Bytes()}
	}
	return buf, nil
}
