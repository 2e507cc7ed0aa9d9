package api

import "time"

// Webhook event types: what a webhook tells of (see docs/webhooks.md).
const (
	EventImageClaimed   = "image.claimed"    // an upload was published
	EventImageTakenDown = "image.taken_down" // a moderator took the image down
	EventImageDeleted   = "image.deleted"    // its uploader deleted it
	EventImageErased    = "image.erased"     // it went with its uploader's erasure
	EventReportCreated  = "report.created"   // a reader reported it
)

// EventTypes lists the webhook event types.
func EventTypes() []string {
	return []string{EventImageClaimed, EventImageTakenDown, EventImageDeleted, EventImageErased, EventReportCreated}
}

// WebhookEvent is the body of a webhook, as the Standard Webhooks
// specification shapes it; its webhook-id header identifies it.
type WebhookEvent struct {
	Type      string       `json:"type"`      // one of EventTypes
	Timestamp time.Time    `json:"timestamp"` // when it happened
	Data      WebhookImage `json:"data"`
}

// WebhookImage is what a webhook tells of an image: never a password,
// email or client address.
type WebhookImage struct {
	ID          string `json:"id"`
	Path        string `json:"path"` // where it is (was) served, as ClaimResponse's path
	BrandID     string `json:"brand_id"`
	ContentType string `json:"content_type"`
	Size        int64  `json:"size"`
	SHA256      string `json:"sha256"` // hex
	// Uploader is the signed-in user who uploaded it; nil when anonymous.
	Uploader  *WebhookUploader `json:"uploader"`
	CreatedAt time.Time        `json:"created_at"` // when it was published
	// Reason is a takedown's (the moderator's words) or a report's (one
	// of ReportReasons; never the reader's detail).
	Reason string `json:"reason,omitempty"`
}

// WebhookUploader is who uploaded an image.
type WebhookUploader struct {
	UserID int64 `json:"user_id"`
}
