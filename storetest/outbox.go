package storetest

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"userimages/core"
)

// Reopener opens a fresh, empty store, and returns it with a function
// that closes it and opens the same database again (as a restart does).
type Reopener = func(t *testing.T) (s MetadataStore, reopen func() MetadataStore)

// TestOutbox checks takedowns of every copy (core.TakedownStore) and the
// outbox (core.OutboxStore, core.OutboxReader): entries written with the
// takedown, each claimed by one worker at a time however many run,
// retried on core.OutboxConfig's schedule by an injected clock, and none
// lost when the database is closed and opened again; and webhooks
// (core.WebhookStore, and core.Webhooks, the outbox's subscriber that
// fans events out to endpoints and delivers them).
func TestOutbox(t *testing.T, open Reopener) {
	t.Run("TakeDownCopies", func(t *testing.T) { testTakeDownCopies(t, open) })
	t.Run("ClaimOnce", func(t *testing.T) { testOutboxClaimOnce(t, open) })
	t.Run("Lease", func(t *testing.T) { testOutboxLease(t, open) })
	t.Run("RetrySchedule", func(t *testing.T) { testOutboxRetrySchedule(t, open) })
	t.Run("Reopen", func(t *testing.T) { testOutboxReopen(t, open) })
	t.Run("WebhookStore", func(t *testing.T) { testWebhookStore(t, open) })
	t.Run("WebhookDelivery", func(t *testing.T) { testWebhookDelivery(t, open) })
}

// purgeOf is a Takedown.Outbox naming the images taken down.
func purgeOf(taken []core.Image) []core.OutboxEntry {
	var p string
	for _, img := range taken {
		p += img.ID + " "
	}
	return []core.OutboxEntry{{Topic: core.TopicPurge, Payload: p}}
}

func testTakeDownCopies(t *testing.T, open Reopener) {
	s, _ := open(t)
	ctx := t.Context()
	var imgs []core.Image
	for n := range 5 {
		up := newUpload(n, 0)
		img := newImage(n, up)
		if n < 4 {
			img.SHA256 = sha(100) // four copies of one picture, and another
		}
		mustPublish(t, s, up, img)
		imgs = append(imgs, img)
	}
	copies, err := s.ListImages(ctx, core.ImageFilter{SHA256: sha(100), Limit: 10})
	noErr(t, "ListImages(SHA256)", err)
	if len(copies) != 4 {
		t.Fatalf("ListImages(SHA256): got %d images, want 4", len(copies))
	}

	_, err = s.TakeDown(ctx, core.Takedown{ImageID: imageID(99), By: "test", At: base, Outbox: purgeOf})
	wantErr(t, "TakeDown(missing)", err, core.ErrNotFound)
	pending, err := s.PendingOutbox(ctx, "", 10)
	noErr(t, "PendingOutbox", err)
	if len(pending) != 0 {
		t.Errorf("PendingOutbox after a refused takedown: got %d entries, want 0", len(pending))
	}

	// One alone: its copies stay.
	ds, err := s.TakeDown(ctx, core.Takedown{ImageID: imgs[0].ID, By: "user:1", Reason: "spam", At: base, Outbox: purgeOf})
	noErr(t, "TakeDown(one)", err)
	if len(ds) != 1 || ds[0].Image.ID != imgs[0].ID || ds[0].Blocked {
		t.Errorf("TakeDown(one): got %+v, want the one image, unblocked", ds)
	}
	for _, img := range imgs[1:] {
		if _, err := s.Image(ctx, img.ID); err != nil {
			t.Errorf("Image(%s) after another copy's takedown: got %v, want it published", img.ID, err)
		}
	}

	// Blocking, from a copy: every other copy goes, each recorded.
	at := base.Add(time.Minute)
	ds, err = s.TakeDown(ctx, core.Takedown{ImageID: imgs[2].ID, AllCopies: true, By: "cli:root", Reason: "legal", Block: true, At: at, Outbox: purgeOf})
	noErr(t, "TakeDown(all copies)", err)
	var got []string
	for _, d := range ds {
		got = append(got, d.Image.ID)
		if d.By != "cli:root" || d.Reason != "legal" || !d.Blocked {
			t.Errorf("TakeDown(all copies): deletion %+v, want by cli:root for legal, blocked", d)
		}
		checkTime(t, "deletion At", d.At, at)
	}
	if want := []string{imgs[2].ID, imgs[1].ID, imgs[3].ID}; !slices.Equal(got, want) {
		t.Errorf("TakeDown(all copies): got %v, want %v (the one asked for first)", got, want)
	}
	for _, img := range imgs[:4] {
		wantErr(t, "Image(copy) after", func() error { _, err := s.Image(ctx, img.ID); return err }(), core.ErrNotFound)
		d, err := s.Deletion(ctx, img.ID)
		noErr(t, "Deletion(copy)", err)
		checkImage(t, "Deletion(copy).Image", d.Image, img)
	}
	if _, err := s.Image(ctx, imgs[4].ID); err != nil {
		t.Errorf("Image(other bytes): got %v, want it published", err)
	}
	if ok, err := s.IsBlocked(ctx, sha(100)); err != nil || !ok {
		t.Errorf("IsBlocked: got %v, %v, want true", ok, err)
	}
	checkDeletionsOf(t, s, sha(100), imgs[:4])
	checkPurgesQueued(t, s, []string{imgs[0].ID + " ", imgs[2].ID + " " + imgs[1].ID + " " + imgs[3].ID + " "}, at)
}

