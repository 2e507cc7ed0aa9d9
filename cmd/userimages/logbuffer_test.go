package main

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"
	"time"
)

// lockedBuffer is a bytes.Buffer safe for the flusher's goroutine.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestBufferedLogs: request lines wait for a flush; any other record, a
// failed request's line and the end of run write out everything held, in
// order.
func TestBufferedLogs(t *testing.T) {
	var out lockedBuffer
	logs := newBufferedLogs(&out)
	logs.requests.Info("request", "n", 1)
	logs.requests.Info("request", "n", 2)
	if got := out.String(); got != "" {
		t.Fatalf("request lines written before a flush: %q", got)
	}
	logs.requests.Error("request", "n", 3)
	if got := strings.Count(out.String(), "\n"); got != 3 {
		t.Fatalf("after a failed request's line: %d lines written, want 3:\n%s", got, out.String())
	}
	logs.requests.Info("request", "n", 4)
	logs.log.Info("listening")
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 5 || !strings.Contains(lines[3], `"n":4`) || !strings.Contains(lines[4], "listening") {
		t.Fatalf("after another record: want the 5 lines in order, got:\n%s", out.String())
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { logs.buf.run(ctx, time.Hour); close(done) }()
	logs.requests.Info("request", "n", 5)
	cancel()
	<-done
	if !strings.Contains(out.String(), `"n":5`) {
		t.Fatalf("the last request line was not written when run ended:\n%s", out.String())
	}
}

// TestLogBufferLargeRecord: a record larger than the buffer is written
// whole, after what was held.
func TestLogBufferLargeRecord(t *testing.T) {
	var out lockedBuffer
	b := newLogBuffer(&out)
	b.Write([]byte("a\n"))
	big := strings.Repeat("x", logBufferSize+1) + "\n"
	b.Write([]byte(big))
	if got := out.String(); got != "a\n"+big {
		t.Fatalf("got %d bytes, want %d", len(got), len(big)+2)
	}
}
