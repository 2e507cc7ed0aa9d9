package core

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/userimages/userimages/client/api"
)

// Moderation takes images down (one by one, or with their brand), keeps
// the blocklist and the audit log. Create it with NewModeration.
type Moderation struct {
	images ImageReader
	lister ImageLister
	brands BrandRemover
	mod    ModerationStore
	takes  TakedownStore
	blobs  BlobStore
	forget Forgetter
	// resemble, when set, blocks a picture by its look too.
	resemble BlockHasher
	// lookalikes, when set, finds the images that resemble one.
	lookalikes Lookalikes
	now        func() time.Time
	log        *slog.Logger
}

// Forgetter is told of every takedown, after the image's row is gone and
// before its bytes are deleted, to drop what it keeps of the image
// (Serving does: its cached metadata and variants).
type Forgetter interface {
	Forget(ctx context.Context, imageID string)
}

// BlockHasher gives the perceptual hashes a blocking takedown blocks
// besides the bytes, and takes them into account once they are stored
// (Resemblance does).
type BlockHasher interface {
	// BlockForms returns the hashes to block with img; none when it has
	// no reliable hash.
	BlockForms(ctx context.Context, img Image) []BlockedHash
	// Sync reads the blocked hashes the store has.
	Sync(ctx context.Context) error
}

// Lookalikes finds the published images that resemble one (Resemblance
// does).
type Lookalikes interface {
	// Resembling returns up to limit published images other than img
	// that resemble it, nearest first; none when img has no reliable
	// hash.
	Resembling(ctx context.Context, img Image, limit int) ([]ResemblingImage, error)
}

// ModerationDeps are the roles Moderation calls. Resemble, when set,
// blocks a blocking takedown's picture by its look too; Lookalikes, when
// set, lets TakeDownResembling find what resembles an image.
type ModerationDeps struct {
	Images     ImageReader
	Lister     ImageLister
	Brands     BrandRemover
	Moderation ModerationStore
	Takedowns  TakedownStore
	Blobs      BlobStore
	Forget     Forgetter
	Resemble   BlockHasher
	Lookalikes Lookalikes
	Runtime
}

// NewModeration returns Moderation, or an error if a role is missing.
func NewModeration(d ModerationDeps) (*Moderation, error) {
	if d.Images == nil || d.Lister == nil || d.Brands == nil || d.Moderation == nil || d.Takedowns == nil || d.Blobs == nil || d.Forget == nil {
		return nil, errors.New("new moderation: every role is required")
	}
	rt := d.Runtime.withDefaults()
	return &Moderation{images: d.Images, lister: d.Lister, brands: d.Brands, mod: d.Moderation, takes: d.Takedowns,
		blobs: d.Blobs, forget: d.Forget, resemble: d.Resemble, lookalikes: d.Lookalikes, now: rt.Now, log: rt.Log}, nil
}

// ParseImagePath returns the image id of a published path
// (/hc/user_images/<id>.<ext>), a file name (<id>.<ext>) or a bare id.
func ParseImagePath(p string) (string, error) {
	p = p[strings.LastIndexByte(p, '/')+1:]
	id, _, _ := strings.Cut(p, ".")
	if !ValidImageID(id) {
		return "", Errorf(api.CodeNotFound, "%q is not an image path or id", p)
	}
	return id, nil
}

// TakedownOrder asks Moderation.TakeDown to take an image down.
type TakedownOrder struct {
	ID     string // the image's id
	By     string // as Deletion.By
	Reason string
	// Block blocklists the image's bytes: the same bytes are refused if
	// anyone uploads them again, and every published copy goes too.
	Block bool
	// AllCopies takes down every published image with the same bytes
	// (SHA-256), without blocking them.
	AllCopies bool
}

// SurrogateKey is the cache tag every response of image id carries
// (original and variants, as Surrogate-Key and Cache-Tag), so that one
// purge of it drops them all from every cache in front.
func SurrogateKey(id string) string { return "img-" + id }

