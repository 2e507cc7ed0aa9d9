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
	"slices"
	"strings"
	"time"

	"github.com/oklog/ulid/v2"
	"github.com/userimages/userimages/client/api"

	"userimages/imagesafe"
	"userimages/variant"
)

// Uploads runs steps 1 to 3 of an upload: create (CreateUpload), receive
// the bytes (ReceiveUpload) and claim them as an image (Claim). Create it
// with NewUploads.
type Uploads struct {
	cfg     Config
	uploads UploadStore
	brands  BrandChecker
	blocks  BlockChecker
	blobs   BlobStore
	signer  UploadSigner
	// carrier is signer when its URLs carry their uploads, which are
	// recorded when their bytes arrive rather than at step 1; else nil.
	carrier UploadCarrier
	// scratch holds PUT bodies while they are checked; nil when upload
	// URLs point elsewhere.
	scratch ScratchSpace
	pregen  Pregenerator
	// fingerprint hashes what a PUT accepted, and screen screens claims;
	// nil: nothing is hashed.
	fingerprint Fingerprinter
	screen      ClaimScreener
	// reviewer allows or refuses each image before it is published; nil:
	// none is asked.
	reviewer ClaimReviewer
	now      func() time.Time
	log      *slog.Logger
}

// Fingerprinter computes the perceptual hash of an accepted image, and
// refuses one that resembles a blocked picture (Resemblance does).
type Fingerprinter interface {
	// Fingerprint reads the whole image from src; it returns an *Error
	// (api.CodeBlockedContent) to refuse it, and no error for a picture it
	// cannot hash (Quality -1) or leaves to HashLater (the zero
	// Fingerprint).
	Fingerprint(ctx context.Context, src io.Reader, contentType string) (Fingerprint, error)
	// HashLater has the image stored under ImageKey(imageID) hashed off
	// the request path, and its hash stored; it returns at once.
	HashLater(imageID, contentType string)
}

// ClaimScreener refuses the claim of an upload that resembles a picture
// blocked since its PUT (Resemblance does).
type ClaimScreener interface {
	// Screening reports whether any picture is blocked: only then does a
	// claim read its upload to screen it.
	Screening() bool
	// ScreenClaim returns an *Error (api.CodeBlockedContent) when received
	// upload up resembles a blocked picture, hashing it first when it has
	// no hash; another error when its bytes cannot be read.
	ScreenClaim(ctx context.Context, up Upload) error
	// Hashed returns received upload up's hash, hashing it now (and
	// storing the hash) when it has none yet: for the claim hook.
	Hashed(ctx context.Context, up Upload) (Fingerprint, error)
}

// Pregenerator makes an image's configured variants in the background
// once it is claimed (Serving does).
type Pregenerator interface {
	// Pregenerate returns at once; failures are the pregenerator's to log.
	Pregenerate(img Image)
}

// UploadsDeps are the roles Uploads calls. Scratch is required when
// Signer's URLs point at this server (an UploadCarrier), which then
// receives the PUTs. Pregen, when set, is told of every claimed image.
type UploadsDeps struct {
	Uploads UploadStore
	Brands  BrandChecker
	Blocks  BlockChecker
	Blobs   BlobStore
	Signer  UploadSigner
	Scratch ScratchSpace
	Pregen  Pregenerator
	// Fingerprint, when set, hashes every accepted image (stored with it)
	// and refuses those resembling a blocked picture; Screen, when set,
	// refuses their claims when a picture they resemble was blocked since.
	Fingerprint Fingerprinter
	Screen      ClaimScreener
	// Reviewer, when set, is asked about every image before it is
	// published (the claim hook), within Config.ClaimReviewTimeout.
	Reviewer ClaimReviewer
	Runtime
}

// Carrier returns the signer when its upload URLs carry their uploads to
// this server, whose PUTs are then verified with it; nil when they point
// elsewhere (an object store).
func (s *Uploads) Carrier() UploadCarrier { return s.carrier }