// checkDeletionsOf checks that DeletionsOf(sha) lists the takedowns of
// imgs, newest first.
func checkDeletionsOf(t *testing.T, s MetadataStore, sha string, imgs []core.Image) {
	t.Helper()
	of, err := s.DeletionsOf(t.Context(), sha, 10)
	noErr(t, "DeletionsOf", err)
	var got, want []string
	for _, d := range of {
		got = append(got, d.Image.ID)
	}
	for _, img := range imgs {
		want = append(want, img.ID)
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) || len(of) > 1 && of[len(of)-1].At.After(of[0].At) {
		t.Errorf("DeletionsOf: got %v, want %v, newest first", got, want)
	}
}

// checkPurgesQueued checks that the outbox holds fresh purges of payloads,
// the last created at.
func checkPurgesQueued(t *testing.T, s MetadataStore, want []string, at time.Time) {
	t.Helper()
	pending, err := s.PendingOutbox(t.Context(), "", 10)
	noErr(t, "PendingOutbox", err)
	var payloads []string
	for _, e := range pending {
		payloads = append(payloads, e.Payload)
		if e.Topic != core.TopicPurge || e.Attempts != 0 || e.Claim != "" {
			t.Errorf("PendingOutbox: entry %+v, want a fresh purge", e)
		}
	}
	if !slices.Equal(payloads, want) {
		t.Fatalf("PendingOutbox payloads: got %q, want %q", payloads, want)
	}
	checkTime(t, "entry CreatedAt", pending[len(pending)-1].CreatedAt, at)
	checkTime(t, "entry NextAt", pending[len(pending)-1].NextAt, at)
}

// recorder is an OutboxDeliverer that records what it delivers, failing
// the first fail deliveries of each entry.
type recorder struct {
	mu        sync.Mutex
	fail      int
	attempts  map[string]int
	delivered map[string]int
}

func newRecorder(fail int) *recorder {
	return &recorder{fail: fail, attempts: map[string]int{}, delivered: map[string]int{}}
}

func (r *recorder) Deliver(_ context.Context, e core.OutboxEntry) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.attempts[e.Payload]++
	if r.attempts[e.Payload] <= r.fail {
		return fmt.Errorf("refused (attempt %d)", r.attempts[e.Payload])
	}
	r.delivered[e.Payload]++
	return nil
}

// clock is an injected clock.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

func newOutbox(t *testing.T, s MetadataStore, d core.OutboxDeliverer, now func() time.Time, batch int) *core.Outbox {
	t.Helper()
	o, err := core.NewOutbox(core.OutboxConfig{Batch: batch}, core.OutboxDeps{Store: s, Reader: s,
		Deliverers: map[string]core.OutboxDeliverer{core.TopicPurge: d}, Runtime: core.Runtime{Now: now, Log: slog.New(slog.DiscardHandler)}})
	noErr(t, "NewOutbox", err)
	return o
}

// worker is a core.Outbox or core.Webhooks.
type worker interface {
	Work(ctx context.Context) (int, error)
}

