package storetest

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"userimages/core"
)

// testWebhookStore checks core.WebhookStore: endpoints added, listed,
// disabled after failing long enough and enabled, removed; deliveries
// fanned out once with their outbox entries, their tries recorded, made
// due again, and pruned.
func testWebhookStore(t *testing.T, open Reopener) {
	s, _ := open(t)
	ctx := t.Context()
	a := core.WebhookEndpoint{ID: "ep_a", URL: "http://127.0.0.1:1/a", Secret: "whsec_AAAA", Events: []string{core.EventImageClaimed, core.EventReportCreated}, CreatedAt: base}
	b := core.WebhookEndpoint{ID: "ep_b", URL: "http://127.0.0.1:1/b", Secret: "whsec_BBBB", CreatedAt: base.Add(time.Second)}
	noErr(t, "AddWebhook(a)", s.AddWebhook(ctx, a))
	noErr(t, "AddWebhook(b)", s.AddWebhook(ctx, b))
	wantErr(t, "AddWebhook(a) again", s.AddWebhook(ctx, a), core.ErrExist)
	eps, err := s.Webhooks(ctx)
	noErr(t, "Webhooks", err)
	if len(eps) != 2 || eps[0].ID != "ep_a" || !slices.Equal(eps[0].Events, a.Events) || eps[1].ID != "ep_b" || len(eps[1].Events) != 0 ||
		eps[0].Secret != a.Secret || eps[1].URL != b.URL || !eps[0].FailingSince.IsZero() || !eps[0].DisabledAt.IsZero() {
		t.Fatalf("Webhooks: got %+v, want a then b as added", eps)
	}
	checkTime(t, "CreatedAt", eps[1].CreatedAt, b.CreatedAt)
	_, err = s.Webhook(ctx, "ep_none")
	wantErr(t, "Webhook(missing)", err, core.ErrNotFound)

	fan := func(ep, msg string, at time.Time) core.WebhookFanOut {
		return core.WebhookFanOut{Delivery: core.WebhookDelivery{EndpointID: ep, MessageID: msg, Type: core.EventImageClaimed, Body: `{"type":"image.claimed"}`, CreatedAt: at},
			Entry: core.OutboxEntry{Topic: core.TopicWebhook, Payload: ep + " " + msg, CreatedAt: at}}
	}
	noErr(t, "FanOut", s.FanOut(ctx, []core.WebhookFanOut{fan("ep_a", "msg_1", base), fan("ep_b", "msg_1", base), fan("ep_a", "msg_2", base.Add(time.Minute))}))
	// Fanning out again (a lease lost) records and enqueues nothing more.
	noErr(t, "FanOut again", s.FanOut(ctx, []core.WebhookFanOut{fan("ep_a", "msg_1", base)}))
	pending, err := s.PendingOutbox(ctx, "", 10)
	noErr(t, "PendingOutbox", err)
	if len(pending) != 3 || pending[0].Payload != "ep_a msg_1" || pending[0].Topic != core.TopicWebhook {
		t.Fatalf("PendingOutbox after FanOut: got %+v, want 3 webhook entries", pending)
	}
	ds, err := s.Deliveries(ctx, "ep_a", 10)
	noErr(t, "Deliveries", err)
	if len(ds) != 2 || ds[0].MessageID != "msg_2" || ds[1].MessageID != "msg_1" || ds[1].State != core.DeliveryPending || ds[1].Attempts != 0 || ds[1].Body == "" {
		t.Fatalf("Deliveries(a): got %+v, want msg_2 then msg_1, pending", ds)
	}
	checkTime(t, "NextAt of a pending delivery", ds[1].NextAt, base)

	testWebhookTries(t, s, a, b)

	// Retry now: a failed delivery is enqueued again and pending.
	d, err := s.Delivery(ctx, "ep_a", "msg_1")
	noErr(t, "Delivery", err)
	if d.State != core.DeliveryFailed || !d.NextAt.IsZero() {
		t.Fatalf("Delivery after giving up: got %+v, want failed, no next try", d)
	}
	now := base.Add(time.Hour)
	noErr(t, "RetryDelivery(failed)", s.RetryDelivery(ctx, "ep_a", "msg_1", fan("ep_a", "msg_1", now).Entry))
	d, err = s.Delivery(ctx, "ep_a", "msg_1")
	noErr(t, "Delivery", err)
	if d.State != core.DeliveryPending {
		t.Errorf("Delivery after RetryDelivery: got %+v, want pending", d)
	}
	checkTime(t, "NextAt after RetryDelivery(failed)", d.NextAt, now)
	// A pending one: its entry is due at once, no second entry.
	noErr(t, "RetryDelivery(pending)", s.RetryDelivery(ctx, "ep_a", "msg_2", fan("ep_a", "msg_2", now).Entry))
	d, err = s.Delivery(ctx, "ep_a", "msg_2")
	noErr(t, "Delivery", err)
	checkTime(t, "NextAt after RetryDelivery(pending)", d.NextAt, now)
	pending, err = s.PendingOutbox(ctx, "", 10)
	noErr(t, "PendingOutbox", err)
	if len(pending) != 4 {
		t.Errorf("PendingOutbox after retries: got %d entries, want 4 (the three fanned out, never completed here, and msg_1 to a again)", len(pending))
	}
	wantErr(t, "RetryDelivery(missing)", s.RetryDelivery(ctx, "ep_a", "msg_9", fan("ep_a", "msg_9", now).Entry), core.ErrNotFound)

	// Pruning: only deliveries done before the time go.
	n, err := s.PruneDeliveries(ctx, base.Add(48*time.Hour))
	noErr(t, "PruneDeliveries", err)
	if n != 1 {
		t.Errorf("PruneDeliveries: got %d, want 1 (the delivered one to b)", n)
	}
	noErr(t, "RemoveWebhook(a)", s.RemoveWebhook(ctx, "ep_a"))
	wantErr(t, "RemoveWebhook(a) again", s.RemoveWebhook(ctx, "ep_a"), core.ErrNotFound)
	_, err = s.Delivery(ctx, "ep_a", "msg_2")
	wantErr(t, "Delivery of a removed endpoint", err, core.ErrNotFound)
	wantErr(t, "EnableWebhook(removed)", s.EnableWebhook(ctx, "ep_a"), core.ErrNotFound)
}

