package core_test

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/userimages/userimages/client/api"

	"userimages/core"
	"userimages/internal/testkit/testclock"
	"userimages/sqlite"
)

// fakeSender records webhooks and answers with answer (a status, or an
// error when 0).
type fakeSender struct {
	mu       sync.Mutex
	answer   func(url, id string) (int, error)
	sent     []sentHook // in order
	inFlight map[string]int
	maxIn    map[string]int
	block    chan struct{} // when set, each Send waits for it
}

type sentHook struct{ url, id, body string }

func (f *fakeSender) Send(ctx context.Context, url, secret, id string, ts time.Time, body []byte) (int, error) {
	f.mu.Lock()
	f.sent = append(f.sent, sentHook{url, id, string(body)})
	f.inFlight[url]++
	f.maxIn[url] = max(f.maxIn[url], f.inFlight[url])
	f.mu.Unlock()
	defer func() { f.mu.Lock(); f.inFlight[url]--; f.mu.Unlock() }()
	if f.block != nil {
		select {
		case <-f.block:
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
	return f.answer(url, id)
}

func (f *fakeSender) sentTo(url string) []sentHook {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []sentHook
	for _, s := range f.sent {
		if s.url == url {
			out = append(out, s)
		}
	}
	return out
}

func newFakeSender(answer func(url, id string) (int, error)) *fakeSender {
	return &fakeSender{answer: answer, inFlight: map[string]int{}, maxIn: map[string]int{}}
}

// webhookRig is Webhooks on a real SQLite store with a fake sender and a
// test clock.
type webhookRig struct {
	db     *sqlite.DB
	w      *core.Webhooks
	clock  *testclock.Clock
	sender *fakeSender
	log    *syncBuilder
}

// syncBuilder is a strings.Builder safe for concurrent use.
type syncBuilder struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuilder) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuilder) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func newWebhookRig(t *testing.T, cfg core.Config, sender *fakeSender) *webhookRig {
	t.Helper()
	db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	r := &webhookRig{db: db, clock: testclock.New(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)), sender: sender, log: &syncBuilder{}}
	r.w, err = core.NewWebhooks(cfg, core.WebhooksDeps{Store: db, Outbox: db, Reader: db, Sender: sender,
		Runtime: core.Runtime{Now: r.clock.Now, Log: slog.New(slog.NewTextHandler(r.log, nil))}})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// add registers an endpoint at url for events.
func (r *webhookRig) add(t *testing.T, url string, events ...string) core.WebhookEndpoint {
	t.Helper()
	ep, err := r.w.Add(t.Context(), url, events)
	if err != nil {
		t.Fatal(err)
	}
	return ep
}

// event enqueues an event of type typ, as a change's transaction does,
// and returns its webhook-id.
func (r *webhookRig) event(t *testing.T, typ string) string {
	t.Helper()
	msg := fmt.Sprintf("msg_%d", r.clock.Now().UnixNano())
	body := fmt.Sprintf(`{"type":%q,"timestamp":%q,"data":{}}`, typ, r.clock.Now().Format(time.RFC3339Nano))
	if err := r.db.Enqueue(t.Context(), []core.OutboxEntry{{Topic: core.TopicEvent, Payload: msg + " " + body, CreatedAt: r.clock.Now()}}); err != nil {
		t.Fatal(err)
	}
	return msg
}

// work runs passes of the worker until one claims nothing.
func (r *webhookRig) work(t *testing.T) {
	t.Helper()
	for range 100 {
		n, err := r.w.Work(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			return
		}
	}
	t.Fatal("the worker never ran out of due entries")
}

func (r *webhookRig) delivery(t *testing.T, ep, msg string) core.WebhookDelivery {
	t.Helper()
	d, err := r.db.Delivery(t.Context(), ep, msg)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestWebhookFanOut: each event goes to the enabled endpoints that want
// its type, once each, with its webhook-id and body.
func TestWebhookFanOut(t *testing.T) {
	r := newWebhookRig(t, core.Config{}, newFakeSender(func(string, string) (int, error) { return 204, nil }))
	claims := r.add(t, "http://a.test/claims", core.EventImageClaimed)
	all := r.add(t, "http://b.test/all")
	reports := r.add(t, "http://c.test/reports", core.EventReportCreated, core.EventImageTakenDown)

	claimed := r.event(t, core.EventImageClaimed)
	r.clock.Advance(time.Millisecond)
	reported := r.event(t, core.EventReportCreated)
	r.work(t)
	check := func(ep core.WebhookEndpoint, want ...string) {
		t.Helper()
		var got []string
		for _, s := range r.sender.sentTo(ep.URL) {
			got = append(got, s.id)
		}
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("%s got %v, want %v", ep.URL, got, want)
		}
	}
	check(claims, claimed)
	check(all, claimed, reported)
	check(reports, reported)
	if d := r.delivery(t, all.ID, claimed); d.State != core.DeliveryDelivered || d.Attempts != 1 || d.LastStatus != "204 No Content" {
		t.Errorf("delivery to b: got %+v, want delivered at the first try", d)
	}
	if s := r.sender.sentTo(all.URL); !strings.Contains(s[0].body+s[1].body, `"type":"image.claimed"`) {
		t.Errorf("bodies sent: %q, want the event's", s)
	}
	pending, err := r.db.PendingOutbox(t.Context(), "", 10)
	if err != nil || len(pending) != 0 {
		t.Errorf("outbox after: got %+v, %v; want empty", pending, err)
	}
}

