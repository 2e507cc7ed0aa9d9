package main

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"time"
)

// The server's log goes through a logBuffer, so that the request log (a
// line per request) does not cost a write(2) per request: its lines are
// written out every logFlushEvery, when logBufferSize bytes are held,
// with any other record (those are rare, and a reader waits for some,
// such as "listening"), with a request that failed (Warn and above), and
// when the server stops, after its last request (serveCmd.Run). A crash
// (or SIGKILL) loses at most the request lines of the last logFlushEvery.
const (
	logFlushEvery = 100 * time.Millisecond
	logBufferSize = 64 << 10
)

// logBuffer holds whole log lines until it is flushed to w. Each Write is
// one record (slog handlers write a record in one call). It is safe for
// concurrent use.
type logBuffer struct {
	mu  sync.Mutex
	w   io.Writer
	buf []byte
}

func newLogBuffer(w io.Writer) *logBuffer {
	return &logBuffer{w: w, buf: make([]byte, 0, logBufferSize)}
}

// Write holds p, flushing first if it would not fit.
func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.buf)+len(p) > logBufferSize {
		if err := b.flushLocked(); err != nil {
			return 0, err
		}
	}
	if len(p) > logBufferSize {
		return b.w.Write(p)
	}
	b.buf = append(b.buf, p...)
	return len(p), nil
}

// Flush writes out what is held.
func (b *logBuffer) Flush() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.flushLocked()
}

func (b *logBuffer) flushLocked() error {
	if len(b.buf) == 0 {
		return nil
	}
	_, err := b.w.Write(b.buf)
	b.buf = b.buf[:0] // a failed write is not retried: the log must not grow without bound
	return err
}

// run flushes every every until ctx ends, then once more.
func (b *logBuffer) run(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			b.Flush()
			return
		case <-t.C:
			b.Flush()
		}
	}
}

// flushingHandler is h, writing into b, with b flushed after each record
// at level at least min.
type flushingHandler struct {
	slog.Handler
	b   *logBuffer
	min slog.Level
}

func (f flushingHandler) Handle(ctx context.Context, r slog.Record) error {
	err := f.Handler.Handle(ctx, r)
	if r.Level >= f.min {
		if ferr := f.b.Flush(); err == nil {
			err = ferr
		}
	}
	return err
}

func (f flushingHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return flushingHandler{f.Handler.WithAttrs(as), f.b, f.min}
}

func (f flushingHandler) WithGroup(name string) slog.Handler {
	return flushingHandler{f.Handler.WithGroup(name), f.b, f.min}
}

// bufferedLogs are the server's loggers on one buffer of w: log flushes
// with every record, requests (the request log) only with those at Warn
// and above, and otherwise every logFlushEvery once run is started.
type bufferedLogs struct {
	buf           *logBuffer
	log, requests *slog.Logger
}

func newBufferedLogs(w io.Writer) bufferedLogs {
	b := newLogBuffer(w)
	h := slog.NewJSONHandler(b, logOptions())
	return bufferedLogs{buf: b,
		log:      slog.New(flushingHandler{h, b, slog.LevelDebug}),
		requests: slog.New(flushingHandler{h, b, slog.LevelWarn})}
}