// NewUploads returns Uploads, or an error if cfg is invalid or a required
// role is missing.
func NewUploads(cfg Config, d UploadsDeps) (*Uploads, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	if d.Uploads == nil || d.Brands == nil || d.Blocks == nil || d.Blobs == nil || d.Signer == nil {
		return nil, errors.New("new uploads: Uploads, Brands, Blocks, Blobs and Signer are required")
	}
	carrier, _ := d.Signer.(UploadCarrier)
	if carrier != nil && d.Scratch == nil {
		return nil, errors.New("new uploads: Scratch is required when upload URLs point at this server")
	}
	rt := d.Runtime.withDefaults()
	return &Uploads{cfg: cfg, uploads: d.Uploads, brands: d.Brands, blocks: d.Blocks, blobs: d.Blobs, signer: d.Signer,
		carrier: carrier, scratch: d.Scratch, pregen: d.Pregen, fingerprint: d.Fingerprint, screen: d.Screen, reviewer: d.Reviewer, now: rt.Now, log: rt.Log}, nil
}

// Object keys: staging holds the bytes clients PUT to an object store,
// unchecked; images the checked copies, received or published.
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
func (s *Uploads) CreateUpload(ctx context.Context, in CreateUploadInput) (_ CreatedUpload, err error) {
	defer func() { err = Classify(err) }()
	ct := strings.ToLower(strings.TrimSpace(in.ContentType))
	if !slices.Contains(s.cfg.ContentTypes, ct) {
		return CreatedUpload{}, propertyError(api.CodeUnsupportedContentType, api.PropContentType,
			"content_type %q is not accepted; use one of %s", in.ContentType, strings.Join(s.cfg.ContentTypes, ", "))
	}
	switch {
	case in.FileSize < 1:
		return CreatedUpload{}, propertyError(api.CodeInvalidFileSize, api.PropFileSize, "file_size must be a positive number of bytes")
	case in.FileSize > s.cfg.MaxFileSize:
		e := propertyError(api.CodeFileTooLarge, api.PropFileSize,
			"file_size %d is over the limit of %d bytes", in.FileSize, s.cfg.MaxFileSize)
		e.Limit = s.cfg.MaxFileSize
		return CreatedUpload{}, e
	}
	now := s.now()
	token, err := ulid.New(ulid.Timestamp(now), rand.Reader)
	if err != nil {
		return CreatedUpload{}, fmt.Errorf("new token: %w", err)
	}
	up := Upload{Token: token.String(), ContentType: ct, FileSize: in.FileSize, CreatedAt: now, Uploader: in.Uploader, State: StateCreated}
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
	if s.carrier != nil {
		return CreatedUpload{Token: up.Token, UploadTarget: target}, nil
	}
	// Recorded last, so that a failure above leaves nothing behind.
	if err := s.uploads.CreateUpload(ctx, up); err != nil {
		return CreatedUpload{}, fmt.Errorf("create upload %s: %w", up.Token, err)
	}
	return CreatedUpload{Token: up.Token, UploadTarget: target}, nil
}

// uploadHeaders are the headers an upload URL signs and its PUT must send.
func (s *Uploads) uploadHeaders(filename, contentType string) map[string]string {
	h := map[string]string{
		"Content-Disposition": fmt.Sprintf("attachment; filename=%q", filename),
		"Content-Type":        contentType,
	}
	if sse := s.cfg.ServerSideEncryption; sse != "none" {
		h["X-Amz-Server-Side-Encryption"] = sse
	}
	return h
}

