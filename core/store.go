package core

import (
	"context"
	"io"
	"net/http"
	"time"
)

// Upload is an issued upload token: what the client promised to PUT and,
// from StateReceived on, the checked copy of what arrived.
type Upload struct {
	Token       string // ULID
	ContentType string
	FileSize    int64
	CreatedAt   time.Time
	Uploader    Uploader
	State       UploadState
	// Set in StateReceived: the checked (and stripped) copy of the bytes,
	// stored under ImageKey(ImageID), its size and SHA-256 (hex). A claim
	// publishes exactly these.
	ImageID string
	Size    int64
	SHA256  string
	// PDQ is the perceptual hash of the copy (package pdq, 64 hex digits;
	// "" when it was not hashed), and PDQQuality its quality (0..100; -1
	// with PDQ "" when the picture cannot be hashed). The hash may be set
	// after the PUT (FingerprintStore).
	PDQ        string
	PDQQuality int
	// Width and Height are the picture's size in pixels as it is shown
	// (upright: its EXIF orientation applied), set with ImageID; 0 when
	// unknown (stored before they were kept).
	Width, Height int
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
	PDQ         string // as Upload.PDQ
	PDQQuality  int
	// Width and Height are as Upload's: the picture's upright size in
	// pixels, 0 when unknown (published before they were kept).
	Width, Height int
}

// User is an account that may authenticate; anonymous callers have none.
// Admins may delete images.
type User struct {
	ID           int64
	Email        string
	PasswordHash []byte
	Admin        bool
	CreatedAt    time.Time
	// Disabled: the user's password and API tokens are refused; its
	// images stay.
	Disabled bool
	// Issuer and Subject are set on a user the host app vouches for (a
	// JWT's iss and sub, HostUsers), who is identified by the two; such a
	// user has no password, and Email is their key (HostUserKey), not
	// an address. Name and ContactEmail are the token's name and email
	// claims when it had them, as of the user's latest token.
	Issuer, Subject    string
	Name, ContactEmail string
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
	BrandID    string    // "" for any brand
	UserID     int64     // 0 for any uploader
	Anonymous  bool      // only anonymous uploads
	ClientAddr string    // "" for any address: only images uploaded from it
	Before     time.Time // zero for no bound: only images created before it
	After      time.Time // zero for no bound: only images created at or after it
	Reported   bool      // only images with open reports
	SHA256     string    // "" for any bytes: only images of these (hex)
	Limit      int
}

// Session is a signed-in console session. The token its holder keeps is
// never stored: Hash is its SHA-256 (hex).
type Session struct {
	Hash      string
	UserID    int64
	CreatedAt time.Time
	LastSeen  time.Time // to the minute: when the session was last used
}

// Report is a reader's report of a published image.
type Report struct {
	ImageID string
	// Reporter is who reported: "u:<id>" or the client's address (per /64
	// for IPv6). One report per reporter and image counts.
	Reporter string
	Reason   string // one of ReportReasons
	Detail   string
	At       time.Time
	// Outbox are the entries AddReport enqueues with the report (its
	// webhook event); none is read back.
	Outbox []OutboxEntry
}

// ReportedImage is an image in the reports queue with its count of open
// reports.
type ReportedImage struct {
	Image   Image
	Reports int
}

// Blocked is a blocklisted SHA-256 (hex) and when it was blocked.
type Blocked struct {
	SHA256 string
	At     time.Time
}

// Moderation actions other than takedowns, recorded as ModerationEvents.
const (
	ActionDismiss = "dismiss" // an image's reports were dismissed; Target is its id
	ActionUnblock = "unblock" // a SHA-256 was unblocked; Target is it
	ActionErase   = "erase"   // a user was erased; Target is "user:<id>"
	// A hash list was imported or removed; Target is its name.
	ActionImportHashes = "import-hashes"
	ActionRemoveHashes = "remove-hashes"
)

// ListTakedowns is the list of the hashes blocking takedowns record.
const ListTakedowns = "takedowns"