// workAll runs the workers at once, each until a pass claims nothing.
func workAll(t *testing.T, ws []worker) {
	t.Helper()
	var wg sync.WaitGroup
	for _, w := range ws {
		wg.Go(func() {
			for {
				n, err := w.Work(t.Context())
				if err != nil {
					t.Errorf("Work: %v", err)
					return
				}
				if n == 0 {
					return
				}
			}
		})
	}
	wg.Wait()
}

func enqueueN(t *testing.T, s MetadataStore, n int, at time.Time) {
	t.Helper()
	var es []core.OutboxEntry
	for i := range n {
		es = append(es, core.OutboxEntry{Topic: core.TopicPurge, Payload: fmt.Sprintf("img-%d", i), CreatedAt: at})
	}
	noErr(t, "Enqueue", s.Enqueue(t.Context(), es))
}

func testOutboxClaimOnce(t *testing.T, open Reopener) {
	s, _ := open(t)
	const entries, workers = 120, 6
	enqueueN(t, s, entries, base)
	// Entries of a topic no worker delivers are left alone.
	noErr(t, "Enqueue(other topic)", s.Enqueue(t.Context(), []core.OutboxEntry{{Topic: "webhook", Payload: "x", CreatedAt: base}}))
	rec := newRecorder(0)
	now := func() time.Time { return base.Add(time.Second) }
	var ws []worker
	for range workers {
		ws = append(ws, newOutbox(t, s, rec, now, 5))
	}
	workAll(t, ws)
	if len(rec.delivered) != entries {
		t.Errorf("delivered %d entries, want %d", len(rec.delivered), entries)
	}
	for p, n := range rec.attempts {
		if n != 1 {
			t.Errorf("entry %s: delivered %d times, want once", p, n)
		}
	}
	pending, err := s.PendingOutbox(t.Context(), "", 10)
	noErr(t, "PendingOutbox", err)
	if len(pending) != 1 || pending[0].Topic != "webhook" {
		t.Errorf("PendingOutbox after: got %+v, want the webhook entry alone", pending)
	}
	for topic, want := range map[string]int{core.TopicPurge: 0, "webhook": 1} {
		if got, err := s.PendingOutbox(t.Context(), topic, 10); err != nil || len(got) != want {
			t.Errorf("PendingOutbox(%s) after: got %d, %v, want %d", topic, len(got), err, want)
		}
	}
}

func testOutboxLease(t *testing.T, open Reopener) {
	s, _ := open(t)
	ctx := t.Context()
	enqueueN(t, s, 1, base)
	claim := func(name string, at time.Time) []core.OutboxEntry {
		es, err := s.ClaimOutbox(ctx, core.OutboxClaim{Topics: []string{core.TopicPurge}, Claim: name, Now: at, Until: at.Add(time.Minute), Limit: 10})
		noErr(t, "ClaimOutbox("+name+")", err)
		return es
	}
	if es := claim("early", base.Add(-time.Second)); len(es) != 0 {
		t.Errorf("ClaimOutbox before it is due: got %d, want 0", len(es))
	}
	es := claim("a", base)
	if len(es) != 1 || es[0].Claim != "a" {
		t.Fatalf("ClaimOutbox(a): got %+v, want the entry under a", es)
	}
	if es := claim("b", base.Add(59*time.Second)); len(es) != 0 {
		t.Errorf("ClaimOutbox during a's lease: got %d, want 0", len(es))
	}
	if es := claim("c", base.Add(time.Minute)); len(es) != 1 {
		t.Fatalf("ClaimOutbox after a's lease: got %d, want 1", len(es))
	}
	wantErr(t, "CompleteOutbox(a, lease lost)", s.CompleteOutbox(ctx, es[0].ID, "a"), core.ErrNotFound)
	wantErr(t, "RetryOutbox(a, lease lost)", s.RetryOutbox(ctx, es[0].ID, "a", base, "x"), core.ErrNotFound)
	noErr(t, "CompleteOutbox(c)", s.CompleteOutbox(ctx, es[0].ID, "c"))
	wantErr(t, "CompleteOutbox(c) again", s.CompleteOutbox(ctx, es[0].ID, "c"), core.ErrNotFound)
}