// ReceiveUpload takes the body of step 2's PUT for up, the upload its
// verified URL carries (see UploadCarrier): it checks the image as it
// streams in, stores the copy to serve once, durably, and records the
// upload as received (see lifecycle.go). contentLength is the request's
// declared length (-1 if unknown); body is read at most to the declared
// file size plus one byte, and nothing is recorded unless exactly
// file_size bytes of an acceptable image arrive.
func (s *Uploads) ReceiveUpload(ctx context.Context, up Upload, contentLength int64, body io.Reader) (err error) {
	defer func() { err = Classify(err) }()
	if s.scratch == nil {
		return errors.New("receive: no scratch space: upload URLs do not point at this server")
	}
	if s.now().After(up.CreatedAt.Add(s.cfg.ClaimWindow)) {
		// Only when the URL lives as long as the claim window.
		return Errorf(api.CodeTokenExpired, "this upload's claim window has passed; request a new upload URL")
	}
	// Refuse a used URL before reading its body; ReceiveUpload below
	// decides races.
	st, err := s.uploads.TokenStatus(ctx, up.Token)
	if err != nil {
		return fmt.Errorf("receive %s: %w", up.Token, err)
	}
	if err := receivedAlready(st); err != nil {
		return err
	}
	if contentLength > up.FileSize {
		return Errorf(api.CodePayloadTooLarge, "the body is %d bytes, more than the declared file_size %d", contentLength, up.FileSize)
	}
	if contentLength >= 0 && contentLength < up.FileSize {
		return Errorf(api.CodeIncompleteBody, "the body is %d bytes, less than the declared file_size %d", contentLength, up.FileSize)
	}
	// Refuse what is plainly not the declared image before storing a byte.
	// The limit is under the buffer, so nothing past it is read.
	br := bufio.NewReaderSize(io.LimitReader(body, up.FileSize+1), 4096)
	head, _ := br.Peek(int(min(up.FileSize, sniffLen)))
	if err := imagesafe.Sniff(head, up.ContentType, imageOptions(s.cfg)); err != nil {
		return imageError(err, up.ContentType)
	}
	scratch, err := s.scratch.Scratch()
	if err != nil {
		return fmt.Errorf("receive %s: scratch: %w", up.Token, err)
	}
	defer scratch.Close()
	// The body is checked as it arrives, and kept in scratch space (never
	// synced) for the safe copy to be cut from.
	plan, err := imagesafe.Inspect(io.TeeReader(&exactReader{r: br, want: up.FileSize}, scratch), up.ContentType, imageOptions(s.cfg))
	if err != nil {
		var bodyErr *Error
		if errors.As(err, &bodyErr) {
			return bodyErr // the body was too long, too short or broken off
		}
		return fmt.Errorf("receive %s: %w", up.Token, imageError(err, up.ContentType))
	}
	err = s.keepChecked(ctx, up, plan, scratch)
	if errors.Is(err, ErrExist) { // a racing PUT of the same URL won
		return Errorf(api.CodeAlreadyUploaded, "this upload was already received; request a new upload URL to send another file")
	}
	return err
}

// receivedAlready is the error of a PUT to an upload URL whose token has
// bytes already, or nil.
func receivedAlready(st TokenStatus) error {
	switch {
	case st.Image != nil:
		return Errorf(api.CodeAlreadyUploaded, "this upload was already received and claimed")
	case st.TakenDown:
		return Errorf(api.CodeAlreadyUploaded, "this upload was claimed, and its image taken down by a moderator")
	case st.Upload != nil:
		return Errorf(api.CodeAlreadyUploaded, "this upload was already received; request a new upload URL to send another file")
	}
	return nil
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
		return n, Errorf(api.CodePayloadTooLarge, "the body is longer than the declared file_size %d", e.want)
	}
	if err == io.EOF && e.got < e.want {
		return n, Errorf(api.CodeIncompleteBody, "the body ended after %d of the declared %d bytes", e.got, e.want)
	}
	if err != nil && err != io.EOF {
		return n, &Error{Code: api.CodeIncompleteBody, Message: "the body could not be read to its end", Err: err}
	}
	return n, err
}