// TakeDown takes an image down, and with o.Block or o.AllCopies every
// published copy of its bytes: in one transaction of the metadata store
// each image's row goes, with an audit record each, the bytes are
// blocklisted if asked, and a purge of the images' surrogate keys is
// queued in the outbox for every cache in front (TopicPurge); then their
// variants and bytes are deleted. With o.Block and Resemble, the
// perceptual hashes of the picture and of its rotations and mirrors are
// blocked in the same transaction, so that pictures that look like it are
// refused too. It returns the images taken down, the
// one asked for first. Every takedown, deletion or erasure goes through it.
func (s *Moderation) TakeDown(ctx context.Context, o TakedownOrder) (_ []Image, err error) {
	defer func() { err = Classify(err) }()
	notFound := Errorf(api.CodeNotFound, "no image has id %q", o.ID)
	if !ValidImageID(o.ID) {
		return nil, notFound
	}
	at := s.now()
	t := Takedown{ImageID: o.ID, AllCopies: o.AllCopies || o.Block, By: o.By, Reason: o.Reason,
		Block: o.Block, At: at, Outbox: func(taken []Image) []OutboxEntry {
			es := purgeEntries(taken, at)
			for _, img := range taken {
				es = append(es, eventEntry(takedownEvent(o.Reason), img, o.Reason, at))
			}
			return es
		}}
	if o.Block && s.resemble != nil {
		img, err := s.images.Image(ctx, o.ID)
		if errors.Is(err, ErrNotFound) {
			return nil, notFound
		}
		if err != nil {
			return nil, fmt.Errorf("take down %s: %w", o.ID, err)
		}
		t.Hashes = s.resemble.BlockForms(ctx, img)
	}
	ds, err := s.takes.TakeDown(ctx, t)
	if errors.Is(err, ErrNotFound) {
		return nil, notFound
	}
	if err != nil {
		return nil, fmt.Errorf("take down %s: %w", o.ID, err)
	}
	taken := make([]Image, len(ds))
	for i, d := range ds {
		taken[i] = d.Image
		s.forget.Forget(ctx, d.Image.ID)
		deleteBlob(ctx, s.blobs, s.log, ImageKey(d.Image.ID))
	}
	if len(t.Hashes) > 0 {
		if err := s.resemble.Sync(ctx); err != nil { // else the next poll does it
			s.log.WarnContext(ctx, "takedown: reading the blocked hashes failed", "image", o.ID, "err", err)
		}
	}
	return taken, nil
}

// TakeDownResembling takes down each image of ids that resembles image
// o.ID (as Lookalikes lists them, at most MaxResembling), then o.ID, each
// as TakeDown does with its own audit record by o.By for o.Reason,
// blocked as o.Block asks: what a moderator saw listed with it, not what
// was published since. An id that does not resemble o.ID, or is no longer
// published (a blocking takedown before it took its copies down), is
// skipped. o.ID goes last, so that after a failure the same call takes
// down what is left. It returns the images taken down, in that order.
func (s *Moderation) TakeDownResembling(ctx context.Context, o TakedownOrder, ids []string) (_ []Image, err error) {
	defer func() { err = Classify(err) }()
	if len(ids) > MaxResembling {
		return nil, Errorf(api.CodeInvalidProperty, "at most %d resembling images are taken down at once", MaxResembling)
	}
	img, err := publishedByID(ctx, s.images, o.ID)
	if err != nil {
		return nil, err
	}
	var alike []ResemblingImage
	if s.lookalikes != nil {
		if alike, err = s.lookalikes.Resembling(ctx, img, MaxResembling); err != nil {
			return nil, err
		}
	}
	var taken []Image
	gone := func(id string) bool { return slices.ContainsFunc(taken, func(t Image) bool { return t.ID == id }) }
	for _, id := range append(slices.Clone(ids), o.ID) {
		listed := slices.ContainsFunc(alike, func(r ResemblingImage) bool { return r.Image.ID == id })
		if id != o.ID && !listed || gone(id) {
			continue
		}
		each := o
		each.ID = id
		more, err := s.TakeDown(ctx, each)
		if ErrorCode(err) == api.CodeNotFound && id != o.ID {
			continue
		}
		if err != nil {
			return taken, err
		}
		taken = append(taken, more...)
	}
	return taken, nil
}

// PurgeDelay is how long after a takedown its purge is due: the bytes are
// deleted just after the commit, and until then an instance that has the
// image in its image cache (another instance, or the server when the CLI
// took the image down) still serves it, which would put it back in the
// cache in front for a year.
const PurgeDelay = time.Second

// purgeEntries is the outbox entry purging the images' responses from
// every cache in front, due PurgeDelay after at.
func purgeEntries(taken []Image, at time.Time) []OutboxEntry {
	if len(taken) == 0 {
		return nil
	}
	keys := make([]string, len(taken))
	for i, img := range taken {
		keys[i] = SurrogateKey(img.ID)
	}
	return []OutboxEntry{{Topic: TopicPurge, Payload: strings.Join(keys, " "), CreatedAt: at, NextAt: at.Add(PurgeDelay)}}
}

// DeleteImage takes image id down alone, or with block every copy of its
// bytes too (see TakeDown), and returns it.
func (s *Moderation) DeleteImage(ctx context.Context, id, by, reason string, block bool) (Image, error) {
	taken, err := s.TakeDown(ctx, TakedownOrder{ID: id, By: by, Reason: reason, Block: block})
	if err != nil {
		return Image{}, err
	}
	return taken[0], nil
}

