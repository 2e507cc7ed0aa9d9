// Package core owns the upload policy of userimages: the three steps of the
// Zendesk User Images API (create an upload, receive its bytes, claim it as
// an image), their limits, tokens, expiry and validation, and the sweeping
// of what is never claimed. Storage and URL signing are adapters behind the
// small interfaces in store.go.
package core

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/oklog/ulid/v2"
	"golang.org/x/crypto/bcrypt"

	"userimages/imagesafe"
)

// Service runs the upload flow. Create it with New.
type Service struct {
	cfg    Config
	meta   MetadataStore
	blobs  BlobStore
	signer UploadSigner
	// carried: the signer's URLs carry their uploads, which are recorded
	// when their bytes arrive rather than at step 1.
	carried bool
	now     func() time.Time
	log     *slog.Logger
	// dummyHash is compared against when a user or token does not exist,
	// so that such failures take as long as wrong passwords.
	dummyHash []byte
	// hashSlots bounds the password hash checks running at once.
	hashSlots chan struct{}
	// images caches published images' metadata for OpenImage.
	images imageCache
}

// Deps are the adapters a Service runs on. Now defaults to time.Now and Log
// to slog.Default.
type Deps struct {
	Meta   MetadataStore
	Blobs  BlobStore
	Signer UploadSigner
	Now    func() time.Time
	Log    *slog.Logger
}