// Claim publishes the uploaded bytes of token as an image of brandID (step
// 3) for claimant, the signed-in user claiming (0: anonymous). Claiming a
// claimed token again for the same brand returns the same image; for
// another brand it fails with api.CodeAlreadyClaimed.
//
// An upload made by a signed-in user is claimed only by that user: to
// anyone else, anonymous callers included, its token is answered as one
// no upload has, so that a token read elsewhere (a log, a proxy, a shared
// page) publishes nothing in the user's name. An anonymous upload is
// claimed by whoever holds its token, as on Zendesk.
//
// With a reviewer (UploadsDeps.Reviewer, the claim hook), the received
// bytes are published only once it allows them: a refusal is
// api.CodeContentRejected, with its reason; a review that fails is
// api.CodeServiceUnavailable unless Config.ClaimReviewOnError allows. Either
// way the upload stays received and unclaimed, so that claiming it again
// asks again (and the sweeper deletes it at the end of the claim window).
//
// On the embedded default the PUT has checked and stored the bytes, so the
// claim is one transition of the upload row. Otherwise the first attempt
// finds the upload created, not received: the claim then checks the staged
// object, stores its safe copy and tries again.
func (s *Uploads) Claim(ctx context.Context, token, brandID string, claimant int64) (img Image, err error) {
	defer func() { err = Classify(err) }()
	if !ValidToken(token) {
		return Image{}, propertyError(api.CodeInvalidProperty, api.PropToken, "token must be the 26-character token returned when the upload was created")
	}
	if !validBrandID(brandID) {
		return Image{}, propertyError(api.CodeInvalidProperty, api.PropBrandID, "brand_id must be 1 to 64 letters, digits, '-' or '_'")
	}
	checkedStaged := false
	// With a reviewer nothing is published before it has allowed the
	// received bytes: no transition is tried until then.
	reviewed := s.reviewer == nil
	for attempt := 0; ; attempt++ {
		if err := s.screenClaim(ctx, token, claimant); err != nil {
			return Image{}, err
		}
		if reviewed {
			img, err := s.publish(ctx, token, brandID, claimant, checkedStaged)
			if err == nil {
				return img, nil
			}
			// ErrExist: the image id or token is taken (a racing claim won).
			if !errors.Is(err, ErrNotFound) && !errors.Is(err, ErrExist) {
				return Image{}, fmt.Errorf("claim %s: %w", token, err)
			}
		}
		st, err := s.uploads.TokenStatus(ctx, token)
		if err != nil {
			return Image{}, fmt.Errorf("claim %s: %w", token, err)
		}
		if !st.claimableBy(claimant) {
			st = TokenStatus{} // answered as a token no upload has
		}
		if !reviewed && st.Upload != nil && st.Upload.State == StateReceived {
			if err := s.reviewReceived(ctx, token, brandID, st); err != nil {
				return Image{}, err
			}
			reviewed = true
			continue
		}
		if st.Upload != nil && st.Upload.State == StateCreated && !checkedStaged {
			checkedStaged = true
			if err := s.receiveStaged(ctx, *st.Upload, brandID); err != nil {
				// A racing claim may have received or published the upload
				// and deleted the staged bytes while this one read them:
				// then the upload's state is the answer, not this read's
				// failure.
				if after, serr := s.uploads.TokenStatus(ctx, token); serr != nil || after.Upload != nil && after.Upload.State == StateCreated {
					return Image{}, err
				}
				continue // claim what a racing claim received, or explain
			}
			continue
		}
		img, err = s.claimRefused(ctx, token, brandID, st)
		if !errors.Is(err, errRaced) || attempt == maxClaimAttempts {
			return img, err
		}
	}
}

// publish makes the claim's transition (ClaimUpload), and then deletes
// the staged bytes, if checkedStaged, and has the variants made; its
// errors are ClaimUpload's.
func (s *Uploads) publish(ctx context.Context, token, brandID string, claimant int64, checkedStaged bool) (Image, error) {
	at := s.now()
	img, err := s.uploads.ClaimUpload(ctx, UploadClaim{Token: token, BrandID: brandID, Claimant: claimant,
		NotBefore: at.Add(-s.cfg.ClaimWindow), At: at, Outbox: func(img Image) []OutboxEntry {
			return []OutboxEntry{eventEntry(EventImageClaimed, img, "", at)}
		}})
	if err != nil {
		return Image{}, err
	}
	if checkedStaged {
		deleteBlob(ctx, s.blobs, s.log, stagingKey(token))
	}
	if s.pregen != nil {
		s.pregen.Pregenerate(img)
	}
	return img, nil
}

// screenClaim refuses the claim of token's received upload, when
// pictures are blocked, if it resembles one (ClaimScreener).
func (s *Uploads) screenClaim(ctx context.Context, token string, claimant int64) error {
	if s.screen == nil || !s.screen.Screening() {
		return nil
	}
	st, err := s.uploads.TokenStatus(ctx, token)
	if err != nil {
		return fmt.Errorf("claim %s: %w", token, err)
	}
	if st.Upload == nil || st.Upload.State != StateReceived || !st.claimableBy(claimant) {
		return nil // ClaimUpload refuses it, or it is published already
	}
	if err := s.screen.ScreenClaim(ctx, *st.Upload); err != nil {
		return fmt.Errorf("claim %s: %w", token, err)
	}
	return nil
}

// reviewReceived asks the reviewer about st's received upload, unless
// the claim would be refused anyway (expired, unknown brand, blocked
// bytes): then it returns that refusal, and the reviewer is not called.
// An upload the background hasher has not come to yet is hashed first,
// so that the reviewer is told its hash; if that fails, it is asked
// without.
func (s *Uploads) reviewReceived(ctx context.Context, token, brandID string, st TokenStatus) error {
	if _, err := s.claimRefused(ctx, token, brandID, st); !errors.Is(err, errRaced) {
		return err
	}
	up := *st.Upload
	if s.screen != nil {
		if fp, err := s.screen.Hashed(ctx, up); err == nil {
			up.PDQ, up.PDQQuality = fp.PDQ, fp.Quality
		}
	}
	return s.review(ctx, up, brandID)
}