// Copies lists the other published images with the same bytes as img,
// newest first, at most limit (default 100).
func (s *Moderation) Copies(ctx context.Context, img Image, limit int) ([]Image, error) {
	if limit <= 0 {
		limit = 100
	}
	imgs, err := s.lister.ListImages(ctx, ImageFilter{SHA256: img.SHA256, Limit: limit + 1})
	if err != nil {
		return nil, Classify(err)
	}
	imgs = slices.DeleteFunc(imgs, func(c Image) bool { return c.ID == img.ID })
	return imgs[:min(len(imgs), limit)], nil
}

// DeletionsOf lists the takedowns of images with SHA-256 sha (hex),
// newest first, at most limit (default 100): what a blocklist entry took
// down.
func (s *Moderation) DeletionsOf(ctx context.Context, sha string, limit int) ([]Deletion, error) {
	if limit <= 0 {
		limit = 100
	}
	ds, err := s.takes.DeletionsOf(ctx, sha, limit)
	return ds, Classify(err)
}

// ListImages lists images, newest first; f.Limit defaults to 100.
func (s *Moderation) ListImages(ctx context.Context, f ImageFilter) ([]Image, error) {
	if f.Limit <= 0 {
		f.Limit = 100
	}
	return s.lister.ListImages(ctx, f)
}

// Deletions lists the moderation audit log, newest first.
func (s *Moderation) Deletions(ctx context.Context, limit int) ([]Deletion, error) {
	if limit <= 0 {
		limit = 100
	}
	return s.mod.Deletions(ctx, limit)
}

// DeleteBrand removes brand id. While the brand has images it is refused
// (api.CodeConflict) unless takeDown, which first takes each image down as
// DeleteImage does, by by for reason, each with its audit record.
func (s *Moderation) DeleteBrand(ctx context.Context, id string, takeDown bool, by, reason string) (takenDown int, err error) {
	defer func() { err = Classify(err) }()
	for {
		err := s.brands.DeleteBrand(ctx, id)
		switch {
		case errors.Is(err, ErrNotFound):
			return takenDown, Errorf(api.CodeNotFound, "no brand has id %q", id)
		case !errors.Is(err, ErrExist):
			return takenDown, err
		case !takeDown:
			return takenDown, Errorf(api.CodeConflict, "brand %s has images; take them down with it (--take-down) or keep it", id)
		}
		images, err := s.lister.ListImages(ctx, ImageFilter{BrandID: id, Limit: 100})
		if err != nil {
			return takenDown, err
		}
		for _, img := range images {
			if _, err := s.DeleteImage(ctx, img.ID, by, reason, false); err != nil && ErrorCode(err) != api.CodeNotFound {
				return takenDown, err
			}
			takenDown++
		}
	}
}

// Image returns the published image id, or api.CodeNotFound.
func (s *Moderation) Image(ctx context.Context, id string) (_ Image, err error) {
	defer func() { err = Classify(err) }()
	return publishedByID(ctx, s.images, id)
}

// Blocklist lists the blocklisted SHA-256s, newest first, at most limit
// (default 100).
func (s *Moderation) Blocklist(ctx context.Context, limit int) ([]Blocked, error) {
	if limit <= 0 {
		limit = 100
	}
	bl, err := s.mod.Blocklist(ctx, limit)
	return bl, Classify(err)
}

// Unblock lets the bytes with SHA-256 sha (hex) be uploaded again, by by
// for reason, with an audit record; api.CodeNotFound if they are not
// blocklisted.
func (s *Moderation) Unblock(ctx context.Context, sha, by, reason string) error {
	err := s.mod.Unblock(ctx, ModerationEvent{Action: ActionUnblock, Target: sha, By: by, Reason: reason, At: s.now()})
	if errors.Is(err, ErrNotFound) {
		return Errorf(api.CodeNotFound, "%s is not blocklisted", sha)
	}
	if err == nil && s.resemble != nil {
		err = s.resemble.Sync(ctx) // its perceptual hashes went with it
	}
	return Classify(err)
}

// ModerationEvents lists the audit records other than takedowns, newest
// first, at most limit (default 100); of target only unless it is "".
func (s *Moderation) ModerationEvents(ctx context.Context, target string, limit int) ([]ModerationEvent, error) {
	if limit <= 0 {
		limit = 100
	}
	evs, err := s.mod.ModerationEvents(ctx, target, limit)
	return evs, Classify(err)
}

// Deletion returns the takedown record of image id; api.CodeNotFound if it
// was not taken down.
func (s *Moderation) Deletion(ctx context.Context, id string) (Deletion, error) {
	d, err := s.mod.Deletion(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return Deletion{}, Errorf(api.CodeNotFound, "image %s was not taken down", id)
	}
	return d, Classify(err)
}

// publishedByID returns the published image id, or api.CodeNotFound.
func publishedByID(ctx context.Context, images ImageReader, id string) (Image, error) {
	if !ValidImageID(id) {
		return Image{}, Errorf(api.CodeNotFound, "no image has id %q", id)
	}
	img, err := images.Image(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return Image{}, Errorf(api.CodeNotFound, "no image has id %q", id)
	}
	return img, err
}