// BlockedHash is a perceptual hash refused at the PUT (with those near
// it), on a list: ListTakedowns, or an imported list's name.
type BlockedHash struct {
	List    string
	Hash    string // PDQ, 64 lower-case hex digits
	Quality int    // 0..100; -1 when an imported list gave none
	// Source is, for ListTakedowns, the SHA-256 of the image taken down,
	// so that unblocking those bytes unblocks its hashes; else "".
	Source string
	// Version and Seq are the store's: the version of the change that
	// added it, and its order within all.
	Version int64
	Seq     int64
}

// HashList is a list of blocked hashes: its name, size and when it was
// last added to.
type HashList struct {
	Name   string
	Hashes int64
	At     time.Time
}

// HashesVersion says which blocked hashes an instance has: Version grows
// with every change of them, Removals with every removal.
type HashesVersion struct {
	Version  int64
	Removals int64
}

// HashCursor is where a listing of blocked hashes resumes: after the hash
// of Version and Seq.
type HashCursor struct {
	Version int64
	Seq     int64
}

// ModerationEvent is the audit record of a moderation action other than a
// takedown (which is a Deletion).
type ModerationEvent struct {
	Action string // ActionDismiss or ActionUnblock
	Target string
	By     string // as Deletion.By
	Reason string
	At     time.Time
}

// APIToken is a user's API token. The token a user holds is Selector
// followed by a secret part, of which only Hash (bcrypt) is stored. ID names
// the token in lists and revocations: it is random, made apart from the
// token, and no part of it.
type APIToken struct {
	ID string
	// Selector is the token's first characters, by which a presented token
	// is found before its secret part is compared with Hash. Never shown.
	Selector  string
	UserID    int64
	Hash      []byte
	CreatedAt time.Time
	// LastUsed is when the token last authenticated a request, to the
	// minute; zero for never.
	LastUsed time.Time
}

// The metadata roles below are small on purpose: each use case (Uploads,
// Serving, Moderation, Accounts, Sessions, Upkeep) is constructed with the
// roles it calls and nothing else, and an adapter (sqlite, postgres)
// implements them all.
//
// Contract of every metadata role (checked by storetest.TestMetadataStore):
//   - Lookups of a missing record return an error matching ErrNotFound.
//   - Inserting a record whose key exists returns an error matching ErrExist
//     and changes nothing.
//   - A nil error from a write means it is committed and durable.
//   - Times are returned in UTC with at least microsecond precision.
//   - The upload lifecycle (lifecycle.go) moves by the conditional writes
//     CreateUpload, ReceiveUpload, ClaimUpload and ExpireUploads: each is
//     one transaction, and of two racing for one token exactly one wins.
//   - Any other error is a fault of the store (unreachable, failing, full),
//     marked with StoreFault: ErrFull for a full one, ErrUnavailable for one
//     that failed or did not answer. An unmarked error is a bug, answered
//     500.

// UploadStore keeps the upload lifecycle (lifecycle.go): steps 1 to 3.
type UploadStore interface {
	// CreateUpload records u in StateCreated; ErrExist if its token has a
	// row.
	CreateUpload(ctx context.Context, u Upload) error
	// ReceiveUpload records that the checked copy of u's bytes is stored
	// (u.State is ignored; u.ImageID, Size and SHA256 are set): it inserts
	// u in StateReceived, or moves u's row from StateCreated to it. It
	// returns ErrExist, changing nothing, when the token's row is in
	// another state, or it was claimed or taken down.
	ReceiveUpload(ctx context.Context, u Upload) error
	// ClaimUpload publishes the received upload of c.Token: in one
	// transaction it deletes the upload row and inserts the image (id
	// ImageID, brand c.BrandID, created c.At), provided the row is in
	// StateReceived, was created at or after c.NotBefore, was uploaded
	// anonymously or by c.Claimant, the brand exists and the SHA-256 is
	// not blocklisted; and enqueues what c.Outbox returns for the image. Otherwise it returns ErrNotFound and changes
	// nothing; TokenStatus tells why.
	ClaimUpload(ctx context.Context, c UploadClaim) (Image, error)
	TokenReader
}

// TokenReader tells what is recorded of an upload token.
type TokenReader interface {
	// TokenStatus returns what is recorded of an upload token: never
	// ErrNotFound, an unknown token has an empty status.
	TokenStatus(ctx context.Context, token string) (TokenStatus, error)
}