// New returns a Service, or an error if cfg is invalid.
func New(cfg Config, d Deps) (*Service, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	if d.Meta == nil || d.Blobs == nil || d.Signer == nil {
		return nil, errors.New("new service: Meta, Blobs and Signer are required")
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Log == nil {
		d.Log = slog.Default()
	}
	dummy, err := bcrypt.GenerateFromPassword([]byte("userimages-dummy"), cfg.PasswordCost)
	if err != nil {
		return nil, fmt.Errorf("new service: %w", err)
	}
	_, carried := d.Signer.(UploadCarrier)
	return &Service{cfg: cfg, meta: d.Meta, blobs: d.Blobs, signer: d.Signer, carried: carried, now: d.Now, log: d.Log, dummyHash: dummy,
		hashSlots: make(chan struct{}, max(1, runtime.GOMAXPROCS(0)/2))}, nil
}

// Config returns the effective configuration, defaults filled in.
func (s *Service) Config() Config { return s.cfg }

// Object keys: staging holds uploaded, unclaimed bytes; images the published.
func stagingKey(token string) string { return "staging/" + token }

// ImageKey is the object key of a published image's bytes, for serving them
// from the object store or a CDN in front of it.
func ImageKey(id string) string { return "images/" + id }

// CreateUploadInput is step 1's request.
type CreateUploadInput struct {
	ContentType string
	FileSize    int64
	Uploader    Uploader
	// BaseURL is the public scheme://host the upload URL points at when the
	// bytes go to this server.
	BaseURL string
}

// CreatedUpload is step 1's answer.
type CreatedUpload struct {
	Token string
	UploadTarget
}

// CreateUpload validates the declared type and size and returns the
// upload's token and presigned PUT target. The upload is recorded now when
// the bytes go to an object store; when they come to this server, its URL
// carries it (UploadCarrier) and it is recorded as they arrive, so that
// this step touches no disk.
func (s *Service) CreateUpload(ctx context.Context, in CreateUploadInput) (CreatedUpload, error) {
	ct := strings.ToLower(strings.TrimSpace(in.ContentType))
	if !slices.Contains(s.cfg.ContentTypes, ct) {
		return CreatedUpload{}, propertyError(CodeUnsupportedContentType, "/content_type",
			"content_type %q is not accepted; use one of %s", in.ContentType, strings.Join(s.cfg.ContentTypes, ", "))
	}
	switch {
	case in.FileSize < 1:
		return CreatedUpload{}, propertyError(CodeInvalidFileSize, "/file_size", "file_size must be a positive number of bytes")
	case in.FileSize > s.cfg.MaxFileSize:
		return CreatedUpload{}, propertyError(CodeFileTooLarge, "/file_size",
			"file_size %d is over the limit of %d bytes", in.FileSize, s.cfg.MaxFileSize)
	}
	now := s.now()
	token, err := ulid.New(ulid.Timestamp(now), rand.Reader)
	if err != nil {
		return CreatedUpload{}, fmt.Errorf("new token: %w", err)
	}
	up := Upload{Token: token.String(), ContentType: ct, FileSize: in.FileSize, CreatedAt: now, Uploader: in.Uploader}
	ext, _ := Extension(ct)
	target, err := s.signer.PresignPut(ctx, PresignParams{
		BaseURL:  in.BaseURL,
		Key:      stagingKey(up.Token),
		Token:    up.Token,
		Headers:  s.uploadHeaders(up.Token+"."+ext, ct),
		FileSize: in.FileSize,
		Uploader: in.Uploader,
		Now:      now,
		TTL:      s.cfg.UploadURLTTL,
	})
	if err != nil {
		return CreatedUpload{}, fmt.Errorf("presign upload %s: %w", up.Token, err)
	}
	if s.carried {
		return CreatedUpload{Token: up.Token, UploadTarget: target}, nil
	}
	// Recorded last, so that a failure above leaves nothing behind.
	if err := s.meta.CreateUpload(ctx, up); err != nil {
		return CreatedUpload{}, fmt.Errorf("create upload %s: %w", up.Token, err)
	}
	return CreatedUpload{Token: up.Token, UploadTarget: target}, nil
}

// uploadHeaders are the headers an upload URL signs and its PUT must send.
func (s *Service) uploadHeaders(filename, contentType string) map[string]string {
	h := map[string]string{
		"Content-Disposition": fmt.Sprintf("attachment; filename=%q", filename),
		"Content-Type":        contentType,
	}
	if sse := s.cfg.ServerSideEncryption; sse != "none" {
		h["X-Amz-Server-Side-Encryption"] = sse
	}
	return h
}

// ReceiveUpload stores the body of step 2's PUT for up, the upload its
// verified URL carries (see UploadCarrier; FileSize 0 for a URL issued
// before URLs carried uploads, whose upload was recorded at step 1), and
// records the upload.
// contentLength is the request's declared length (-1 if unknown); body is
// read at most to the declared file size plus one byte, and nothing is
// stored unless exactly file_size bytes arrive.
func (s *Service) ReceiveUpload(ctx context.Context, up Upload, contentLength int64, body io.Reader) error {
	if up.FileSize == 0 {
		// A URL from before URLs carried their uploads: the upload was
		// recorded at step 1.
		recorded, err := s.meta.Upload(ctx, up.Token)
		if errors.Is(err, ErrNotFound) {
			return Errorf(CodeTokenNotFound, "no upload has this token")
		} else if err != nil {
			return fmt.Errorf("receive %s: %w", up.Token, err)
		}
		up = recorded
	}
	if s.now().After(up.CreatedAt.Add(s.cfg.ClaimWindow)) {
		// Only when the URL lives as long as the claim window: then the
		// upload could be swept as soon as it is recorded.
		return Errorf(CodeTokenExpired, "this upload's claim window has passed; request a new upload URL")
	}
	if _, err := s.meta.ImageByToken(ctx, up.Token); err == nil {
		return Errorf(CodeAlreadyUploaded, "this upload was already received and claimed")
	} else if !errors.Is(err, ErrNotFound) {
		return fmt.Errorf("receive %s: %w", up.Token, err)
	}
	if gone, err := s.meta.TakenDown(ctx, up.Token); err != nil {
		return fmt.Errorf("receive %s: %w", up.Token, err)
	} else if gone {
		return Errorf(CodeAlreadyUploaded, "this upload was claimed, and its image taken down by a moderator")
	}
	if contentLength > up.FileSize {
		return Errorf(CodePayloadTooLarge, "the body is %d bytes, more than the declared file_size %d", contentLength, up.FileSize)
	}
	if contentLength >= 0 && contentLength < up.FileSize {
		return Errorf(CodeIncompleteBody, "the body is %d bytes, less than the declared file_size %d", contentLength, up.FileSize)
	}
	// Refuse what is plainly not the declared image before storing a byte.
	// The limit is under the buffer, so nothing past it is read.
	br := bufio.NewReaderSize(io.LimitReader(body, up.FileSize+1), 4096)
	head, _ := br.Peek(int(min(up.FileSize, sniffLen)))
	if err := imagesafe.Sniff(head, up.ContentType, s.imageOptions()); err != nil {
		return imageError(err, up.ContentType)
	}
	// The row before the bytes, as the sweeper expects (staged bytes
	// without a row are garbage). A row left without bytes, by a failed
	// body or a crash, only makes a claim answer NotUploaded until the
	// upload expires; a PUT again finds it there.
	err := s.meta.CreateUpload(ctx, up)
	recorded := err == nil
	if err != nil && !errors.Is(err, ErrExist) {
		return fmt.Errorf("receive %s: record: %w", up.Token, err)
	}
	err = s.blobs.Put(ctx, stagingKey(up.Token), &exactReader{r: br, want: up.FileSize})
	if err != nil {
		// Nothing is kept of a refused body, unless another PUT of the
		// same URL stored its bytes meanwhile: they need the row.
		if recorded && !errors.Is(err, ErrExist) && !s.staged(ctx, up.Token) {
			if derr := s.meta.DeleteExpiredUpload(ctx, up.Token, s.now().Add(time.Hour)); derr != nil && !errors.Is(derr, ErrNotFound) {
				s.log.WarnContext(ctx, "delete upload row failed; the sweeper will", "token", up.Token, "err", derr)
			}
		}
		if errors.Is(err, ErrExist) {
			return Errorf(CodeAlreadyUploaded, "this upload was already received; request a new upload URL to send another file")
		}
		return fmt.Errorf("receive %s: %w", up.Token, err)
	}
	// A 200 needs the row as well as the bytes: a refused PUT of the same
	// URL may have deleted it just before these bytes were stored.
	if err := s.meta.CreateUpload(ctx, up); err != nil && !errors.Is(err, ErrExist) {
		s.deleteBlob(ctx, stagingKey(up.Token))
		return fmt.Errorf("receive %s: record: %w", up.Token, err)
	}
	// A claim of an earlier PUT's bytes may have published the upload
	// while this body streamed, or (when URLs live as long as the claim
	// window) the window closed: these bytes would never be served, so
	// they must not get a 200.
	if _, err := s.meta.ImageByToken(ctx, up.Token); err == nil {
		s.deleteBlob(ctx, stagingKey(up.Token))
		return Errorf(CodeAlreadyUploaded, "this upload was already received and claimed")
	}
	if s.now().After(up.CreatedAt.Add(s.cfg.ClaimWindow)) {
		s.deleteBlob(ctx, stagingKey(up.Token))
		return Errorf(CodeTokenExpired, "this upload's claim window closed while its body was being received")
	}
	return nil
}

// staged reports whether bytes are staged for token; when the store cannot
// tell, it says yes, so that nothing is deleted on a guess.
func (s *Service) staged(ctx context.Context, token string) bool {
	b, err := s.blobs.Open(ctx, stagingKey(token))
	if err != nil {
		return !errors.Is(err, ErrNotFound)
	}
	b.Close()
	return true
}

// exactReader yields r's bytes and fails unless there are exactly want.
type exactReader struct {
	r    io.Reader
	want int64
	got  int64
}

func (e *exactReader) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	e.got += int64(n)
	if e.got > e.want {
		return n, Errorf(CodePayloadTooLarge, "the body is longer than the declared file_size %d", e.want)
	}
	if err == io.EOF && e.got < e.want {
		return n, Errorf(CodeIncompleteBody, "the body ended after %d of the declared %d bytes", e.got, e.want)
	}
	if err != nil && err != io.EOF {
		return n, &Error{Code: CodeIncompleteBody, Message: "the body could not be read to its end", Err: err}
	}
	return n, err
}

