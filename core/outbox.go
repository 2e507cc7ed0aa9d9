package core

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"
)

// The outbox tells the world outside of changes made here (a cache in
// front to purge after a takedown; webhooks later): an OutboxEntry is
// written in the same transaction as the change it tells of, so that a
// change never goes untold and nothing is told of a change rolled back;
// Outbox, a worker in every serving instance, delivers the entries after
// the commit, retrying with exponential backoff until its deliverer
// succeeds. Entries live in the metadata store, so they survive restarts
// and kill -9, and an entry written by another process (the CLI) is
// delivered by the running server. With several instances each entry is
// leased to one of them at a time (OutboxStore.ClaimOutbox).

// Outbox topics: which deliverer an entry is for.
const (
	// TopicPurge entries ask every cache in front to drop the responses
	// tagged with the surrogate keys in Payload (space-separated).
	TopicPurge = "purge"
)

// OutboxEntry is one message of the outbox.
type OutboxEntry struct {
	ID        int64  // assigned by the store, increasing
	Topic     string // whose deliverer delivers it
	Payload   string // the topic's message
	CreatedAt time.Time
	// NextAt is when the entry is due; on Enqueue zero means CreatedAt.
	NextAt    time.Time
	Attempts  int    // failed deliveries so far
	LastError string // why the last delivery failed
	// Claim is the lease the entry is held under, set by ClaimOutbox.
	Claim string
}

// OutboxClaim asks ClaimOutbox for due entries.
type OutboxClaim struct {
	Topics []string  // only entries of these topics
	Claim  string    // the lease's name, unique per call
	Now    time.Time // entries with NextAt at or before it are due
	Until  time.Time // the lease ends then: another may claim the entry after
	Limit  int
}

// OutboxStore keeps the outbox for its worker.
//
// Contract (checked by storetest.TestOutbox), besides the metadata roles':
//   - Enqueue inserts the entries (their ID, Attempts, LastError and
//     Claim ignored) in one transaction.
//   - ClaimOutbox leases, in one transaction, up to c.Limit entries of
//     c.Topics that are due at c.Now and not leased (or whose lease ended
//     at or before c.Now), oldest first, under c.Claim until c.Until, and
//     returns them with Claim set. An entry is leased to one caller at a
//     time, whatever the number of callers and processes.
//   - CompleteOutbox deletes entry id, delivered, if it is leased under
//     claim; otherwise ErrNotFound, changing nothing.
//   - RetryOutbox records a failed delivery of entry id leased under claim
//     (Attempts plus one, LastError, due at next, lease ended); otherwise
//     ErrNotFound, changing nothing.
type OutboxStore interface {
	Enqueue(ctx context.Context, entries []OutboxEntry) error
	ClaimOutbox(ctx context.Context, c OutboxClaim) ([]OutboxEntry, error)
	CompleteOutbox(ctx context.Context, id int64, claim string) error
	RetryOutbox(ctx context.Context, id int64, claim string, next time.Time, lastError string) error
}

// OutboxReader shows the outbox to operators (console, metrics).
type OutboxReader interface {
	// PendingOutbox lists the entries of topic ("": of every topic) not
	// delivered yet, oldest first, at most limit.
	PendingOutbox(ctx context.Context, topic string, limit int) ([]OutboxEntry, error)
	// OutboxCounts counts the entries not delivered yet, by topic: all of
	// them, and those whose delivery failed at least once.
	OutboxCounts(ctx context.Context) ([]OutboxCount, error)
}

// OutboxCount is how many entries of Topic wait: Pending in all, Failed of
// them failed at least once.
type OutboxCount struct {
	Topic           string
	Pending, Failed int
}

// OutboxDeliverer delivers the entries of one topic.
//
// Contract: Deliver returns nil once the entry is delivered (for a purge:
// every target answered 2xx); any error means "not yet", and the entry is
// tried again later, so delivering twice must do no harm.
type OutboxDeliverer interface {
	Deliver(ctx context.Context, e OutboxEntry) error
}

// OutboxConfig tunes the worker. Zero fields take the defaults.
type OutboxConfig struct {
	// Poll is how often the store is asked for due entries: an entry
	// written by another process waits at most this long. Default 1s.
	Poll time.Duration
	// Lease is how long a claimed entry is held before another instance
	// may try it (the delivery timeout is half of it). Default 1 minute.
	Lease time.Duration
	// Backoff is the wait after the first failure, doubled after each
	// further one up to MaxBackoff. Defaults 1s and 10 minutes.
	Backoff, MaxBackoff time.Duration
	// Batch is how many entries one pass claims. Default 16.
	Batch int
	// Concurrency is how many of a pass's entries are delivered at once.
	// Default 1: one after the other.
	Concurrency int
}

func (c OutboxConfig) withDefaults() OutboxConfig {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&c.Poll, time.Second)
	def(&c.Lease, time.Minute)
	def(&c.Backoff, time.Second)
	def(&c.MaxBackoff, 10*time.Minute)
	if c.Batch <= 0 {
		c.Batch = 16
	}
	if c.Concurrency <= 0 {
		c.Concurrency = 1
	}
	return c
}

// Retry returns how long after its attempts-th failure (1 for the first)
// an entry is tried again: Backoff doubled per further failure, at most
// MaxBackoff.
func (c OutboxConfig) Retry(attempts int) time.Duration {
	c = c.withDefaults()
	d := c.Backoff
	for i := 1; i < attempts && d < c.MaxBackoff; i++ {
		d *= 2
	}
	return min(d, c.MaxBackoff)
}