// claimableBy reports whether claimant (0: anonymous) may claim the
// upload st records: one made anonymously, or by claimant.
func (st TokenStatus) claimableBy(claimant int64) bool {
	var uploader int64
	switch {
	case st.Upload != nil:
		uploader = st.Upload.Uploader.UserID
	case st.Image != nil:
		uploader = st.Image.Uploader.UserID
	case st.TakenDown:
		uploader = st.TakenDownUploader
	}
	return uploader == 0 || uploader == claimant
}

// errRaced: a claim was refused only because a racing request moved the
// upload meanwhile; trying again settles it.
var errRaced = &Error{Code: api.CodeStorageUnavailable, Message: "the upload changed while it was being claimed; retry"}

// maxClaimAttempts bounds a claim's retries after races.
const maxClaimAttempts = 3

// claimRefused tells why ClaimUpload refused a claim, from the token's
// status read after it: the image when an equal claim won the race, else
// the error to answer.
func (s *Uploads) claimRefused(ctx context.Context, token, brandID string, st TokenStatus) (Image, error) {
	expired := propertyError(api.CodeTokenExpired, api.PropToken, "this upload was not claimed within %s and has expired", s.cfg.ClaimWindow)
	switch up := st.Upload; {
	case st.Image != nil:
		return sameBrand(*st.Image, brandID)
	case st.TakenDown:
		return Image{}, propertyError(api.CodeAlreadyClaimed, api.PropToken, "this upload was claimed, and its image taken down by a moderator")
	case up == nil:
		// No row: on the embedded default a recent token's bytes have not
		// arrived (its upload is recorded when they do); otherwise the
		// token expired and was swept, or never existed.
		if age := s.now().Sub(TokenTime(token)); s.carrier != nil && age > -time.Minute && age < s.cfg.ClaimWindow {
			return Image{}, propertyError(api.CodeNotUploaded, api.PropToken, "no image bytes have been uploaded with this token; PUT them to the upload URL first")
		}
		return Image{}, propertyError(api.CodeTokenNotFound, api.PropToken, "no upload has this token")
	case s.now().After(up.CreatedAt.Add(s.cfg.ClaimWindow)):
		return Image{}, expired
	}
	if ok, err := s.brands.BrandExists(ctx, brandID); err != nil {
		return Image{}, fmt.Errorf("claim %s: brand %s: %w", token, brandID, err)
	} else if !ok {
		return Image{}, propertyError(api.CodeBrandNotFound, api.PropBrandID, "brand %q does not exist; an operator registers brands with `userimages brand add` or `serve --brand`", brandID)
	}
	if st.Upload.State == StateReceived {
		if blocked, err := s.blocks.IsBlocked(ctx, st.Upload.SHA256); err != nil {
			return Image{}, fmt.Errorf("claim %s: blocklist: %w", token, err)
		} else if blocked {
			return Image{}, blockedError()
		}
	}
	// Nothing explains the refusal but a transition after it.
	return Image{}, errRaced
}

func blockedError() *Error {
	return Errorf(api.CodeBlockedContent, "this image was taken down by a moderator and may not be uploaded again")
}

// receiveStaged checks the bytes a client PUT straight to the object store
// for up (created), stores their safe copy and records the upload as
// received. brandID is checked first, so that a claim for an unknown brand
// reads nothing.
func (s *Uploads) receiveStaged(ctx context.Context, up Upload, brandID string) error {
	if ok, err := s.brands.BrandExists(ctx, brandID); err != nil {
		return fmt.Errorf("claim %s: brand %s: %w", up.Token, brandID, err)
	} else if !ok {
		return propertyError(api.CodeBrandNotFound, api.PropBrandID, "brand %q does not exist; an operator registers brands with `userimages brand add` or `serve --brand`", brandID)
	}
	b, err := s.blobs.Open(ctx, stagingKey(up.Token))
	if errors.Is(err, ErrNotFound) {
		return propertyError(api.CodeNotUploaded, api.PropToken, "the image bytes have not been uploaded; PUT them to the upload URL first")
	}
	if err != nil {
		return fmt.Errorf("open staged %s: %w", up.Token, err)
	}
	defer b.Close()
	if b.Size() != up.FileSize {
		return Errorf(api.CodeIncompleteBody, "the uploaded bytes are %d long, not the declared %d", b.Size(), up.FileSize)
	}
	// A store that ends a read early has failed: that is no truncated image.
	plan, err := imagesafe.Inspect(imagesafe.ExactReader(b, b.Size()), up.ContentType, imageOptions(s.cfg))
	if err != nil {
		return fmt.Errorf("check staged %s: %w", up.Token, imageError(err, up.ContentType))
	}
	// ErrExist: a racing claim recorded its copy first, which the next
	// attempt claims.
	if err := s.keepChecked(ctx, up, plan, b); err != nil && !errors.Is(err, ErrExist) {
		return err
	}
	return nil
}