// Claim publishes the uploaded bytes of token as an image of brandID (step
// 3). Claiming a claimed token again for the same brand returns the same
// image; for another brand it fails with CodeAlreadyClaimed.
func (s *Service) Claim(ctx context.Context, token, brandID string) (Image, error) {
	if !ValidToken(token) {
		return Image{}, propertyError(CodeInvalidProperty, "/token", "token must be the 26-character token returned when the upload was created")
	}
	if !validBrandID(brandID) {
		return Image{}, propertyError(CodeInvalidProperty, "/brand_id", "brand_id must be 1 to 64 letters, digits, '-' or '_'")
	}
	if img, err := s.meta.ImageByToken(ctx, token); err == nil {
		return sameBrand(img, brandID)
	} else if !errors.Is(err, ErrNotFound) {
		return Image{}, fmt.Errorf("claim %s: %w", token, err)
	}
	img, err := s.publish(ctx, token, brandID)
	if err == nil {
		return img, nil
	}
	// A concurrent claim of the same token may have published it meanwhile,
	// deleting the staged bytes this claim was reading (which then look
	// missing, cut short or not an image), or the sweeper expired it.
	if winner, werr := s.meta.ImageByToken(ctx, token); werr == nil {
		return sameBrand(winner, brandID)
	}
	if ErrorCode(err) == CodeNotUploaded && !errors.Is(err, errNoUploadRow) {
		// The upload was there, its bytes not: the sweeper took both.
		if _, uerr := s.meta.Upload(ctx, token); errors.Is(uerr, ErrNotFound) {
			return Image{}, propertyError(CodeTokenExpired, "/token", "this upload has expired")
		}
	}
	return Image{}, err
}

