package core

import (
	"context"
	"io"
	"time"
)

// Upload is an issued upload token: what the client promised to PUT.
type Upload struct {
	Token       string // ULID
	ContentType string
	FileSize    int64
	CreatedAt   time.Time
	Uploader    Uploader
}

// Uploader says who sent an upload, for moderation.
type Uploader struct {
	UserID     int64 // 0 for anonymous
	ClientAddr string
}

// Image is a claimed, published image.
type Image struct {
	ID          string // 22 characters of URL-safe base64
	Token       string // the upload token it was claimed from
	BrandID     string
	ContentType string
	Size        int64
	SHA256      string // hex
	CreatedAt   time.Time
	Uploader    Uploader
}

// User is an account that may authenticate; anonymous callers have none.
// Admins may delete images.
type User struct {
	ID           int64
	Email        string
	PasswordHash []byte
	Admin        bool
	CreatedAt    time.Time
}

// Deletion is the audit record of a moderator taking an image down.
type Deletion struct {
	Image   Image
	By      string // who: "user:<id>" over HTTP, "cli:<login>" from the command line
	Reason  string
	Blocked bool // the image's SHA-256 was blocklisted: the same bytes are refused again
	At      time.Time
}

// ImageFilter selects images to list, newest first.
type ImageFilter struct {
	BrandID   string    // "" for any brand
	UserID    int64     // 0 for any uploader
	Anonymous bool      // only anonymous uploads
	Before    time.Time // zero for no bound: only images created before it
	Limit     int
}

// APIToken is a user's API token. Only its hash is stored; the token a user
// holds is ID followed by a secret part.
type APIToken struct {
	ID        string
	UserID    int64
	Hash      []byte
	CreatedAt time.Time
}

// MetadataStore keeps uploads, images, brands and users.
//
// Contract (checked by storetest.TestMetadataStore):
//   - Lookups of a missing record return an error matching ErrNotFound.
//   - Inserting a record whose key exists returns an error matching ErrExist
//     and changes nothing.
//   - A nil error from a write means it is committed and durable.
//   - Times are returned in UTC with at least microsecond precision.
type MetadataStore interface {
	CreateUpload(ctx context.Context, u Upload) error
	Upload(ctx context.Context, token string) (Upload, error)

	// PublishImage atomically inserts img and deletes the upload row of
	// img.Token. It returns ErrExist if an image with that token (or id)
	// exists already, even when the upload row is gone too, and otherwise
	// ErrNotFound if the upload row is gone (swept); in both cases nothing
	// changes.
	PublishImage(ctx context.Context, img Image) error
	Image(ctx context.Context, id string) (Image, error)
	ImageByToken(ctx context.Context, token string) (Image, error)

	// DeleteExpiredUpload deletes the upload row of token if it was created
	// before cutoff. It returns ErrNotFound when no such row exists.
	DeleteExpiredUpload(ctx context.Context, token string, cutoff time.Time) error
	// ExpiredUploads lists up to limit tokens of uploads created before cutoff.
	ExpiredUploads(ctx context.Context, cutoff time.Time, limit int) ([]string, error)
	// ImageExists reports whether an image with this id exists, for the
	// sweeper's orphan check.
	ImageExists(ctx context.Context, id string) (bool, error)

	// ListImages returns the images f selects, newest first, at most f.Limit.
	ListImages(ctx context.Context, f ImageFilter) ([]Image, error)
	// DeleteImage atomically deletes the image row of d.Image.ID, records
	// d in the audit log and, if d.Blocked, blocklists d.Image.SHA256. It
	// returns ErrNotFound, changing nothing, if the image does not exist.
	DeleteImage(ctx context.Context, d Deletion) error
	// Deletions lists the audit log, newest first, at most limit entries.
	Deletions(ctx context.Context, limit int) ([]Deletion, error)
	// IsBlocked reports whether a SHA-256 (hex) is blocklisted.
	IsBlocked(ctx context.Context, sha256 string) (bool, error)
	// TakenDown reports whether the image published from an upload token
	// was deleted (DeleteImage or ImportDeletion).
	TakenDown(ctx context.Context, token string) (bool, error)

	// AddBrand registers a brand; adding an existing one is not an error.
	AddBrand(ctx context.Context, id string) error
	BrandExists(ctx context.Context, id string) (bool, error)
	Brands(ctx context.Context) ([]string, error)

	// AddUser inserts u and returns its id; ErrExist if the email is taken.
	AddUser(ctx context.Context, u User) (int64, error)
	UserByEmail(ctx context.Context, email string) (User, error)
	User(ctx context.Context, id int64) (User, error)
	AddAPIToken(ctx context.Context, t APIToken) error
	APIToken(ctx context.Context, id string) (APIToken, error)
}

// Blob is an open stored object.
type Blob interface {
	io.ReadSeekCloser
	Size() int64
	ModTime() time.Time
}

// BlobStore keeps image bytes under opaque keys made of [A-Za-z0-9_-] and
// slashes.
//
// Contract (checked by storetest.TestBlobStore):
//   - Put stores everything r yields under key, atomically and durably: when
//     it returns nil the bytes survive a crash; when it returns an error
//     nothing is stored and the key is unchanged. If r fails, the error wraps
//     r's error (errors.Is finds it). If key exists, Put returns ErrExist and
//     never overwrites.
//   - Open returns ErrNotFound for a missing key.
//   - Delete removes key; deleting a missing key is not an error.
//   - List calls fn for each key below prefix, at any depth, with its
//     modification time; prefix is empty or ends with a slash. An error from
//     fn stops the listing and is returned.
//   - Invalid keys return an error, never touch anything outside the store.
type BlobStore interface {
	Put(ctx context.Context, key string, r io.Reader) error
	Open(ctx context.Context, key string) (Blob, error)
	Delete(ctx context.Context, key string) error
	List(ctx context.Context, prefix string, fn func(key string, modTime time.Time) error) error
}

// UploadTarget says where and how a client PUTs an upload's bytes.
type UploadTarget struct {
	URL     string
	Headers map[string]string
}

// UploadSigner issues the presigned URL of step 2.
//
// Contract: the URL accepts one PUT, within ttl of now, of a body sent with
// exactly the returned headers; it stores the bytes under key. baseURL is the
// server's public base URL (scheme and host) for signers that point at this
// server; others ignore it. Errors are internal.
type UploadSigner interface {
	PresignPut(ctx context.Context, p PresignParams) (UploadTarget, error)
}

// UploadCarrier is an UploadSigner whose URLs point at this server and
// carry, signed, the Upload they were issued for, which the server gets back
// when verifying the PUT. The service then records an upload when its bytes
// arrive (ReceiveUpload), and step 1 writes nothing.
type UploadCarrier interface {
	UploadSigner
	CarriesUploads()
}

// PresignParams describe one upload to presign.
type PresignParams struct {
	BaseURL  string
	Key      string
	Token    string
	Headers  map[string]string
	FileSize int64
	Uploader Uploader
	Now      time.Time
	TTL      time.Duration
}