// keepChecked stores the copy to serve of up's bytes, src, as plan says
// (the image cut at its end and, by default, stripped of metadata), under
// a new image id, and records up as received with it (see lifecycle.go).
// Bytes on the blocklist are refused before they are kept. When recording
// fails, with ErrExist if the token has its bytes already, the copy is
// deleted.
//
// The copy is written from src even when nothing is cut, never copied by
// key: an object store's presigned URL can be PUT to again until it
// expires, and a copy by key could publish bytes that were never checked.
func (s *Uploads) keepChecked(ctx context.Context, up Upload, plan *imagesafe.Plan, src io.ReadSeeker) error {
	id, err := newImageID()
	if err != nil {
		return err
	}
	if s.fingerprint != nil {
		fp, err := s.fingerprint.Fingerprint(ctx, plan.Reader(src), up.ContentType)
		if err != nil {
			return fmt.Errorf("keep %s: %w", up.Token, err)
		}
		up.PDQ, up.PDQQuality = fp.PDQ, fp.Quality
	}
	h := sha256.New()
	if err := s.blobs.Put(ctx, ImageKey(id), io.TeeReader(plan.Reader(src), h)); err != nil {
		return fmt.Errorf("store %s: %w", up.Token, err)
	}
	up.State, up.ImageID, up.Size, up.SHA256 = StateReceived, id, plan.Size(), hex.EncodeToString(h.Sum(nil))
	if up.Width, up.Height, err = uprightSize(plan, src, up.ContentType); err != nil {
		deleteBlob(ctx, s.blobs, s.log, ImageKey(id))
		return fmt.Errorf("keep %s: %w", up.Token, err)
	}
	blocked, err := s.blocks.IsBlocked(ctx, up.SHA256)
	if err == nil && blocked {
		err = blockedError()
	} else if err == nil {
		err = s.uploads.ReceiveUpload(ctx, up)
	}
	if err != nil {
		deleteBlob(ctx, s.blobs, s.log, ImageKey(id))
		return fmt.Errorf("keep %s: %w", up.Token, err)
	}
	if s.fingerprint != nil && up.PDQ == "" && up.PDQQuality == 0 {
		s.fingerprint.HashLater(id, up.ContentType)
	}
	return nil
}

// uprightSize is the size the checked copy of plan (cut from src) is shown
// at. The plan knows its orientation when metadata was stripped (the
// default); with Config.KeepMetadata the copy's header is read for it.
func uprightSize(plan *imagesafe.Plan, src io.ReadSeeker, contentType string) (w, h int, err error) {
	if plan.Orientation != 0 {
		w, h = plan.Upright()
		return w, h, nil
	}
	data, err := io.ReadAll(plan.Reader(src))
	if err != nil {
		return 0, 0, err
	}
	f, _ := api.FormatOf(contentType)
	vs, err := variant.Inspect(data, f)
	if err != nil {
		return plan.Width, plan.Height, nil // checked already; a format variants cannot decode
	}
	w, h = vs.Upright()
	return w, h, nil
}

func sameBrand(img Image, brandID string) (Image, error) {
	if img.BrandID != brandID {
		return Image{}, propertyError(api.CodeAlreadyClaimed, api.PropToken, "this upload was already claimed for another brand")
	}
	return img, nil
}

// deleteBlob deletes key, logging failure: leftovers are swept later.
func deleteBlob(ctx context.Context, blobs BlobStore, log *slog.Logger, key string) {
	if err := blobs.Delete(ctx, key); err != nil {
		log.WarnContext(ctx, "delete blob failed; the sweeper will retry", "key", key, "err", err)
	}
}

// Path is where an image is served.
func Path(img Image) string {
	ext, _ := Extension(img.ContentType)
	return api.RouteImage.Path(img.ID + "." + ext)
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
