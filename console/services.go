package console

import (
	"context"
	"time"

	"userimages/core"
)

// The use cases the console calls, as small interfaces: cmd wires core's
// services in (core.Sessions, core.Accounts, core.Moderation, core.Reports, core.Erasure), the same
// the HTTP API calls. Errors are *core.Error for what the admin should be
// told, anything else a fault.

// Sessions signs admins in and out (core.Sessions).
type Sessions interface {
	// SignIn is api.CodeRateLimited, with Error.RetryAfter, while the
	// account or the address from waits after failed sign-ins.
	SignIn(ctx context.Context, email, password, from string) (string, error)
	SessionUser(ctx context.Context, token string) (core.User, error)
	SignOut(ctx context.Context, token string) error
	// MaxAge is a session's longest life: its cookie's Max-Age.
	MaxAge() time.Duration
}

// Accounts names users and admins (core.Accounts).
type Accounts interface {
	User(ctx context.Context, id int64) (core.User, error)
	UserID(ctx context.Context, email string) (int64, error)
	Moderator(ctx context.Context, userID int64) (string, error)
}

// Brands lists the brands the image filters offer (core.Brands).
type Brands interface {
	Brands(ctx context.Context) ([]string, error)
}

// Moderation is what the pages show and do (core.Moderation).
type Moderation interface {
	Image(ctx context.Context, id string) (core.Image, error)
	ListImages(ctx context.Context, f core.ImageFilter) ([]core.Image, error)
	TakeDown(ctx context.Context, o core.TakedownOrder) ([]core.Image, error)
	TakeDownResembling(ctx context.Context, o core.TakedownOrder, ids []string) ([]core.Image, error)
	Copies(ctx context.Context, img core.Image, limit int) ([]core.Image, error)
	DeletionsOf(ctx context.Context, sha string, limit int) ([]core.Deletion, error)
	Deletion(ctx context.Context, id string) (core.Deletion, error)
	Deletions(ctx context.Context, limit int) ([]core.Deletion, error)
	ModerationEvents(ctx context.Context, target string, limit int) ([]core.ModerationEvent, error)
	Blocklist(ctx context.Context, limit int) ([]core.Blocked, error)
	Unblock(ctx context.Context, sha, by, reason string) error
}

// HashLists lists the lists of blocked perceptual hashes, imported and
// the takedowns' (core.Resemblance).
type HashLists interface {
	Lists(ctx context.Context) ([]core.HashList, error)
}

// Lookalikes finds the published images that resemble one
// (core.Resemblance).
type Lookalikes interface {
	Resembling(ctx context.Context, img core.Image, limit int) ([]core.ResemblingImage, error)
}

// Reports is the queue of readers' reports (core.Reports).
type Reports interface {
	ReportQueue(ctx context.Context, limit int) ([]core.ReportedImage, error)
	Reports(ctx context.Context, id string) ([]core.Report, error)
	DismissReports(ctx context.Context, id, by, reason string) error
}

// Outbox shows the purges of the caches in front that wait (core.Outbox).
type Outbox interface {
	Pending(ctx context.Context, topic string, limit int) ([]core.OutboxEntry, error)
}

// Erasure erases users (core.Erasure).
type Erasure interface {
	EraseUser(ctx context.Context, email, by, reason string) (core.Erased, error)
}