// UploadExpirer ends the uploads never claimed, for the sweeper.
type UploadExpirer interface {
	// ExpireUploads deletes up to limit upload rows (in any state) created
	// before cutoff and returns them, so that their bytes can be deleted.
	ExpireUploads(ctx context.Context, cutoff time.Time, limit int) ([]Upload, error)
}

// ImageReader looks up a published image.
type ImageReader interface {
	// Image returns the published image id; ErrNotFound if there is none
	// (never published, or taken down).
	Image(ctx context.Context, id string) (Image, error)
}

// ImageLister lists published images.
type ImageLister interface {
	// ListImages returns the images f selects, newest first, at most f.Limit.
	ListImages(ctx context.Context, f ImageFilter) ([]Image, error)
}

// ImageHash is a published image's perceptual hash (Image.PDQ and
// PDQQuality) and Seq, the store's order of publication, after which a
// listing of them resumes.
type ImageHash struct {
	ID      string
	PDQ     string
	Quality int
	Seq     int64
}

// ImageHashLister lists the perceptual hashes of published images, for
// finding those that resemble one (Resemblance.Resembling).
type ImageHashLister interface {
	// ImageHashes returns the published images that have a perceptual
	// hash (PDQ not ""), the latest published first, only those published
	// before the one of Seq before unless before is 0, at most limit.
	ImageHashes(ctx context.Context, before int64, limit int) ([]ImageHash, error)
}

// ReferenceChecker tells whether stored bytes are still referred to, for
// the sweeper's orphan scans.
type ReferenceChecker interface {
	// ImageReferenced reports whether an image, or a received upload,
	// has this id.
	ImageReferenced(ctx context.Context, id string) (bool, error)
}

// BrandChecker tells whether a brand is registered.
type BrandChecker interface {
	// BrandExists reports whether brand id is registered; an unknown
	// brand is no error.
	BrandExists(ctx context.Context, id string) (bool, error)
}

// BrandRegistry registers and lists brands.
type BrandRegistry interface {
	// AddBrand registers a brand; adding an existing one is not an error.
	AddBrand(ctx context.Context, id string) error
	// Brands lists the registered brand ids.
	Brands(ctx context.Context) ([]string, error)
}

// BrandRemover removes brands.
type BrandRemover interface {
	// DeleteBrand removes brand id if no image has it, in one statement:
	// ErrNotFound if there is no such brand, ErrExist (changing nothing)
	// while an image has it.
	DeleteBrand(ctx context.Context, id string) error
}

// BlockChecker tells whether bytes are blocklisted.
type BlockChecker interface {
	// IsBlocked reports whether a SHA-256 (hex) is blocklisted.
	IsBlocked(ctx context.Context, sha256 string) (bool, error)
}

// ModerationStore keeps take-downs, their audit log and the blocklist.
type ModerationStore interface {
	// DeleteImage atomically deletes the image row of d.Image.ID, records
	// d in the audit log and, if d.Blocked, blocklists d.Image.SHA256. It
	// returns ErrNotFound, changing nothing, if the image does not exist.
	DeleteImage(ctx context.Context, d Deletion) error
	// Deletions lists the audit log, newest first, at most limit entries.
	Deletions(ctx context.Context, limit int) ([]Deletion, error)
	// Deletion returns the audit record of image id's takedown;
	// ErrNotFound if it was not taken down.
	Deletion(ctx context.Context, imageID string) (Deletion, error)
	// Blocklist lists the blocklisted SHA-256s, newest first, at most
	// limit.
	Blocklist(ctx context.Context, limit int) ([]Blocked, error)
	// Unblock atomically removes e.Target (a SHA-256) from the blocklist,
	// with the ListTakedowns hashes whose Source it is (counted as
	// removed, HashBlocklist), and records e (Action ActionUnblock). It
	// returns ErrNotFound, changing nothing, if e.Target is not
	// blocklisted.
	Unblock(ctx context.Context, e ModerationEvent) error
	// ModerationEvents lists the audit records other than takedowns,
	// newest first, at most limit; of target only, unless target is "".
	ModerationEvents(ctx context.Context, target string, limit int) ([]ModerationEvent, error)
}

