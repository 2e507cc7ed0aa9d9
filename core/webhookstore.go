package core

import (
	"context"
	"time"

	"github.com/userimages/userimages/client/api"
)

// Webhooks tell receivers the operator registered (webhook endpoints) of
// what happens to images, following the Standard Webhooks specification.
// An event is written to the outbox (TopicEvent) in the transaction of the
// change it tells of; the outbox's worker fans it out (WebhookStore.FanOut)
// into one delivery per endpoint subscribed to its type, each an outbox
// entry of its own (TopicWebhook) with its own retries; a delivery's
// webhook-id is the event's, the same on every try (webhooks.go).

// Outbox topics of webhooks.
const (
	// TopicEvent entries are events to fan out to the endpoints: the
	// message id, a space, and the body (api.WebhookEvent's JSON).
	TopicEvent = "event"
	// TopicWebhook entries are deliveries of an event to one endpoint: the
	// endpoint id, a space, and the message id.
	TopicWebhook = "webhook"
)

// Event types, as api declares them.
const (
	EventImageClaimed   = api.EventImageClaimed
	EventImageTakenDown = api.EventImageTakenDown
	EventImageDeleted   = api.EventImageDeleted
	EventImageErased    = api.EventImageErased
	EventReportCreated  = api.EventReportCreated
)

// WebhookEndpoint is a receiver of webhooks.
type WebhookEndpoint struct {
	ID     string // "ep_" and 26 characters of base32 (rand.Text)
	URL    string
	Secret string // "whsec_" and the base64 of the signing key
	// Events are the event types it is sent; none: every type.
	Events    []string
	CreatedAt time.Time
	// FailingSince is when its deliveries began failing; zero when the
	// last one succeeded.
	FailingSince time.Time
	// DisabledAt is when it was disabled for failing too long; zero while
	// it is enabled.
	DisabledAt time.Time
}

// Wants reports whether the endpoint is sent events of type typ.
func (e WebhookEndpoint) Wants(typ string) bool {
	if len(e.Events) == 0 {
		return true
	}
	for _, t := range e.Events {
		if t == typ {
			return true
		}
	}
	return false
}

// States of a WebhookDelivery.
const (
	DeliveryPending   = "pending"   // being tried
	DeliveryDelivered = "delivered" // answered 2xx
	DeliveryFailed    = "failed"    // given up, or its endpoint disabled
)

// WebhookDelivery is one event's delivery to one endpoint.
type WebhookDelivery struct {
	EndpointID string
	MessageID  string // the webhook-id, "msg_" and 26 characters
	Type       string // the event type
	Body       string // the JSON sent
	State      string // DeliveryPending, DeliveryDelivered or DeliveryFailed
	Attempts   int    // tries so far
	// LastStatus is how the last try went: the HTTP status ("200 OK"), or
	// why there was none.
	LastStatus string
	CreatedAt  time.Time
	UpdatedAt  time.Time
	// NextAt is when a pending delivery is tried next (its outbox entry's
	// NextAt); zero otherwise. Set by the store's reads.
	NextAt time.Time
}

// WebhookFanOut is a delivery to record, and the outbox entry that
// delivers it.
type WebhookFanOut struct {
	Delivery WebhookDelivery
	Entry    OutboxEntry
}

// WebhookAttempt is the outcome of one try of a delivery.
type WebhookAttempt struct {
	EndpointID, MessageID string
	// OK: the endpoint answered 2xx.
	OK bool
	// State is the delivery's state after the try.
	State  string
	Status string // as WebhookDelivery.LastStatus
	At     time.Time
	// DisableBefore: a failed try disables the endpoint (DisabledAt At)
	// if it has been failing since at or before this time.
	DisableBefore time.Time
}

// WebhookStore keeps the webhook endpoints and their deliveries.
//
// Contract (checked by storetest.TestWebhooks), besides the metadata
// roles':
//   - AddWebhook inserts e; ErrExist if its id has a row.
//   - Webhooks lists every endpoint, oldest first; Webhook returns one, or
//     ErrNotFound.
//   - RemoveWebhook deletes endpoint id and its deliveries' records (its
//     outbox entries stay, and find no delivery); ErrNotFound if none.
//   - EnableWebhook clears DisabledAt and FailingSince; ErrNotFound if
//     there is no such endpoint.
//   - FanOut inserts, in one transaction, each delivery (pending, no
//     attempt) and its outbox entry; a delivery whose endpoint and message
//     have a record already is left as it is, with no second entry.
//   - Delivery returns the delivery of message msg to endpoint ep, or
//     ErrNotFound.
//   - RecordDelivery records a try, in one transaction: the delivery's
//     Attempts plus one, State, LastStatus and UpdatedAt; the endpoint's
//     FailingSince cleared if a.OK, else set to a.At unless set; and, if
//     not a.OK, DisabledAt set to a.At if unset and FailingSince is at or
//     before a.DisableBefore. It returns the endpoint as it is then, or
//     ErrNotFound, changing nothing, if the delivery or endpoint is gone.
//   - Deliveries lists the deliveries to endpoint ep, newest first, at
//     most limit, the pending ones with NextAt.
//   - RetryDelivery makes the delivery of msg to ep due at entry.NextAt:
//     its pending outbox entry's NextAt moves there; if it has none
//     (delivered or failed), entry is enqueued and the delivery is pending
//     again. ErrNotFound if there is no such delivery.
//   - PruneDeliveries deletes the records of deliveries not pending and
//     updated before before, and returns how many.
type WebhookStore interface {
	AddWebhook(ctx context.Context, e WebhookEndpoint) error
	Webhooks(ctx context.Context) ([]WebhookEndpoint, error)
	Webhook(ctx context.Context, id string) (WebhookEndpoint, error)
	RemoveWebhook(ctx context.Context, id string) error
	EnableWebhook(ctx context.Context, id string) error
	FanOut(ctx context.Context, fs []WebhookFanOut) error
	Delivery(ctx context.Context, ep, msg string) (WebhookDelivery, error)
	RecordDelivery(ctx context.Context, a WebhookAttempt) (WebhookEndpoint, error)
	Deliveries(ctx context.Context, ep string, limit int) ([]WebhookDelivery, error)
	RetryDelivery(ctx context.Context, ep, msg string, entry OutboxEntry) error
	PruneDeliveries(ctx context.Context, before time.Time) (int, error)
}