// errNoUploadRow marks a claim of a carried upload whose bytes never
// arrived, so that it is not taken for one the sweeper expired.
var errNoUploadRow = errors.New("no upload row")

// publish checks and publishes the staged upload of token.
func (s *Service) publish(ctx context.Context, token, brandID string) (Image, error) {
	up, err := s.meta.Upload(ctx, token)
	if errors.Is(err, ErrNotFound) {
		// Uploads carried by their URLs have no row until their bytes
		// arrive: a recent token is most likely one whose PUT is missing.
		if age := s.now().Sub(TokenTime(token)); s.carried && age > -time.Minute && age < s.cfg.ClaimWindow {
			return Image{}, &Error{Code: CodeNotUploaded, Err: errNoUploadRow,
				Message: "no image bytes have been uploaded with this token; PUT them to the upload URL first"}
		}
		return Image{}, propertyError(CodeTokenNotFound, "/token", "no upload has this token")
	}
	if err != nil {
		return Image{}, fmt.Errorf("claim %s: %w", token, err)
	}
	if s.now().After(up.CreatedAt.Add(s.cfg.ClaimWindow)) {
		return Image{}, propertyError(CodeTokenExpired, "/token", "this upload was not claimed within %s and has expired", s.cfg.ClaimWindow)
	}
	// One image per token, even when its upload URL is replayed after a
	// moderator took the image down.
	if gone, err := s.meta.TakenDown(ctx, token); err != nil {
		return Image{}, fmt.Errorf("claim %s: %w", token, err)
	} else if gone {
		return Image{}, propertyError(CodeAlreadyClaimed, "/token", "this upload was claimed, and its image taken down by a moderator")
	}
	if ok, err := s.meta.BrandExists(ctx, brandID); err != nil {
		return Image{}, fmt.Errorf("claim %s: brand %s: %w", token, brandID, err)
	} else if !ok {
		return Image{}, propertyError(CodeBrandNotFound, "/brand_id", "brand %q does not exist; an operator registers brands with `userimages brand add` or `serve --brand`", brandID)
	}
	id, err := newImageID()
	if err != nil {
		return Image{}, err
	}
	img, err := s.storeSafeCopy(ctx, up, ImageKey(id))
	if err != nil {
		return Image{}, err
	}
	img.ID, img.BrandID, img.CreatedAt = id, brandID, s.now()
	if blocked, err := s.meta.IsBlocked(ctx, img.SHA256); err != nil || blocked {
		s.deleteBlob(ctx, ImageKey(id))
		if err != nil {
			return Image{}, fmt.Errorf("claim %s: blocklist: %w", token, err)
		}
		return Image{}, Errorf(CodeBlockedContent, "this image was taken down by a moderator and may not be uploaded again")
	}
	if err := s.meta.PublishImage(ctx, img); err != nil {
		s.deleteBlob(ctx, ImageKey(id))
		switch {
		case errors.Is(err, ErrExist): // a concurrent claim won
			winner, err := s.meta.ImageByToken(ctx, token)
			if err != nil {
				return Image{}, fmt.Errorf("claim %s: %w", token, err)
			}
			return sameBrand(winner, brandID)
		case errors.Is(err, ErrNotFound): // swept meanwhile
			return Image{}, propertyError(CodeTokenExpired, "/token", "this upload has expired")
		}
		return Image{}, fmt.Errorf("claim %s: publish: %w", token, err)
	}
	s.deleteBlob(ctx, stagingKey(token))
	return img, nil
}

// storeSafeCopy checks the staged bytes of up and stores the copy to serve
// under key: the image cut at its end and, by default, stripped of
// metadata. The returned Image has the served size and hash.
//
// The copy is written from the opened blob even when nothing is cut, never
// copied by key: an object store's presigned URL can be PUT to again until
// it expires, and a copy by key could publish bytes that were never checked.
func (s *Service) storeSafeCopy(ctx context.Context, up Upload, key string) (Image, error) {
	b, err := s.blobs.Open(ctx, stagingKey(up.Token))
	if errors.Is(err, ErrNotFound) {
		return Image{}, Errorf(CodeNotUploaded, "the image bytes have not been uploaded; PUT them to the upload URL first")
	}
	if err != nil {
		return Image{}, fmt.Errorf("open staged %s: %w", up.Token, err)
	}
	defer b.Close()
	if b.Size() != up.FileSize {
		return Image{}, Errorf(CodeIncompleteBody, "the uploaded bytes are %d long, not the declared %d", b.Size(), up.FileSize)
	}
	plan, err := imagesafe.Inspect(b, up.ContentType, s.imageOptions())
	if err != nil {
		return Image{}, fmt.Errorf("check staged %s: %w", up.Token, imageError(err, up.ContentType))
	}
	h := sha256.New()
	err = s.blobs.Put(ctx, key, io.TeeReader(plan.Reader(b), h))
	if errors.Is(err, ErrNotFound) {
		return Image{}, Errorf(CodeNotUploaded, "the image bytes have not been uploaded")
	}
	if err != nil {
		return Image{}, fmt.Errorf("store %s: %w", key, err)
	}
	return Image{Token: up.Token, ContentType: up.ContentType, Size: plan.Size(),
		SHA256: hex.EncodeToString(h.Sum(nil)), Uploader: up.Uploader}, nil
}