// Takedown asks TakedownStore.TakeDown to take images down.
type Takedown struct {
	ImageID string
	// AllCopies: every other published image with the same SHA-256 too.
	AllCopies bool
	By        string // as Deletion.By
	Reason    string
	Block     bool // blocklist the SHA-256
	At        time.Time
	// Outbox returns the entries to enqueue, in the same transaction, for
	// the images taken down; nil for none.
	Outbox func(taken []Image) []OutboxEntry
	// Hashes are the perceptual hashes a blocking takedown blocks (the
	// picture's and its rotations' and mirrors').
	Hashes []BlockedHash
}

// TakedownStore takes images down together with what must go with them.
type TakedownStore interface {
	// TakeDown does, in one transaction: delete image t.ImageID and, with
	// t.AllCopies, every other published image with its SHA-256 (as found
	// in the transaction), with their reports; record a Deletion of each
	// (t.By, t.Reason, Blocked t.Block, t.At); blocklist the SHA-256 and
	// add t.Hashes under one new version (HashBlocklist) if t.Block; enqueue what t.Outbox returns for those images. It returns
	// the deletions, t.ImageID's first, or ErrNotFound, changing nothing,
	// if image t.ImageID does not exist.
	TakeDown(ctx context.Context, t Takedown) ([]Deletion, error)
	// DeletionsOf lists the takedowns of images with SHA-256 sha (hex),
	// newest first, at most limit.
	DeletionsOf(ctx context.Context, sha string, limit int) ([]Deletion, error)
}

// HashBlocklist keeps the perceptual hashes refused at the PUT, which
// every instance reads into memory and follows (HashesVersion). A
// blocking takedown adds its hashes with TakedownStore.TakeDown and
// unblocking its bytes (ModerationStore.Unblock) removes them.
type HashBlocklist interface {
	// AddBlockedHashes atomically adds hs, under one new version, and
	// records e.
	AddBlockedHashes(ctx context.Context, hs []BlockedHash, e ModerationEvent) error
	// RemoveHashList atomically removes the hashes of list, counts them as
	// removed and records e; it returns how many, or ErrNotFound, changing
	// nothing, if the list has none.
	RemoveHashList(ctx context.Context, list string, e ModerationEvent) (int64, error)
	// HashesVersion returns the version of the blocked hashes.
	HashesVersion(ctx context.Context) (HashesVersion, error)
	// BlockedHashes lists the blocked hashes after c, in (Version, Seq)
	// order, at most limit; of list only, unless it is "". A change is
	// listed whole or not at all.
	BlockedHashes(ctx context.Context, list string, c HashCursor, limit int) ([]BlockedHash, error)
	// HashLists lists the lists, by name, with their sizes.
	HashLists(ctx context.Context) ([]HashList, error)
}

// FingerprintStore keeps the perceptual hashes computed after an image's
// PUT, off the request path (Resemblance's hasher and backfill).
type FingerprintStore interface {
	// SetFingerprint records fp as the perceptual hash of the bytes
	// stored under image id, on the row of its received upload and of its
	// published image, whichever exist, in one transaction; neither is no
	// error (it expired or was taken down meanwhile). fp.PDQ "" with
	// Quality -1 records that the picture cannot be hashed.
	SetFingerprint(ctx context.Context, imageID string, fp Fingerprint) error
	// Unfingerprinted lists, by id, at most limit published images with
	// an id after after that were never hashed (PDQ "" and quality 0).
	Unfingerprinted(ctx context.Context, after string, limit int) ([]Image, error)
}

// SessionStore keeps the console's sign-in sessions, so that every
// instance honours them. Expiry is the caller's: the store keeps what it
// is given until it is deleted (or SessionExpirer expires it).
type SessionStore interface {
	// CreateSession inserts s; ErrExist if its hash has a row.
	CreateSession(ctx context.Context, s Session) error
	// Session returns the session with hash; ErrNotFound if there is none.
	Session(ctx context.Context, hash string) (Session, error)
	// TouchSession sets the LastSeen of session hash to at; a missing
	// session is no error.
	TouchSession(ctx context.Context, hash string, at time.Time) error
	// DeleteSession deletes session hash; a missing session is no error.
	DeleteSession(ctx context.Context, hash string) error
}

