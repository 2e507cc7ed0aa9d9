package core

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// hungStores answer Ready's questions: the metadata store hangs while
// hang is set, ignoring its context, as a call stuck in a system call
// would. Every other role is left nil: Ready must not call it.
type hungStores struct {
	UploadExpirer
	TokenReader
	ReferenceChecker
	SessionExpirer
	BlobStore
	hang    atomic.Bool
	release chan struct{}
	calls   atomic.Int32
}

func (h *hungStores) BrandExists(ctx context.Context, id string) (bool, error) {
	h.calls.Add(1)
	if h.hang.Load() {
		<-h.release
	}
	return false, nil
}

func (h *hungStores) List(ctx context.Context, prefix string, fn func(string, time.Time) error) error {
	return nil
}

// TestReadyDeadline: a store that does not answer makes Ready fail within
// Config.ReadyTimeout, even one that ignores its context; concurrent
// probes share the one check in flight; Ready succeeds again once the
// store answers.
func TestReadyDeadline(t *testing.T) {
	const timeout = 200 * time.Millisecond
	h := &hungStores{release: make(chan struct{})}
	u, err := NewUpkeep(Config{ReadyTimeout: timeout}, UpkeepDeps{Expirer: h, Tokens: h, References: h, Sessions: h, Brands: h, Blobs: h})
	if err != nil {
		t.Fatal(err)
	}
	if err := u.Ready(t.Context()); err != nil {
		t.Fatalf("Ready: got error %v, want nil", err)
	}
	h.hang.Store(true)
	h.calls.Store(0)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			start := time.Now()
			err := u.Ready(t.Context())
			if took := time.Since(start); err == nil || took > timeout+300*time.Millisecond {
				t.Errorf("Ready on a hung store: got %v after %s, want an error within %s", err, took, timeout)
			}
		})
	}
	wg.Wait()
	if n := h.calls.Load(); n != 1 {
		t.Errorf("8 probes at once of a hung store: got %d checks, want 1", n)
	}
	h.hang.Store(false)
	close(h.release)
	time.Sleep(10 * time.Millisecond) // the stuck check returns
	if err := u.Ready(t.Context()); err != nil {
		t.Errorf("Ready once the store answers: got error %v, want nil", err)
	}
}

// TestReadyUnanswered: after a request found a store not answering, Ready
// fails at once, and succeeds again once a check finds the stores
// answering.
func TestReadyUnanswered(t *testing.T) {
	h := &hungStores{release: make(chan struct{})}
	u, err := NewUpkeep(Config{ReadyTimeout: time.Second}, UpkeepDeps{Expirer: h, Tokens: h, References: h, Sessions: h, Brands: h, Blobs: h})
	if err != nil {
		t.Fatal(err)
	}
	h.hang.Store(true)
	u.Unanswered()
	start := time.Now()
	if err := u.Ready(t.Context()); err == nil || time.Since(start) > 100*time.Millisecond {
		t.Errorf("Ready after Unanswered: got %v after %s, want an error at once", err, time.Since(start))
	}
	h.hang.Store(false)
	close(h.release) // the check Ready started answers
	deadline := time.Now().Add(2 * time.Second)
	for u.Ready(t.Context()) != nil {
		if time.Now().After(deadline) {
			t.Fatal("Ready once the stores answer: still failing after 2 s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
