package httpapi

import (
	"container/list"
	"context"
	"errors"
	"sync"
	"time"
)

// Errors of clientQueue.acquire besides ctx's.
var (
	// errQueueFull: the client has as many requests waiting as allowed.
	errQueueFull = errors.New("client queue full")
	// errQueueWait: the request waited its longest without a slot.
	errQueueWait = errors.New("client queue wait over")
)

// clientQueue lets each client hold up to max slots at once, and up to
// queue more requests wait, first come first served, for one of its
// slots to free, each for at most wait. It is what spaces out the cold
// variants of one client (a browser loading a page of new pictures
// asks for them all at once): they are made max at a time, none
// refused, while one client asking for far more is refused past its
// queue. Safe for concurrent use.
type clientQueue struct {
	max, queue int
	wait       time.Duration
	// after is the clock of the waits: time.After's contract, with a stop
	// to call when the wait ends before it fires.
	after func(time.Duration) (<-chan time.Time, func())

	mu      sync.Mutex
	clients map[string]*clientLine // only clients holding or awaiting a slot
}

// clientLine is one client's slots held and requests waiting.
type clientLine struct {
	held    int
	waiting list.List // of chan struct{}, closed when handed a slot
}

func newClientQueue(max, queue int, wait time.Duration) *clientQueue {
	return &clientQueue{max: max, queue: queue, wait: wait, clients: map[string]*clientLine{},
		after: func(d time.Duration) (<-chan time.Time, func()) {
			t := time.NewTimer(d)
			return t.C, func() { t.Stop() }
		}}
}

// acquire takes one of client's slots, waiting for one when all are
// held. It returns, taking no slot, errQueueFull when queue requests of
// client are waiting already, errQueueWait after waiting wait, or
// ctx.Err() when ctx ends first. queued is how many of client's
// requests were waiting when it asked (its place in line).
func (q *clientQueue) acquire(ctx context.Context, client string) (queued int, err error) {
	q.mu.Lock()
	c := q.clients[client]
	if c == nil {
		c = &clientLine{}
		q.clients[client] = c
	}
	if c.held < q.max {
		c.held++
		q.mu.Unlock()
		return 0, nil
	}
	queued = c.waiting.Len()
	if queued >= q.queue {
		q.mu.Unlock()
		return queued, errQueueFull
	}
	ready := make(chan struct{})
	e := c.waiting.PushBack(ready)
	q.mu.Unlock()

	timeout, stop := q.after(q.wait)
	defer stop()
	select {
	case <-ready:
		return queued, nil
	case <-ctx.Done():
		err = ctx.Err()
	case <-timeout:
		err = errQueueWait
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	select {
	case <-ready: // handed a slot as the wait ended
		if err == errQueueWait {
			return queued, nil // it is served after all
		}
		q.releaseLocked(client) // gone: the slot goes on to the next
	default:
		c.waiting.Remove(e)
		q.forgetLocked(client, c)
	}
	return queued, err
}

// release gives back a slot acquire took: to the first request of
// client waiting, if any.
func (q *clientQueue) release(client string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.releaseLocked(client)
}

func (q *clientQueue) releaseLocked(client string) {
	c := q.clients[client]
	if first := c.waiting.Front(); first != nil {
		close(c.waiting.Remove(first).(chan struct{})) // the slot changes hands
		return
	}
	c.held--
	q.forgetLocked(client, c)
}

// forgetLocked drops c when it holds and awaits nothing, so that the map
// holds only clients being served.
func (q *clientQueue) forgetLocked(client string, c *clientLine) {
	if c.held == 0 && c.waiting.Len() == 0 {
		delete(q.clients, client)
	}
}
