package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// percentile returns the nearest-rank p-th percentile (0 < p <= 100) of
// sorted, which must be in ascending order: the smallest value such that at
// least p% of the values are at most it. It returns 0 for no values.
func percentile(sorted []time.Duration, p float64) time.Duration {
	n := len(sorted)
	if n == 0 {
		return 0
	}
	if p <= 0 {
		return sorted[0]
	}
	// rank = ceil(p/100 * n), computed in integers where p has at most
	// three decimals, so that e.g. p50 of 10 values is the 5th exactly.
	milli := int64(p*1000 + 0.5)
	rank := int((milli*int64(n) + 100_000 - 1) / 100_000)
	rank = max(1, min(rank, n))
	return sorted[rank-1]
}

// latencies collects every latency of one scenario from many workers.
type latencies struct {
	mu  sync.Mutex
	all []time.Duration
}

// add appends one worker's latencies.
func (l *latencies) add(d []time.Duration) {
	l.mu.Lock()
	l.all = append(l.all, d...)
	l.mu.Unlock()
}

// summary is what a scenario reports about its latencies.
type summary struct {
	N    int
	Mean time.Duration
	P50  time.Duration
	P90  time.Duration
	P99  time.Duration
	Max  time.Duration
}

func summarize(d []time.Duration) summary {
	s := slices.Clone(d)
	slices.Sort(s)
	var sum time.Duration
	for _, x := range s {
		sum += x
	}
	out := summary{N: len(s), P50: percentile(s, 50), P90: percentile(s, 90), P99: percentile(s, 99)}
	if len(s) > 0 {
		out.Mean = sum / time.Duration(len(s))
		out.Max = s[len(s)-1]
	}
	return out
}

// memStatus is the memory of one process from /proc/PID/status, in bytes.
type memStatus struct {
	RSS int64 // VmRSS
	HWM int64 // VmHWM: the peak RSS the kernel has seen
}

// parseStatus reads VmRSS and VmHWM (given in kB) from the text of
// /proc/PID/status. A kernel thread or a zombie has neither: zero.
func parseStatus(b []byte) (memStatus, error) {
	var m memStatus
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		key, val, ok := strings.Cut(sc.Text(), ":")
		if !ok || (key != "VmRSS" && key != "VmHWM") {
			continue
		}
		f := strings.Fields(val)
		if len(f) != 2 || f[1] != "kB" {
			return m, fmt.Errorf("/proc status: %s: unexpected value %q", key, val)
		}
		kb, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return m, fmt.Errorf("/proc status: %s: %v", key, err)
		}
		if key == "VmRSS" {
			m.RSS = kb << 10
		} else {
			m.HWM = kb << 10
		}
	}
	return m, sc.Err()
}

// procTree returns pid and all its descendants, read from
// /proc/PID/task/*/children.
func procTree(pid int) []int {
	out := []int{pid}
	for i := 0; i < len(out); i++ {
		tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", out[i]))
		for _, t := range tasks {
			b, err := os.ReadFile(t)
			if err != nil {
				continue
			}
			for _, f := range strings.Fields(string(b)) {
				if c, err := strconv.Atoi(f); err == nil && !slices.Contains(out, c) {
					out = append(out, c)
				}
			}
		}
	}
	return out
}

// treeMem is the summed memory of pid and its descendants (nginx's master
// and workers); processes that vanish meanwhile are skipped.
func treeMem(pid int) (memStatus, error) {
	var sum memStatus
	var firstErr error
	for _, p := range procTree(pid) {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p))
		if err != nil {
			if p == pid && firstErr == nil {
				firstErr = err
			}
			continue
		}
		m, err := parseStatus(b)
		if err != nil {
			return sum, err
		}
		sum.RSS += m.RSS
		sum.HWM += m.HWM
	}
	return sum, firstErr
}

// rssSampler samples the RSS of a process tree every interval and keeps the
// peak.
type rssSampler struct {
	pid  int
	stop chan struct{}
	done chan struct{}

	mu      sync.Mutex
	peak    int64
	samples int
}

func startSampler(pid int, every time.Duration) *rssSampler {
	s := &rssSampler{pid: pid, stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			if m, err := treeMem(pid); err == nil {
				s.mu.Lock()
				s.peak = max(s.peak, m.RSS)
				s.samples++
				s.mu.Unlock()
			}
			select {
			case <-s.stop:
				return
			case <-t.C:
			}
		}
	}()
	return s
}

// finish stops sampling and returns the peak VmRSS seen and the number of
// samples.
func (s *rssSampler) finish() (int64, int) {
	close(s.stop)
	<-s.done
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.peak, s.samples
}
