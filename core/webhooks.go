package core

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/userimages/userimages/client/api"

	"userimages/stdwebhook"
)

// WebhookSender sends one signed webhook.
//
// Contract: Send POSTs body to url with the Standard Webhooks headers
// (webhook-id id, webhook-timestamp ts, webhook-signature by secret) and
// returns the answer's status code once its headers arrived; an error
// (and 0) when there was no answer (refused, timed out, ctx ended).
type WebhookSender interface {
	Send(ctx context.Context, url, secret, id string, ts time.Time, body []byte) (int, error)
}

// WebhookObserver is told of each try of a delivery (metrics): outcome is
// DeliveryDelivered, DeliveryPending (failed, to be retried) or
// DeliveryFailed (given up), elapsed how long the try took.
type WebhookObserver interface {
	ObserveWebhook(outcome string, elapsed time.Duration)
}

// DeliveryRetention is how long the records of finished deliveries are
// kept for the console.
const DeliveryRetention = 7 * 24 * time.Hour

// Webhooks registers webhook endpoints and delivers events to them: its
// worker (Run) fans each event of the outbox out to the endpoints that
// want its type and delivers each, at least once, with the event's
// webhook-id on every try; a failed try is retried after WebhookRetryDelay,
// doubled per failure up to WebhookMaxRetryDelay, until it succeeds or
// the event is WebhookGiveUpAfter old; an endpoint whose tries have failed
// for WebhookDisableAfter is disabled (its deliveries fail at once) until
// an operator enables it. At most WebhookConcurrency requests go to one
// endpoint at once from one instance, each given WebhookTimeout. Create it
// with NewWebhooks.
type Webhooks struct {
	cfg      Config
	store    WebhookStore
	outbox   *Outbox
	sender   WebhookSender
	observer WebhookObserver
	now      func() time.Time
	log      *slog.Logger

	mu    sync.Mutex
	slots map[string]chan struct{} // per endpoint: its requests in flight
}

// WebhooksDeps are the roles Webhooks calls. Without a Sender the worker
// delivers nothing (CLI processes): a server's delivers.
type WebhooksDeps struct {
	Store    WebhookStore
	Outbox   OutboxStore
	Reader   OutboxReader
	Sender   WebhookSender
	Observer WebhookObserver // optional
	Runtime
}

// NewWebhooks returns Webhooks, or an error if a role is missing.
func NewWebhooks(cfg Config, d WebhooksDeps) (*Webhooks, error) {
	if d.Store == nil || d.Outbox == nil || d.Reader == nil {
		return nil, errors.New("new webhooks: Store, Outbox and Reader are required")
	}
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	rt := d.Runtime.withDefaults()
	w := &Webhooks{cfg: cfg, store: d.Store, sender: d.Sender, observer: d.Observer, now: rt.Now, log: rt.Log, slots: map[string]chan struct{}{}}
	var deliverers map[string]OutboxDeliverer
	if d.Sender != nil {
		deliverers = map[string]OutboxDeliverer{TopicEvent: fanOut{w}, TopicWebhook: w}
	}
	// Its own worker: its entries have their own schedule, and wait on
	// receivers, not on caches in front.
	w.outbox, err = NewOutbox(OutboxConfig{Poll: cfg.Outbox.Poll, Lease: max(time.Minute, 4*cfg.WebhookTimeout),
		Backoff: cfg.WebhookRetryDelay, MaxBackoff: cfg.WebhookMaxRetryDelay, Batch: 32, Concurrency: 16},
		OutboxDeps{Store: d.Outbox, Reader: d.Reader, Deliverers: deliverers, Runtime: rt})
	return w, err
}