// SessionExpirer ends idle and old console sessions, for the sweeper.
type SessionExpirer interface {
	// ExpireSessions deletes the sessions last seen before idleCutoff or
	// created before ageCutoff, and returns how many it deleted.
	ExpireSessions(ctx context.Context, idleCutoff, ageCutoff time.Time) (int, error)
}

// ReportStore keeps readers' reports of images.
type ReportStore interface {
	// AddReport records r, and enqueues r.Outbox in the same transaction;
	// ErrExist, changing nothing, if r.Reporter has reported r.ImageID
	// already (and that report is still open).
	AddReport(ctx context.Context, r Report) error
	// ReportedImages lists the published images with open reports, most
	// reported first (then most recently reported), at most limit.
	ReportedImages(ctx context.Context, limit int) ([]ReportedImage, error)
	// Reports lists the open reports of image id, newest first.
	Reports(ctx context.Context, imageID string) ([]Report, error)
	// DismissReports atomically deletes the open reports of e.Target (an
	// image id) and records e (Action ActionDismiss). It returns
	// ErrNotFound, changing nothing, if the image has no open report.
	DismissReports(ctx context.Context, e ModerationEvent) error
}

// PersonalDataErasure asks ErasureStore.ErasePersonalData to erase what
// is kept of a user besides their images (which are taken down first, each
// with its own audit record).
type PersonalDataErasure struct {
	UserID int64
	// Reporter is the user's name in reports ("u:<id>"); their reports
	// are kept for the count, under Alias (unique to this erasure), with
	// no detail.
	Reporter string
	Alias    string
	Event    ModerationEvent // the audit record, Action ActionErase
}

// ErasureStore erases a user's personal data.
type ErasureStore interface {
	// ErasePersonalData does, in one transaction: disable user e.UserID
	// (emptying a host app user's Name and ContactEmail);
	// delete their API tokens, console sessions and unclaimed uploads
	// (whose bytes the sweeper then deletes as orphans); in their open
	// reports replace Reporter by Alias and empty Detail; empty the
	// client address of the audit records of their images; record
	// e.Event. It returns ErrNotFound, changing nothing, if there is no
	// such user. Run again, it erases what came since.
	ErasePersonalData(ctx context.Context, e PersonalDataErasure) error
}

// UserFinder looks users up.
type UserFinder interface {
	// User returns the user with id; ErrNotFound if there is none.
	User(ctx context.Context, id int64) (User, error)
	// UserByEmail returns the user with email (lower case); ErrNotFound if
	// there is none.
	UserByEmail(ctx context.Context, email string) (User, error)
}

// HostUserStore keeps the users a host app vouches for.
type HostUserStore interface {
	// EnsureHostUser returns the user with u.Issuer and u.Subject (both
	// non-empty), adding u when there is none (its Email is
	// HostUserKey's), and setting Name and ContactEmail to u's when they
	// differ, unless the user is disabled (an erased user's claims stay
	// erased): one conditional statement, so that two instances seeing
	// the same new user at once both answer with one row. Disabled and
	// CreatedAt are kept as stored.
	EnsureHostUser(ctx context.Context, u User) (User, error)
}

// AccountStore keeps users and their API tokens.
type AccountStore interface {
	UserFinder
	// AddUser inserts u and returns its id; ErrExist if the email is taken.
	AddUser(ctx context.Context, u User) (int64, error)
	// AddAPIToken inserts t; ErrExist if its id or its selector has a row.
	AddAPIToken(ctx context.Context, t APIToken) error
	// APITokenBySelector returns the token with selector; ErrNotFound if
	// there is none.
	APITokenBySelector(ctx context.Context, selector string) (APIToken, error)
	// Users lists every user by id.
	Users(ctx context.Context) ([]User, error)
	// DisableUser sets Disabled on user id; ErrNotFound if there is none.
	DisableUser(ctx context.Context, id int64) error
	// EnableUser clears Disabled on user id; ErrNotFound if there is none.
	EnableUser(ctx context.Context, id int64) error
	// SetPasswordHash replaces user id's PasswordHash; ErrNotFound if
	// there is none.
	SetPasswordHash(ctx context.Context, id int64, hash []byte) error
	// APITokens lists the tokens of user id, oldest first.
	APITokens(ctx context.Context, userID int64) ([]APIToken, error)
	// DeleteAPIToken removes token id; ErrNotFound if there is none.
	DeleteAPIToken(ctx context.Context, id string) error
	// TouchAPIToken sets token id's LastUsed to at, unless it is later
	// already; a missing token is no error.
	TouchAPIToken(ctx context.Context, id string, at time.Time) error
}

