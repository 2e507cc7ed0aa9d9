package migrate

import (
	"context"

	"userimages/core"
)

// Source is the metadata a migration reads. Each listing pages by key,
// ascending, so that memory stays bounded and an interrupted run resumes
// where it stopped: it returns up to limit records whose key is greater
// than after ("" or 0 for the first page), and an empty page at the end.
// Errors are the store's own.
type Source interface {
	Brands(ctx context.Context) ([]string, error)
	// UsersAfter pages users by ID.
	UsersAfter(ctx context.Context, after int64, limit int) ([]core.User, error)
	// APITokensAfter pages API tokens by ID.
	APITokensAfter(ctx context.Context, after string, limit int) ([]core.APIToken, error)
	// ImagesAfter pages published images by ID (byte order).
	ImagesAfter(ctx context.Context, after string, limit int) ([]core.Image, error)
	// DeletionsAfter pages the deletion audit log by the deleted image's ID.
	DeletionsAfter(ctx context.Context, after string, limit int) ([]core.Deletion, error)
	// BlockedAfter pages the blocklisted SHA-256 hashes (hex).
	BlockedAfter(ctx context.Context, after string, limit int) ([]string, error)
	// ReportsAfter pages the open reports by image ID, then reporter (byte
	// order), after the report after (the zero Report for the first page).
	ReportsAfter(ctx context.Context, after core.Report, limit int) ([]core.Report, error)
	// ModerationEventsAfter pages the records of dismissals and unblocks
	// by time, then action, then target, after the event after (the zero
	// ModerationEvent for the first page).
	ModerationEventsAfter(ctx context.Context, after core.ModerationEvent, limit int) ([]core.ModerationEvent, error)
	// Webhooks lists the webhook endpoints (core.WebhookStore).
	Webhooks(ctx context.Context) ([]core.WebhookEndpoint, error)
}

// Destination is the metadata a migration writes. Every write keeps the
// record's own keys and times, so paths, logins and audit entries survive
// the move; a write of a record that is there already returns an error
// matching core.ErrExist and changes nothing, which is how a resumed run
// skips what it copied before.
type Destination interface {
	// Image and User look a record up, to tell a record copied by an
	// earlier run from a conflicting one; core.ErrNotFound if missing.
	Image(ctx context.Context, id string) (core.Image, error)
	User(ctx context.Context, id int64) (core.User, error)
	// BrandExists and IsBlocked tell what an earlier run copied of the
	// records whose writes are idempotent.
	BrandExists(ctx context.Context, id string) (bool, error)
	IsBlocked(ctx context.Context, sha256 string) (bool, error)
	// AddBrand registers a brand; adding an existing one is not an error.
	AddBrand(ctx context.Context, id string) error
	// ImportUser inserts u with its own ID; ErrExist if the ID or the email
	// is taken. Users added later get IDs above every imported one.
	ImportUser(ctx context.Context, u core.User) error
	// AddAPIToken inserts t; ErrExist if its ID is taken.
	AddAPIToken(ctx context.Context, t core.APIToken) error
	// ImportImage inserts img as published, with no upload row; ErrExist
	// if its ID or token is taken.
	ImportImage(ctx context.Context, img core.Image) error
	// ImportDeletion records d in the audit log; ErrExist if a deletion of
	// d.Image.ID is recorded already. It does not touch the blocklist.
	ImportDeletion(ctx context.Context, d core.Deletion) error
	// DeleteImage deletes the image of d and records d, atomically, for
	// an image taken down at the source after an earlier run copied it;
	// core.ErrNotFound if the image is not there.
	DeleteImage(ctx context.Context, d core.Deletion) error
	// Block blocklists a SHA-256 (hex); blocking it again is not an error.
	Block(ctx context.Context, sha256 string) error
	// AddReport records r; ErrExist if its reporter reported its image
	// already.
	AddReport(ctx context.Context, r core.Report) error
	// ImportModerationEvent records e; ErrExist if an event of its time,
	// action and target is recorded already.
	ImportModerationEvent(ctx context.Context, e core.ModerationEvent) error
	// AddWebhook registers a webhook endpoint with its id and secret,
	// enabled; ErrExist if its id is taken (core.WebhookStore).
	AddWebhook(ctx context.Context, e core.WebhookEndpoint) error
}