// testWebhookTries records tries of the deliveries fanned out to a and b:
// b succeeds; a fails past DisableBefore and is disabled, then enabled.
func testWebhookTries(t *testing.T, s MetadataStore, a, b core.WebhookEndpoint) {
	ctx := t.Context()
	try := func(ep, msg string, ok bool, state string, at time.Time) core.WebhookEndpoint {
		t.Helper()
		status := "503 Service Unavailable"
		if ok {
			status = "200 OK"
		}
		got, err := s.RecordDelivery(ctx, core.WebhookAttempt{EndpointID: ep, MessageID: msg, OK: ok, State: state, Status: status, At: at, DisableBefore: at.Add(-24 * time.Hour)})
		noErr(t, "RecordDelivery", err)
		return got
	}
	got := try("ep_b", "msg_1", true, core.DeliveryDelivered, base.Add(time.Second))
	if !got.FailingSince.IsZero() || !got.DisabledAt.IsZero() {
		t.Errorf("RecordDelivery(ok): endpoint %+v, want neither failing nor disabled", got)
	}
	got = try("ep_a", "msg_1", false, core.DeliveryPending, base.Add(time.Second))
	checkTime(t, "FailingSince after a failure", got.FailingSince, base.Add(time.Second))
	got = try("ep_a", "msg_1", false, core.DeliveryPending, base.Add(23*time.Hour))
	checkTime(t, "FailingSince after two", got.FailingSince, base.Add(time.Second))
	if !got.DisabledAt.IsZero() {
		t.Errorf("RecordDelivery: disabled at %v after failing 23h, want enabled (disabled after 24h)", got.DisabledAt)
	}
	at := base.Add(25 * time.Hour)
	got = try("ep_a", "msg_1", false, core.DeliveryFailed, at)
	checkTime(t, "DisabledAt after failing 25h", got.DisabledAt, at)
	d, err := s.Delivery(ctx, "ep_a", "msg_1")
	noErr(t, "Delivery", err)
	if d.Attempts != 3 || d.LastStatus != "503 Service Unavailable" || d.State != core.DeliveryFailed {
		t.Errorf("Delivery after three tries: got %+v, want 3 attempts, failed, the last status", d)
	}
	checkTime(t, "UpdatedAt", d.UpdatedAt, at)
	noErr(t, "EnableWebhook", s.EnableWebhook(ctx, "ep_a"))
	got, err = s.Webhook(ctx, "ep_a")
	noErr(t, "Webhook", err)
	if !got.DisabledAt.IsZero() || !got.FailingSince.IsZero() {
		t.Errorf("after EnableWebhook: got %+v, want enabled, not failing", got)
	}
	_, err = s.RecordDelivery(ctx, core.WebhookAttempt{EndpointID: "ep_a", MessageID: "msg_9", State: core.DeliveryFailed, At: at})
	wantErr(t, "RecordDelivery(missing)", err, core.ErrNotFound)
}

