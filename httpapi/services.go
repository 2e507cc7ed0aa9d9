package httpapi

import (
	"context"
	"io"

	"userimages/core"
)

// The use cases the API calls, as small interfaces: cmd wires core's
// services in (core.Uploads, core.Serving, core.Moderation, core.Reports, core.Accounts,
// core.Upkeep, core.Erasure). Each method's errors are *core.Error for what the caller
// should be told, anything else a fault, answered by writeError.

// Services are what a Server calls. A Server given none serves nothing
// but its configuration checks (tests of Config).
type Services struct {
	Uploads    Uploads
	Images     Images
	Moderation Moderation
	Reports    Reports
	Accounts   Accounts
	Readiness  Readiness
	Erasure    Erasure
	// HostUsers is nil when the server accepts no host app's JWTs.
	HostUsers HostUsers
}

// Uploads runs the three steps of an upload (core.Uploads).
type Uploads interface {
	CreateUpload(ctx context.Context, in core.CreateUploadInput) (core.CreatedUpload, error)
	ReceiveUpload(ctx context.Context, up core.Upload, contentLength int64, body io.Reader) error
	// Claim publishes token's upload for claimant (0: anonymous); an
	// upload made by a signed-in user is claimable only by that user.
	Claim(ctx context.Context, token, brandID string, claimant int64) (core.Image, error)
	// Carrier is nil when upload URLs point elsewhere than this server.
	Carrier() core.UploadCarrier
}

// Images serves published images and their variants (core.Serving).
type Images interface {
	PublishedImage(ctx context.Context, id, ext string) (core.Image, error)
	OpenImage(ctx context.Context, id, ext string) (core.Image, core.Blob, error)
	OpenVariantAdmitted(ctx context.Context, id, ext string, v core.Variant, admit core.Admission) (core.Image, core.Blob, error)
	VariantWidths() []int
}

// Moderation takes images down (core.Moderation).
type Moderation interface {
	TakeDown(ctx context.Context, o core.TakedownOrder) ([]core.Image, error)
}

// Reports records readers' reports (core.Reports).
type Reports interface {
	Report(ctx context.Context, id, reporter, reason, detail string) error
}

// Erasure lets uploaders delete their own images (core.Erasure).
type Erasure interface {
	DeleteOwnImage(ctx context.Context, id string, userID int64) error
	DeleteWithUploadToken(ctx context.Context, id, token string) error
}

// Accounts authenticates callers (core.Accounts).
type Accounts interface {
	Authenticate(ctx context.Context, header, from string) (int64, error)
	User(ctx context.Context, id int64) (core.User, error)
	Moderator(ctx context.Context, userID int64) (string, error)
}

// HostUsers authenticates the users a host app vouches for with a signed
// JWT (core.HostUsers).
type HostUsers interface {
	// Authenticate returns the id of the user token (the JWT, without
	// "Bearer ") vouches for, creating them on first sight; a token not
	// valid, or a disabled user, is api.CodeUnauthorized.
	Authenticate(ctx context.Context, token string) (int64, error)
}

// Readiness tells whether this instance can take requests (core.Upkeep).
type Readiness interface {
	// Ready returns an error when a store does not answer, within a short
	// deadline of its own.
	Ready(ctx context.Context) error
	// Unanswered tells that a store did not answer a request within its
	// deadline: Ready fails at once until the stores answer again.
	Unanswered()
}

// ServicesOf are core's services as a Server calls them.
func ServicesOf(svc core.Services) Services {
	s := Services{Uploads: svc.Uploads, Images: svc.Serving, Moderation: svc.Moderation, Reports: svc.Reports, Accounts: svc.Accounts, Readiness: svc.Upkeep,
		Erasure: svc.Erasure}
	if svc.HostUsers != nil { // a nil interface, not a typed nil pointer
		s.HostUsers = svc.HostUsers
	}
	return s
}