// Run delivers webhooks until ctx ends, and prunes the records of old
// deliveries hourly.
func (w *Webhooks) Run(ctx context.Context) {
	go w.outbox.Run(ctx)
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		if _, err := w.store.PruneDeliveries(ctx, w.now().Add(-DeliveryRetention)); err != nil && ctx.Err() == nil {
			w.log.WarnContext(ctx, "webhooks: pruning old deliveries failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Work is one pass of the worker (Outbox.Work), for tests.
func (w *Webhooks) Work(ctx context.Context) (int, error) { return w.outbox.Work(ctx) }

// Add registers an endpoint at rawURL (http or https) for events of the
// types listed (none: every type), and returns it with its new secret.
func (w *Webhooks) Add(ctx context.Context, rawURL string, events []string) (_ WebhookEndpoint, err error) {
	defer func() { err = Classify(err) }()
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil || u.Fragment != "" {
		return WebhookEndpoint{}, Errorf(api.CodeInvalidProperty, "webhook URL %q: want http(s)://HOST/PATH, without credentials or fragment", rawURL)
	}
	for _, e := range events {
		if !slices.Contains(api.EventTypes(), e) {
			return WebhookEndpoint{}, Errorf(api.CodeInvalidProperty, "event type %q: want one of %s", e, strings.Join(api.EventTypes(), ", "))
		}
	}
	key, secret, err := stdwebhook.NewSecret(rand.Reader)
	if err != nil || len(key) == 0 {
		return WebhookEndpoint{}, fmt.Errorf("webhook secret: %w", err)
	}
	ep := WebhookEndpoint{ID: "ep_" + rand.Text(), URL: u.String(), Secret: secret, Events: events, CreatedAt: w.now()}
	if err := w.store.AddWebhook(ctx, ep); err != nil {
		return WebhookEndpoint{}, fmt.Errorf("add webhook: %w", err)
	}
	return ep, nil
}

// List lists the endpoints, oldest first.
func (w *Webhooks) List(ctx context.Context) ([]WebhookEndpoint, error) {
	eps, err := w.store.Webhooks(ctx)
	return eps, Classify(err)
}

// Remove removes endpoint id; api.CodeNotFound if there is none.
func (w *Webhooks) Remove(ctx context.Context, id string) error {
	return Classify(endpointNotFound(id, w.store.RemoveWebhook(ctx, id)))
}

// Enable enables endpoint id again after it was disabled.
func (w *Webhooks) Enable(ctx context.Context, id string) error {
	return Classify(endpointNotFound(id, w.store.EnableWebhook(ctx, id)))
}

// endpointNotFound answers ErrNotFound as api.CodeNotFound naming id.
func endpointNotFound(id string, err error) error {
	if errors.Is(err, ErrNotFound) {
		return Errorf(api.CodeNotFound, "no webhook endpoint has id %q", id)
	}
	return err
}

// Deliveries lists the deliveries to endpoint id, newest first, at most
// limit (default 50); api.CodeNotFound when no endpoint has that id.
func (w *Webhooks) Deliveries(ctx context.Context, id string, limit int) ([]WebhookDelivery, error) {
	if limit <= 0 {
		limit = 50
	}
	ds, err := w.store.Deliveries(ctx, id, limit)
	if err == nil && len(ds) == 0 {
		_, err = w.store.Webhook(ctx, id)
	}
	return ds, Classify(endpointNotFound(id, err))
}

// RetryNow makes the delivery of message msg to endpoint ep due now, even
// if it failed for good.
func (w *Webhooks) RetryNow(ctx context.Context, ep, msg string) error {
	now := w.now()
	err := w.store.RetryDelivery(ctx, ep, msg, deliveryEntry(ep, msg, now))
	if errors.Is(err, ErrNotFound) {
		return Errorf(api.CodeNotFound, "no delivery of %q to %q", msg, ep)
	}
	return Classify(err)
}

// deliveryEntry is the outbox entry delivering message msg to endpoint ep.
func deliveryEntry(ep, msg string, at time.Time) OutboxEntry {
	return OutboxEntry{Topic: TopicWebhook, Payload: ep + " " + msg, CreatedAt: at, NextAt: at}
}

// fanOut delivers TopicEvent entries: one delivery per endpoint that wants
// the event.
type fanOut struct{ w *Webhooks }

func (f fanOut) Deliver(ctx context.Context, e OutboxEntry) error {
	msg, body, _ := strings.Cut(e.Payload, " ")
	var ev struct {
		Type string `json:"type"`
	}
	if err := json.Unmarshal([]byte(body), &ev); err != nil {
		f.w.log.ErrorContext(ctx, "webhooks: dropping an event that is not JSON", "entry", e.ID, "err", err)
		return nil
	}
	eps, err := f.w.store.Webhooks(ctx)
	if err != nil {
		return err
	}
	now := f.w.now()
	var fs []WebhookFanOut
	for _, ep := range eps {
		if ep.DisabledAt.IsZero() && ep.Wants(ev.Type) {
			fs = append(fs, WebhookFanOut{Delivery: WebhookDelivery{EndpointID: ep.ID, MessageID: msg, Type: ev.Type, Body: body, CreatedAt: e.CreatedAt},
				Entry: deliveryEntry(ep.ID, msg, now)})
		}
	}
	if len(fs) == 0 {
		return nil
	}
	return f.w.store.FanOut(ctx, fs)
}

// Deliver delivers one TopicWebhook entry: one try of a delivery.
func (w *Webhooks) Deliver(ctx context.Context, e OutboxEntry) error {
	epID, msg, _ := strings.Cut(e.Payload, " ")
	d, err := w.store.Delivery(ctx, epID, msg)
	if errors.Is(err, ErrNotFound) {
		return nil // its endpoint was removed
	}
	if err != nil {
		return err
	}
	if d.State != DeliveryPending {
		return nil // delivered, or failed for good, by an earlier entry
	}
	ep, err := w.store.Webhook(ctx, epID)
	if errors.Is(err, ErrNotFound) {
		return nil // removed meanwhile
	}
	if err != nil {
		return err
	}
	a := WebhookAttempt{EndpointID: epID, MessageID: msg, State: DeliveryFailed, Status: "not sent: the endpoint is disabled", At: w.now()}
	if ep.DisabledAt.IsZero() {
		a, err = w.try(ctx, ep, d)
		if err != nil {
			return err
		}
	}
	got, err := w.store.RecordDelivery(ctx, a)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return err
	}
	if ep.DisabledAt.IsZero() && !got.DisabledAt.IsZero() {
		w.log.WarnContext(ctx, "webhooks: endpoint disabled: its deliveries have failed too long; enable it with `userimages webhook enable` once it answers",
			"endpoint", ep.ID, "url", ep.URL, "failing_since", got.FailingSince)
	}
	if a.State == DeliveryPending {
		return fmt.Errorf("webhook %s to %s: %s", msg, ep.URL, a.Status)
	}
	return nil
}

// try sends delivery d to ep once, at most WebhookConcurrency at once per
// endpoint, and returns the attempt to record.
func (w *Webhooks) try(ctx context.Context, ep WebhookEndpoint, d WebhookDelivery) (WebhookAttempt, error) {
	slot := w.slot(ep.ID)
	select {
	case slot <- struct{}{}:
	case <-ctx.Done():
		return WebhookAttempt{}, ctx.Err()
	}
	start := w.now()
	sctx, cancel := context.WithTimeout(ctx, w.cfg.WebhookTimeout)
	code, err := w.sender.Send(sctx, ep.URL, ep.Secret, d.MessageID, start, []byte(d.Body))
	cancel()
	<-slot
	at := w.now()
	a := WebhookAttempt{EndpointID: ep.ID, MessageID: d.MessageID, OK: err == nil && code >= 200 && code <= 299, At: at,
		DisableBefore: at.Add(-w.cfg.WebhookDisableAfter)}
	switch {
	case err != nil:
		a.Status = truncate(err.Error(), 200)
		if errors.Is(err, context.DeadlineExceeded) {
			a.Status = fmt.Sprintf("no answer within %s", w.cfg.WebhookTimeout)
		}
	default:
		a.Status = fmt.Sprintf("%d %s", code, http.StatusText(code))
	}
	switch {
	case a.OK:
		a.State = DeliveryDelivered
	case at.Sub(d.CreatedAt) >= w.cfg.WebhookGiveUpAfter:
		a.State = DeliveryFailed
	default:
		a.State = DeliveryPending
	}
	if w.observer != nil {
		w.observer.ObserveWebhook(a.State, at.Sub(start))
	}
	return a, nil
}

// slot returns endpoint id's semaphore.
func (w *Webhooks) slot(id string) chan struct{} {
	w.mu.Lock()
	defer w.mu.Unlock()
	s, ok := w.slots[id]
	if !ok {
		s = make(chan struct{}, w.cfg.WebhookConcurrency)
		w.slots[id] = s
	}
	return s
}

// eventEntry is the outbox entry of an event of type typ about img at at.
func eventEntry(typ string, img Image, reason string, at time.Time) OutboxEntry {
	d := api.WebhookImage{ID: img.ID, Path: Path(img), BrandID: img.BrandID, ContentType: img.ContentType, Size: img.Size, SHA256: img.SHA256,
		CreatedAt: img.CreatedAt.UTC(), Reason: reason}
	if img.Uploader.UserID != 0 {
		d.Uploader = &api.WebhookUploader{UserID: img.Uploader.UserID}
	}
	body, err := json.Marshal(api.WebhookEvent{Type: typ, Timestamp: at.UTC(), Data: d})
	if err != nil {
		panic(err) // plain fields: cannot fail
	}
	return OutboxEntry{Topic: TopicEvent, Payload: "msg_" + rand.Text() + " " + string(body), CreatedAt: at}
}

// takedownEvent is the event type of a takedown for reason: the
// uploader's deletion, a user's erasure, or a moderator's takedown.
func takedownEvent(reason string) string {
	switch {
	case reason == ReasonDeletedByUploader:
		return EventImageDeleted
	case strings.HasPrefix(reason, erasureReasonPrefix):
		return EventImageErased
	}
	return EventImageTakenDown
}