// hookRecorder is a core.WebhookSender that records what it is sent,
// answering 503 to the first fail tries of each message.
type hookRecorder struct {
	mu    sync.Mutex
	fail  int
	tries map[string]int // by URL and webhook-id
}

func (h *hookRecorder) Send(_ context.Context, url, _, id string, _ time.Time, _ []byte) (int, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.tries[url+" "+id]++
	if h.tries[url+" "+id] <= h.fail {
		return http.StatusServiceUnavailable, nil
	}
	return http.StatusOK, nil
}

// testWebhookDelivery runs core.Webhooks, the outbox's webhook
// subscriber, on the store: events fanned out and delivered by four
// workers at once reach each endpoint once, each after two refusals
// retried on the injected clock's schedule, and nothing is left.
func testWebhookDelivery(t *testing.T, open Reopener) {
	s, _ := open(t)
	ctx := t.Context()
	clk := &clock{now: base}
	rec := &hookRecorder{fail: 2, tries: map[string]int{}}
	var workers []worker
	for range 4 {
		w, err := core.NewWebhooks(core.Config{}, core.WebhooksDeps{Store: s, Outbox: s, Reader: s, Sender: rec,
			Runtime: core.Runtime{Now: clk.Now, Log: slog.New(slog.DiscardHandler)}})
		noErr(t, "NewWebhooks", err)
		workers = append(workers, w)
	}
	for _, url := range []string{"http://a.test/", "http://b.test/"} {
		_, err := workers[0].(*core.Webhooks).Add(ctx, url, nil)
		noErr(t, "Add", err)
	}
	const events = 30
	var es []core.OutboxEntry
	for i := range events {
		es = append(es, core.OutboxEntry{Topic: core.TopicEvent, Payload: fmt.Sprintf(`msg_%d {"type":"image.claimed"}`, i), CreatedAt: base})
	}
	noErr(t, "Enqueue", s.Enqueue(ctx, es))
	for _, step := range []time.Duration{0, 5 * time.Second, 10 * time.Second} { // the refusals' backoff
		clk.Set(clk.Now().Add(step))
		workAll(t, workers)
	}
	if len(rec.tries) != 2*events {
		t.Errorf("got %d (endpoint, message) pairs tried, want %d", len(rec.tries), 2*events)
	}
	for k, n := range rec.tries {
		if n != 3 {
			t.Errorf("%s: tried %d times, want 3 (two refusals, one success)", k, n)
		}
	}
	pending, err := s.PendingOutbox(ctx, "", 10)
	noErr(t, "PendingOutbox", err)
	if len(pending) != 0 {
		t.Errorf("PendingOutbox after: got %+v, want nothing", pending)
	}
}
