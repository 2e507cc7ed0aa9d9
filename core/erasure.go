package core

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/userimages/userimages/client/api"
)

// Erasure takes back what people posted: an uploader deletes their own
// image, signed in or, for an anonymous upload, with the upload token it
// was claimed from (the page that uploaded it is the only one that knows
// it). Every deletion is a takedown through Moderation (a Takedowner), so
// that its variants, its bytes, the caches in front and the audit log are
// dealt with in one place. Create it with NewErasure.
type Erasure struct {
	images   ImageReader
	takeDown Takedowner
	// tokenWindow is Config.TokenDeleteWindow; negative: tokens delete
	// nothing.
	tokenWindow time.Duration
	now         func() time.Time
	log         *slog.Logger
}

// Takedowner takes one image down, with an audit record of who did it and
// why (Moderation does): its row, variants and bytes go, and the caches in
// front are told. An image that is not published is api.CodeNotFound.
type Takedowner interface {
	DeleteImage(ctx context.Context, id, by, reason string, block bool) (Image, error)
}

// ErasureDeps are the roles Erasure calls.
type ErasureDeps struct {
	Images   ImageReader
	TakeDown Takedowner
	Runtime
}

// ReasonDeletedByUploader is the audit log's reason for an image its
// uploader deleted.
const ReasonDeletedByUploader = "deleted by its uploader"

// ByUploadToken is the audit log's Deletion.By of an image deleted with
// its upload token (an anonymous upload's page).
const ByUploadToken = "upload-token"

// NewErasure returns Erasure, or an error if cfg is invalid or a role is
// missing.
func NewErasure(cfg Config, d ErasureDeps) (*Erasure, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	if d.Images == nil || d.TakeDown == nil {
		return nil, errors.New("new erasure: every role is required")
	}
	rt := d.Runtime.withDefaults()
	return &Erasure{images: d.Images, takeDown: d.TakeDown, tokenWindow: cfg.TokenDeleteWindow, now: rt.Now, log: rt.Log}, nil
}

// DeleteOwnImage deletes image id for the signed-in user userID who
// uploaded it. Anyone else's image, and one that does not exist, is the
// same api.CodeNotFound: the answer tells nothing of other people's
// images.
func (s *Erasure) DeleteOwnImage(ctx context.Context, id string, userID int64) (err error) {
	defer func() { err = Classify(err) }()
	img, err := s.image(ctx, id)
	if err != nil {
		return err
	}
	if userID == 0 || img.Uploader.UserID != userID {
		return notFound(id)
	}
	_, err = s.takeDown.DeleteImage(ctx, id, fmt.Sprintf("user:%d", userID), ReasonDeletedByUploader, false)
	return err
}

// DeleteWithUploadToken deletes image id for whoever holds the upload
// token it was claimed from, within Config.TokenDeleteWindow of its claim.
// A token that is not the image's (compared in constant time), and an
// image that does not exist, is api.CodeNotFound; the right token after
// the window is api.CodeForbidden, which tells its holder only what they
// know already.
func (s *Erasure) DeleteWithUploadToken(ctx context.Context, id, token string) (err error) {
	defer func() { err = Classify(err) }()
	img, err := s.image(ctx, id)
	if err != nil {
		return err
	}
	if subtle.ConstantTimeCompare([]byte(img.Token), []byte(token)) != 1 {
		return notFound(id)
	}
	if s.tokenWindow < 0 || s.now().After(img.CreatedAt.Add(s.tokenWindow)) {
		return Errorf(api.CodeForbidden, "an upload token deletes its image only for %s after the claim; ask the site's moderators", s.windowText())
	}
	_, err = s.takeDown.DeleteImage(ctx, id, ByUploadToken, ReasonDeletedByUploader, false)
	return err
}

// windowText says how long an upload token deletes its image.
func (s *Erasure) windowText() string {
	if s.tokenWindow < 0 {
		return "no time (the server turned it off)"
	}
	return s.tokenWindow.String()
}

// image returns the published image id, or api.CodeNotFound.
func (s *Erasure) image(ctx context.Context, id string) (Image, error) {
	if !ValidImageID(id) {
		return Image{}, notFound(id)
	}
	img, err := s.images.Image(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return Image{}, notFound(id)
	}
	if err != nil {
		return Image{}, fmt.Errorf("image %s: %w", id, err)
	}
	return img, nil
}

// notFound is the answer for an image that is not there, or not the
// caller's to see.
func notFound(id string) error {
	return Errorf(api.CodeNotFound, "no image has id %q", id)
}