func testOutboxRetrySchedule(t *testing.T, open Reopener) {
	s, _ := open(t)
	ctx := t.Context()
	enqueueN(t, s, 1, base)
	clk := &clock{now: base}
	rec := newRecorder(3)
	o := newOutbox(t, s, rec, clk.Now, 16)
	cfg := core.OutboxConfig{}
	at := base
	for attempt := 1; attempt <= 3; attempt++ {
		clk.Set(at)
		if n, err := o.Work(ctx); err != nil || n != 1 {
			t.Fatalf("attempt %d at +%v: Work got %d, %v, want 1, nil", attempt, at.Sub(base), n, err)
		}
		next := at.Add(cfg.Retry(attempt))
		pending, err := s.PendingOutbox(ctx, "", 10)
		noErr(t, "PendingOutbox", err)
		if len(pending) != 1 || pending[0].Attempts != attempt || pending[0].LastError == "" || pending[0].Claim != "" {
			t.Fatalf("after attempt %d: got %+v, want %d attempts, an error, no lease", attempt, pending, attempt)
		}
		checkTime(t, fmt.Sprintf("NextAt after attempt %d", attempt), pending[0].NextAt, next)
		counts, err := s.OutboxCounts(ctx)
		noErr(t, "OutboxCounts", err)
		if want := []core.OutboxCount{{Topic: core.TopicPurge, Pending: 1, Failed: 1}}; !slices.Equal(counts, want) {
			t.Errorf("OutboxCounts: got %+v, want %+v", counts, want)
		}
		clk.Set(next.Add(-time.Millisecond))
		if n, err := o.Work(ctx); err != nil || n != 0 {
			t.Errorf("just before it is due again: Work got %d, %v, want 0, nil", n, err)
		}
		at = next
	}
	if got := []time.Duration{cfg.Retry(1), cfg.Retry(2), cfg.Retry(3), cfg.Retry(30)}; !slices.Equal(got, []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 10 * time.Minute}) {
		t.Errorf("Retry(1, 2, 3, 30): got %v, want 1s 2s 4s 10m", got)
	}
	clk.Set(at)
	if n, err := o.Work(ctx); err != nil || n != 1 {
		t.Fatalf("fourth attempt: Work got %d, %v, want 1, nil", n, err)
	}
	if rec.delivered["img-0"] != 1 {
		t.Errorf("delivered %d times, want once after three refusals", rec.delivered["img-0"])
	}
	pending, err := s.PendingOutbox(ctx, "", 10)
	noErr(t, "PendingOutbox", err)
	counts, err := s.OutboxCounts(ctx)
	noErr(t, "OutboxCounts", err)
	if len(pending) != 0 || len(counts) != 0 {
		t.Errorf("after delivery: got %+v and %+v, want nothing pending", pending, counts)
	}
}

func testOutboxReopen(t *testing.T, open Reopener) {
	s, reopen := open(t)
	ctx := t.Context()
	up := newUpload(1, 0)
	img := newImage(1, up)
	mustPublish(t, s, up, img)
	_, err := s.TakeDown(ctx, core.Takedown{ImageID: img.ID, By: "cli:root", At: base, Outbox: purgeOf})
	noErr(t, "TakeDown", err)
	enqueueN(t, s, 2, base)
	// One is leased when the process dies, one failed once.
	es, err := s.ClaimOutbox(ctx, core.OutboxClaim{Topics: []string{core.TopicPurge}, Claim: "dead", Now: base, Until: base.Add(time.Minute), Limit: 2})
	noErr(t, "ClaimOutbox", err)
	if len(es) != 2 {
		t.Fatalf("ClaimOutbox: got %d, want 2", len(es))
	}
	noErr(t, "RetryOutbox", s.RetryOutbox(ctx, es[1].ID, "dead", base.Add(time.Second), "refused"))

	s = reopen()
	pending, err := s.PendingOutbox(ctx, "", 10)
	noErr(t, "PendingOutbox after reopening", err)
	if len(pending) != 3 || pending[0].Payload != img.ID+" " || pending[1].Claim != "" || pending[1].Attempts != 1 || pending[1].LastError != "refused" {
		t.Fatalf("PendingOutbox after reopening: got %+v, want the takedown's entry leased, the next failed once, and a third", pending)
	}
	rec := newRecorder(0)
	o := newOutbox(t, s, rec, func() time.Time { return base.Add(time.Minute) }, 16)
	if n, err := o.Work(ctx); err != nil || n != 3 {
		t.Fatalf("Work after the lease ended: got %d, %v, want 3, nil", n, err)
	}
	if len(rec.delivered) != 3 {
		t.Errorf("delivered %v, want all three", rec.delivered)
	}
}