func sameBrand(img Image, brandID string) (Image, error) {
	if img.BrandID != brandID {
		return Image{}, propertyError(CodeAlreadyClaimed, "/token", "this upload was already claimed for another brand")
	}
	return img, nil
}

// deleteBlob deletes key, logging failure: leftovers are swept later.
func (s *Service) deleteBlob(ctx context.Context, key string) {
	if err := s.blobs.Delete(ctx, key); err != nil {
		s.log.WarnContext(ctx, "delete blob failed; the sweeper will retry", "key", key, "err", err)
	}
}

// PublishedImage returns the image published under id with extension ext.
// Unknown ids, malformed ids and wrong extensions are CodeNotFound.
func (s *Service) PublishedImage(ctx context.Context, id, ext string) (Image, error) {
	notFound := Errorf(CodeNotFound, "no image at this path")
	if !ValidImageID(id) {
		return Image{}, notFound
	}
	img, err := s.meta.Image(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return Image{}, notFound
	}
	if err != nil {
		return Image{}, fmt.Errorf("image %s: %w", id, err)
	}
	if e, _ := Extension(img.ContentType); e != ext {
		return Image{}, notFound
	}
	return img, nil
}

// OpenImage returns the image published under id with extension ext, as
// PublishedImage does, and its bytes. Its metadata comes from the image
// cache when there (see imagecache.go).
func (s *Service) OpenImage(ctx context.Context, id, ext string) (Image, Blob, error) {
	now := s.now()
	img, cached := s.images.get(id, now)
	if cached {
		if e, _ := Extension(img.ContentType); e != ext {
			return Image{}, nil, Errorf(CodeNotFound, "no image at this path")
		}
		b, err := s.blobs.Open(ctx, ImageKey(id))
		if err == nil {
			return img, b, nil
		}
		// Taken down on another instance (the bytes go after the row), or
		// failing: ask the metadata store again.
		s.images.remove(id)
	}
	img, err := s.PublishedImage(ctx, id, ext)
	if err != nil {
		return Image{}, nil, err
	}
	b, err := s.blobs.Open(ctx, ImageKey(id))
	if errors.Is(err, ErrNotFound) {
		// A takedown between the lookup and the open deletes the row
		// before the bytes: then this path is gone, not broken.
		if _, lerr := s.meta.Image(ctx, id); errors.Is(lerr, ErrNotFound) {
			return Image{}, nil, Errorf(CodeNotFound, "no image at this path")
		}
	}
	if err != nil {
		return Image{}, nil, fmt.Errorf("image %s: open bytes: %w", id, err)
	}
	s.images.add(img, now)
	return img, b, nil
}

// Path is where an image is served.
func Path(img Image) string {
	ext, _ := Extension(img.ContentType)
	return "/hc/user_images/" + img.ID + "." + ext
}

func newImageID() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("new image id: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}

// TokenTime is when an upload token was issued: its ULID's timestamp.
func TokenTime(token string) time.Time {
	id, err := ulid.ParseStrict(token)
	if err != nil {
		return time.Time{}
	}
	return ulid.Time(id.Time()).UTC()
}

// ValidToken reports whether s is a canonical (upper-case) ULID.
func ValidToken(s string) bool {
	id, err := ulid.ParseStrict(s)
	return err == nil && id.String() == s
}

// ValidImageID reports whether s is 22 characters of canonical URL-safe
// base64 encoding 16 bytes.
func ValidImageID(s string) bool {
	if len(s) != 22 {
		return false
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	return err == nil && base64.RawURLEncoding.EncodeToString(b) == s
}

func validBrandID(s string) bool {
	if len(s) < 1 || len(s) > 64 {
		return false
	}
	for _, c := range s {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}