// Outbox delivers the outbox's entries (the worker) and shows what waits.
// Create it with NewOutbox.
type Outbox struct {
	cfg        OutboxConfig
	store      OutboxStore
	reader     OutboxReader
	deliverers map[string]OutboxDeliverer
	topics     []string
	now        func() time.Time
	log        *slog.Logger
}

// OutboxDeps are the roles Outbox calls, and a deliverer per topic it
// delivers (entries of other topics are left for others).
type OutboxDeps struct {
	Store      OutboxStore
	Reader     OutboxReader
	Deliverers map[string]OutboxDeliverer
	Runtime
}

// NewOutbox returns the worker, or an error if a role is missing.
func NewOutbox(cfg OutboxConfig, d OutboxDeps) (*Outbox, error) {
	if d.Store == nil || d.Reader == nil {
		return nil, errors.New("new outbox: Store and Reader are required")
	}
	rt := d.Runtime.withDefaults()
	o := &Outbox{cfg: cfg.withDefaults(), store: d.Store, reader: d.Reader, deliverers: map[string]OutboxDeliverer{}, now: rt.Now, log: rt.Log}
	for topic, dl := range d.Deliverers {
		if dl == nil {
			return nil, fmt.Errorf("new outbox: topic %q has no deliverer", topic)
		}
		o.deliverers[topic] = dl
		o.topics = append(o.topics, topic)
	}
	return o, nil
}

// Run delivers due entries every Poll until ctx ends.
func (o *Outbox) Run(ctx context.Context) {
	if len(o.topics) == 0 {
		return
	}
	t := time.NewTicker(o.cfg.Poll)
	defer t.Stop()
	for {
		// A pass may have left more due (a full batch, or entries its
		// deliveries enqueued, as a fan-out does): go on at once.
		for {
			n, err := o.Work(ctx)
			if err != nil && ctx.Err() == nil {
				o.log.WarnContext(ctx, "outbox: claiming entries failed; trying again", "err", err)
			}
			if err != nil || n == 0 {
				break
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Work is one pass of the worker: it claims up to Batch due entries,
// delivers each (Concurrency at once), and records the outcome (delivered entries go; failed
// ones are due again after Retry). It returns how many it claimed.
func (o *Outbox) Work(ctx context.Context) (int, error) {
	if len(o.topics) == 0 {
		return 0, nil
	}
	claim, err := newClaim()
	if err != nil {
		return 0, err
	}
	now := o.now()
	entries, err := o.store.ClaimOutbox(ctx, OutboxClaim{Topics: o.topics, Claim: claim, Now: now, Until: now.Add(o.cfg.Lease), Limit: o.cfg.Batch})
	if err != nil {
		return 0, fmt.Errorf("claim outbox: %w", err)
	}
	if o.cfg.Concurrency == 1 {
		for _, e := range entries {
			o.deliver(ctx, e)
		}
		return len(entries), nil
	}
	slots := make(chan struct{}, o.cfg.Concurrency)
	var wg sync.WaitGroup
	for _, e := range entries {
		slots <- struct{}{}
		wg.Go(func() {
			defer func() { <-slots }()
			o.deliver(ctx, e)
		})
	}
	wg.Wait()
	return len(entries), nil
}

// deliver delivers one claimed entry and records the outcome.
func (o *Outbox) deliver(ctx context.Context, e OutboxEntry) {
	dctx, cancel := context.WithTimeout(ctx, o.cfg.Lease/2)
	derr := o.deliverers[e.Topic].Deliver(dctx, e)
	cancel()
	if ctx.Err() != nil {
		return // shutting down: the lease ends, and another pass tries it
	}
	if derr == nil {
		if err := o.store.CompleteOutbox(ctx, e.ID, e.Claim); err != nil {
			o.log.WarnContext(ctx, "outbox: recording a delivery failed; the entry is delivered again when its lease ends", "entry", e.ID, "err", err)
		}
		return
	}
	next := o.now().Add(o.cfg.Retry(e.Attempts + 1))
	if err := o.store.RetryOutbox(ctx, e.ID, e.Claim, next, truncate(derr.Error(), 500)); err != nil {
		o.log.WarnContext(ctx, "outbox: recording a failed delivery failed; the entry is tried again when its lease ends", "entry", e.ID, "err", err)
		return
	}
	o.log.WarnContext(ctx, "outbox: delivery failed; retrying", "topic", e.Topic, "entry", e.ID, "attempts", e.Attempts+1, "next", next, "err", derr)
}

// Pending lists the entries of topic ("": of every topic) not delivered
// yet, oldest first, at most limit (default 100).
func (o *Outbox) Pending(ctx context.Context, topic string, limit int) ([]OutboxEntry, error) {
	if limit <= 0 {
		limit = 100
	}
	es, err := o.reader.PendingOutbox(ctx, topic, limit)
	return es, Classify(err)
}

// Counts counts the entries not delivered yet, by topic.
func (o *Outbox) Counts(ctx context.Context) ([]OutboxCount, error) {
	cs, err := o.reader.OutboxCounts(ctx)
	return cs, Classify(err)
}

// newClaim returns a fresh lease name.
func newClaim() (string, error) {
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}

// truncate cuts s to at most n bytes.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "")
}