// TestWebhookBackoff: a receiver that keeps failing is tried with the
// same webhook-id after 5 s, 10 s, 20 s, … at most 6 h apart, for three
// days, then the delivery is given up; one that refuses twice gets it at
// the third try.
func TestWebhookBackoff(t *testing.T) {
	r := newWebhookRig(t, core.Config{}, newFakeSender(func(url, id string) (int, error) {
		if strings.Contains(url, "down") {
			return 503, nil
		}
		return 200, nil
	}))
	down := r.add(t, "http://down.test/")
	start := r.clock.Now()
	msg := r.event(t, core.EventImageClaimed)
	r.work(t)
	var gaps []time.Duration
	last := r.clock.Now()
	for i := 0; ; i++ {
		d := r.delivery(t, down.ID, msg)
		if d.State != core.DeliveryPending {
			if d.State != core.DeliveryFailed || d.LastStatus != "503 Service Unavailable" {
				t.Fatalf("delivery: got %+v, want failed with the last answer", d)
			}
			break
		}
		if i > 100 {
			t.Fatal("never given up")
		}
		// Just before it is due, nothing is sent.
		r.clock.Advance(d.NextAt.Sub(r.clock.Now()) - time.Millisecond)
		n := len(r.sender.sentTo(down.URL))
		r.work(t)
		if len(r.sender.sentTo(down.URL)) != n {
			t.Fatalf("try %d sent before it was due", i+2)
		}
		r.clock.Advance(time.Millisecond)
		r.work(t)
		gaps = append(gaps, r.clock.Now().Sub(last))
		last = r.clock.Now()
	}
	sent := r.sender.sentTo(down.URL)
	for _, s := range sent {
		if s.id != msg {
			t.Errorf("try with webhook-id %s, want %s on every try", s.id, msg)
		}
	}
	want := []time.Duration{5 * time.Second, 10 * time.Second, 20 * time.Second, 40 * time.Second}
	if !slices.Equal(gaps[:4], want) || slices.Max(gaps) != 6*time.Hour {
		t.Errorf("gaps between tries: got %v, want %v … at most 6h", gaps, want)
	}
	span := last.Sub(start)
	if span < 72*time.Hour || span > 78*time.Hour {
		t.Errorf("given up %v after the event, want between 72h and 78h", span)
	}
	t.Logf("%d tries over %v, gaps %v", len(sent), span, gaps)
	ep, err := r.db.Webhook(t.Context(), down.ID)
	if err != nil || !ep.DisabledAt.IsZero() || !ep.FailingSince.Equal(start) {
		t.Errorf("endpoint after 3 days of failure: got %+v, %v; want failing since %v, not disabled (after 5 days)", ep, err, start)
	}
}

// TestWebhookRetryTwice: a receiver refusing twice gets the event at the
// third try, with the same webhook-id.
func TestWebhookRetryTwice(t *testing.T) {
	var mu sync.Mutex
	refused := 0
	r := newWebhookRig(t, core.Config{}, newFakeSender(func(string, string) (int, error) {
		mu.Lock()
		defer mu.Unlock()
		if refused < 2 {
			refused++
			return 500, nil
		}
		return 200, nil
	}))
	ep := r.add(t, "http://flaky.test/")
	msg := r.event(t, core.EventImageTakenDown)
	r.work(t)
	for range 2 {
		r.clock.Advance(time.Minute)
		r.work(t)
	}
	sent := r.sender.sentTo(ep.URL)
	if len(sent) != 3 || sent[0].id != msg || sent[1].id != msg || sent[2].id != msg || sent[0].body != sent[2].body {
		t.Errorf("sent %+v, want the event three times with webhook-id %s", sent, msg)
	}
	if d := r.delivery(t, ep.ID, msg); d.State != core.DeliveryDelivered || d.Attempts != 3 {
		t.Errorf("delivery: got %+v, want delivered at the third try", d)
	}
	if e, _ := r.db.Webhook(t.Context(), ep.ID); !e.FailingSince.IsZero() {
		t.Errorf("endpoint: failing since %v after a success, want not failing", e.FailingSince)
	}
}

