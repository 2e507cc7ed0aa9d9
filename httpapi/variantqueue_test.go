package httpapi

import (
	"context"
	"errors"
	"testing"
	"time"

	"userimages/internal/config"
)

// fakeWaits is the clock of a clientQueue under test: each wait started
// is announced on started, and fires when the test sends on fire.
type fakeWaits struct {
	started chan struct{}
	fire    chan time.Time
	stopped chan struct{}
}

func newFakeWaits(q *clientQueue) *fakeWaits {
	f := &fakeWaits{started: make(chan struct{}, 64), fire: make(chan time.Time), stopped: make(chan struct{}, 64)}
	q.after = func(time.Duration) (<-chan time.Time, func()) {
		f.started <- struct{}{}
		return f.fire, func() { f.stopped <- struct{}{} }
	}
	return f
}

// TestClientQueue: a client's requests within its slots are admitted at
// once; past them they wait their turn, and are refused when its queue is
// full, when their wait is over, or when they go away.
func TestClientQueue(t *testing.T) {
	type step int
	const (
		none    step = iota // the request is not expected to wait
		release             // a slot of the client is released
		timeout             // the request's wait ends
		cancel              // the request's context ends
	)
	tests := []struct {
		name       string
		max, queue int
		before     int // requests of the client admitted or waiting before
		then       step
		want       error
		wantQueued int
	}{
		{"within the limit", 2, 4, 1, none, nil, 0},
		{"queued, then served when a slot frees", 2, 4, 2, release, nil, 0},
		{"queued behind others, then served", 1, 4, 3, release, nil, 2},
		{"queue full", 2, 2, 4, none, errQueueFull, 2},
		{"no queue", 2, 0, 2, none, errQueueFull, 0},
		{"wait over", 2, 4, 2, timeout, errQueueWait, 0},
		{"gone away", 2, 4, 2, cancel, context.Canceled, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := newClientQueue(tt.max, tt.queue, time.Second)
			waits := newFakeWaits(q)
			// The requests before: the first max hold a slot, the others wait.
			held := make(chan error, tt.before)
			for i := range tt.before {
				go func() { _, err := q.acquire(context.Background(), "a"); held <- err }()
				if i >= tt.max {
					<-waits.started
				} else if err := <-held; err != nil {
					t.Fatalf("request %d before: %v", i, err)
				}
			}
			ctx, stop := context.WithCancel(context.Background())
			defer stop()
			type result struct {
				queued int
				err    error
			}
			done := make(chan result, 1)
			go func() { queued, err := q.acquire(ctx, "a"); done <- result{queued, err} }()
			if tt.then != none {
				<-waits.started
			}
			switch tt.then {
			case release:
				// Each release serves the first in line: the one asked
				// last is served after all those before it.
				for range tt.before - tt.max + 1 {
					q.release("a")
				}
			case timeout:
				waits.fire <- time.Time{}
			case cancel:
				stop()
			}
			got := <-done
			if !errors.Is(got.err, tt.want) || got.queued != tt.wantQueued {
				t.Fatalf("acquire: got queued %d, %v, want %d, %v", got.queued, got.err, tt.wantQueued, tt.want)
			}
			// Another client is never held up by this one.
			if _, err := q.acquire(context.Background(), "b"); err != nil {
				t.Errorf("another client: %v", err)
			}
			// The requests still waiting before give up (no goroutine is
			// left behind).
			if tt.then != release {
				for range max(0, tt.before-tt.max) {
					waits.fire <- time.Time{}
				}
			}
		})
	}
}

// TestClientQueueHandsOn: a slot freed goes to the first request waiting,
// a request that went away gives up its place, and a client holding and
// awaiting nothing is forgotten.
func TestClientQueueHandsOn(t *testing.T) {
	q := newClientQueue(1, 4, time.Second)
	waits := newFakeWaits(q)
	if _, err := q.acquire(context.Background(), "a"); err != nil {
		t.Fatal(err)
	}
	order := make(chan int, 3)
	ctxs := make([]context.CancelFunc, 3)
	for i := range 3 {
		ctx, cancel := context.WithCancel(context.Background())
		ctxs[i] = cancel
		go func() {
			if _, err := q.acquire(ctx, "a"); err == nil {
				order <- i
			} else {
				order <- -1
			}
		}()
		<-waits.started
	}
	ctxs[1]() // the second in line goes away
	if got := <-order; got != -1 {
		t.Fatalf("cancelled: got %d admitted, want it refused", got)
	}
	for want := range []int{0, 2} {
		q.release("a")
		if got := <-order; got != []int{0, 2}[want] {
			t.Fatalf("release %d: got request %d served, want %d", want, got, []int{0, 2}[want])
		}
	}
	q.release("a")
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.clients) != 0 {
		t.Errorf("after all released: %d clients remembered, want 0", len(q.clients))
	}
	for _, c := range ctxs {
		c()
	}
}

// TestVariantQueueConfig: the queue's bounds default and are checked.
func TestVariantQueueConfig(t *testing.T) {
	c, err := Config{}.withDefaults()
	if err != nil || c.MaxQueuedVariantsPerClient != DefaultMaxQueuedVariantsPerClient || c.VariantQueueWait != DefaultVariantQueueWait {
		t.Fatalf("defaults: got %d, %s, %v; want %d, %s", c.MaxQueuedVariantsPerClient, c.VariantQueueWait, err, DefaultMaxQueuedVariantsPerClient, DefaultVariantQueueWait)
	}
	for _, tt := range []struct {
		c    Config
		want ConfigField
	}{
		{Config{MaxQueuedVariantsPerClient: -1}, ConfigMaxQueuedVariantsPerClient},
		{Config{VariantQueueWait: -time.Second}, ConfigVariantQueueWait},
		{Config{VariantQueueWait: 2 * time.Minute}, ConfigVariantQueueWait},
	} {
		var fe *config.FieldError
		if err := tt.c.Validate(); !errors.As(err, &fe) || fe.Field != tt.want {
			t.Errorf("Validate(%+v): got %v, want an error naming %s", tt.c, err, tt.want)
		}
	}
}