// UploadClaim asks ClaimUpload to publish an upload.
type UploadClaim struct {
	Token   string
	BrandID string
	// Claimant is the signed-in user claiming, 0 for anonymous: an upload
	// made by a signed-in user is published only for that user.
	Claimant  int64
	NotBefore time.Time // uploads created earlier have expired
	At        time.Time // the image's CreatedAt
	// Outbox returns the entries to enqueue, in the claim's transaction,
	// for the image published (its webhook event); nil for none.
	Outbox func(published Image) []OutboxEntry
}

// TokenStatus is what is recorded of an upload token, to tell why a
// transition was refused. At most one of Upload and Image is set; an
// image taken down leaves only TakenDown.
type TokenStatus struct {
	Upload    *Upload // its upload row, in StateCreated or StateReceived
	Image     *Image  // the image claimed from it
	TakenDown bool    // the image claimed from it was taken down
	// TakenDownUploader, when TakenDown, is the user id the image taken
	// down was uploaded by (0: anonymous).
	TakenDownUploader int64
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
//   - Any other error is a fault of the store, marked with StoreFault
//     (ErrUnavailable, or ErrFull for a full one; syscall.ENOSPC is
//     recognised too). An unmarked error is a bug, answered 500.
type BlobStore interface {
	Put(ctx context.Context, key string, r io.Reader) error
	Open(ctx context.Context, key string) (Blob, error)
	Delete(ctx context.Context, key string) error
	List(ctx context.Context, prefix string, fn func(key string, modTime time.Time) error) error
}

// Scratch holds one PUT body while it is checked: written once, read back
// by seeking, never durable, gone when closed.
type Scratch interface {
	io.Writer
	io.ReadSeeker
	io.Closer
}

// ScratchSpace makes Scratch files on the same disk as the blob store, so
// that a full disk refuses a body before any of it is checked.
//
// Contract: Scratch returns an empty Scratch, or an error that is a fault
// of the store (ErrFull or syscall.ENOSPC when full).
type ScratchSpace interface {
	Scratch() (Scratch, error)
}

// DiskSpace tells how full the local disk holding the stores is, so that
// an instance stops taking uploads (Ready fails) before the disk is full.
//
// Contract: FreeSpace returns the bytes still available to the process,
// or errors.ErrUnsupported where the system cannot tell.
type DiskSpace interface {
	FreeSpace() (int64, error)
}

// UploadTarget says where and how a client PUTs an upload's bytes.
type UploadTarget struct {
	URL     string
	Headers map[string]string
}

// UploadSigner issues the presigned URL of step 2.
//
// Contract: the URL accepts one PUT, within ttl of now, of a body sent with
// exactly the returned headers; it stores the bytes under p.Key. p.BaseURL
// is the server's public base URL (scheme and host) for signers that point
// at this server; others ignore it. Errors are faults of the signer.
type UploadSigner interface {
	PresignPut(ctx context.Context, p PresignParams) (UploadTarget, error)
}

// UploadCarrier is an UploadSigner whose URLs point at this server and
// carry, signed, the Upload they were issued for. Uploads then records
// an upload only when its bytes arrive (ReceiveUpload), and step 1 writes
// nothing; the HTTP layer serves the PUT route and hands each PUT to
// Verify (Uploads.Carrier).
//
// Contract of Verify: it checks that r is a PUT through a URL this signer
// issued, unchanged, with every signed header as issued, before it
// expired, and returns the Upload the URL was issued for; otherwise an
// *Error with api.CodeSignatureMismatch or api.CodeUploadURLExpired. It
// reads no body.
type UploadCarrier interface {
	UploadSigner
	Verify(r *http.Request, now time.Time) (Upload, error)
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