// TestWebhookDisable: an endpoint failing for WebhookDisableAfter is
// disabled with a warning; its deliveries then fail without a request
// until it is enabled; events go to it again after.
func TestWebhookDisable(t *testing.T) {
	r := newWebhookRig(t, core.Config{}, newFakeSender(func(string, string) (int, error) { return 0, fmt.Errorf("connection refused") }))
	ep := r.add(t, "http://gone.test/")
	var msgs []string
	for day := 0; day < 6; day++ { // a new event each day, tried every 6 h
		msgs = append(msgs, r.event(t, core.EventImageClaimed))
		for range 4 {
			r.work(t)
			r.clock.Advance(6 * time.Hour)
		}
	}
	e, err := r.db.Webhook(t.Context(), ep.ID)
	if err != nil || e.DisabledAt.IsZero() {
		t.Fatalf("endpoint after 6 days of failures: got %+v, %v; want disabled", e, err)
	}
	if got := e.DisabledAt.Sub(e.FailingSince); got < 5*24*time.Hour || got > 5*24*time.Hour+6*time.Hour {
		t.Errorf("disabled %v after it began failing, want 5 days (tries are 6 h apart)", got)
	}
	if !strings.Contains(r.log.String(), "endpoint disabled") {
		t.Errorf("log %q: want a warning that the endpoint is disabled", r.log.String())
	}
	n := len(r.sender.sentTo(ep.URL))
	r.clock.Advance(7 * time.Hour)
	unsent := r.event(t, core.EventImageClaimed) // not for a disabled endpoint
	r.work(t)
	if _, err := r.db.Delivery(t.Context(), ep.ID, unsent); err == nil {
		t.Errorf("an event while disabled was fanned out to it, want not")
	}
	if len(r.sender.sentTo(ep.URL)) != n {
		t.Errorf("requests to a disabled endpoint: %d more, want none", len(r.sender.sentTo(ep.URL))-n)
	}
	last := r.delivery(t, ep.ID, msgs[5])
	if last.State != core.DeliveryFailed || !strings.Contains(last.LastStatus, "disabled") {
		t.Errorf("delivery to the disabled endpoint: got %+v, want failed, saying so", last)
	}
	// Enabled again, it gets new events, and "retry now" sends an old one.
	r.sender.answer = func(string, string) (int, error) { return 200, nil }
	if err := r.w.Enable(t.Context(), ep.ID); err != nil {
		t.Fatal(err)
	}
	msg := r.event(t, core.EventImageClaimed)
	if err := r.w.RetryNow(t.Context(), ep.ID, msgs[5]); err != nil {
		t.Fatal(err)
	}
	r.work(t)
	for _, m := range []string{msg, msgs[5]} {
		if d := r.delivery(t, ep.ID, m); d.State != core.DeliveryDelivered {
			t.Errorf("delivery %s after enabling: got %+v, want delivered", m, d)
		}
	}
}

// TestWebhookConcurrency: one endpoint gets at most WebhookConcurrency
// requests at once however many deliveries are due; a receiver that does
// not answer is given up on after WebhookTimeout.
func TestWebhookConcurrency(t *testing.T) {
	sender := newFakeSender(func(string, string) (int, error) { return 200, nil })
	sender.block = make(chan struct{})
	r := newWebhookRig(t, core.Config{WebhookConcurrency: 2, WebhookTimeout: 200 * time.Millisecond}, sender)
	slow := r.add(t, "http://slow.test/")
	for range 10 {
		r.event(t, core.EventImageClaimed)
		r.clock.Advance(time.Millisecond)
	}
	r.work(t) // fans out; the deliveries time out (nobody unblocks them)
	if got := sender.maxIn[slow.URL]; got != 2 {
		t.Errorf("requests at once to one endpoint: got %d, want 2", got)
	}
	ds, err := r.w.Deliveries(t.Context(), slow.ID, 20)
	if err != nil || len(ds) != 10 {
		t.Fatalf("Deliveries: got %d, %v; want 10", len(ds), err)
	}
	for _, d := range ds {
		if d.State != core.DeliveryPending || d.LastStatus != "no answer within 200ms" || d.NextAt.IsZero() {
			t.Errorf("delivery %+v: want pending after no answer within the timeout, with a next try", d)
		}
	}
}

// TestWebhookDeliveriesOfUnknownEndpoint: listing the deliveries of an
// id no endpoint has is NotFound, as removing it is; a known endpoint
// with none lists none.
func TestWebhookDeliveriesOfUnknownEndpoint(t *testing.T) {
	r := newWebhookRig(t, core.Config{}, newFakeSender(func(string, string) (int, error) { return 204, nil }))
	ep := r.add(t, "http://a.test/claims", core.EventImageClaimed)
	if ds, err := r.w.Deliveries(t.Context(), ep.ID, 10); err != nil || len(ds) != 0 {
		t.Errorf("deliveries of a new endpoint: got %v, %v; want none, nil", ds, err)
	}
	_, err := r.w.Deliveries(t.Context(), "ep_nope", 10)
	if code := core.ErrorCode(err); code != api.CodeNotFound {
		t.Errorf("deliveries of ep_nope: got %v (code %q), want code %q", err, code, api.CodeNotFound)
	}
}
