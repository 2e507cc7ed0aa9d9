package core

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/userimages/userimages/client/api"
)

// Erasure takes back what people posted: an uploader deletes their own
// image, signed in or, for an anonymous upload, with the upload token it
// was claimed from (the page that uploaded it is the only one that knows
// it). Every deletion is a takedown through Moderation (a Takedowner), so
// that its variants, its bytes, the caches in front and the audit log are
// dealt with in one place. An operator erases a user: every image they
// uploaded is taken down, and their personal data goes (EraseUser).
// Create it with NewErasure.
type Erasure struct {
	images   ImageReader
	lister   ImageLister
	users    UserDisabler
	erasures ErasureStore
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

// UserDisabler finds users and disables them (AccountStore's methods).
type UserDisabler interface {
	UserFinder
	DisableUser(ctx context.Context, id int64) error
}

// ErasureDeps are the roles Erasure calls.
type ErasureDeps struct {
	Images   ImageReader
	Lister   ImageLister
	Users    UserDisabler
	Erasures ErasureStore
	TakeDown Takedowner
	Runtime
}

// ReasonDeletedByUploader is the audit log's reason for an image its
// uploader deleted.
const ReasonDeletedByUploader = "deleted by its uploader"

// ByUploadToken is the audit log's Deletion.By of an image deleted with
// its upload token (an anonymous upload's page).
const ByUploadToken = "upload-token"

// erasureReasonPrefix starts the reason of the takedowns of a user's
// erasure (the user id follows).
const erasureReasonPrefix = "erasure of user:"

// NewErasure returns Erasure, or an error if cfg is invalid or a role is
// missing.
func NewErasure(cfg Config, d ErasureDeps) (*Erasure, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	if d.Images == nil || d.Lister == nil || d.Users == nil || d.Erasures == nil || d.TakeDown == nil {
		return nil, errors.New("new erasure: every role is required")
	}
	rt := d.Runtime.withDefaults()
	return &Erasure{images: d.Images, lister: d.Lister, users: d.Users, erasures: d.Erasures, takeDown: d.TakeDown, tokenWindow: cfg.TokenDeleteWindow, now: rt.Now, log: rt.Log}, nil
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

// Erased says what EraseUser did.
type Erased struct {
	User      User
	TakenDown []Image // the images taken down, each with its audit record
}

// EraseUser erases the user with email, by by for reason: the account is
// disabled first (no more uploads, sign-ins or API calls), then every
// image they uploaded is taken down through Moderation, each with its
// audit record and the purge of the caches in front, then their personal
// data goes (ErasureStore.ErasePersonalData: API tokens, console
// sessions, unclaimed uploads, their reports' identity and detail, the
// client addresses in their images' audit records) with an audit record
// of the erasure. An unknown email is api.CodeNotFound. It is idempotent:
// erasing a user again (after a restore, say) takes down what came back.
func (s *Erasure) EraseUser(ctx context.Context, email, by, reason string) (_ Erased, err error) {
	defer func() { err = Classify(err) }()
	u, err := s.users.UserByEmail(ctx, strings.ToLower(email))
	if errors.Is(err, ErrNotFound) {
		return Erased{}, Errorf(api.CodeNotFound, "no user has email %q", email)
	}
	if err != nil {
		return Erased{}, fmt.Errorf("erase %s: %w", email, err)
	}
	out := Erased{User: u}
	if err := s.users.DisableUser(ctx, u.ID); err != nil {
		return out, fmt.Errorf("erase %s: disable: %w", email, err)
	}
	if out.TakenDown, err = s.takeDownAll(ctx, u.ID, by); err != nil {
		return out, err
	}
	target := fmt.Sprintf("user:%d", u.ID)
	err = s.erasures.ErasePersonalData(ctx, PersonalDataErasure{UserID: u.ID, Reporter: "u:" + strconv.FormatInt(u.ID, 10), Alias: "erased:" + rand.Text(),
		Event: ModerationEvent{Action: ActionErase, Target: target, By: by, Reason: reason, At: s.now()}})
	if err != nil {
		return out, fmt.Errorf("erase %s: %w", email, err)
	}
	s.log.InfoContext(ctx, "user erased", "user", target, "by", by, "images_taken_down", len(out.TakenDown))
	return out, nil
}

// takeDownAll takes down every published image of user id, by by, until
// none is left.
func (s *Erasure) takeDownAll(ctx context.Context, userID int64, by string) ([]Image, error) {
	var taken []Image
	reason := fmt.Sprintf("%s%d", erasureReasonPrefix, userID)
	for {
		imgs, err := s.lister.ListImages(ctx, ImageFilter{UserID: userID, Limit: 100})
		if err != nil || len(imgs) == 0 {
			return taken, err
		}
		for _, img := range imgs {
			_, err := s.takeDown.DeleteImage(ctx, img.ID, by, reason, false)
			if err != nil && ErrorCode(err) != api.CodeNotFound { // gone meanwhile: fine
				return taken, err
			}
			if err == nil {
				taken = append(taken, img)
			}
		}
	}
}
