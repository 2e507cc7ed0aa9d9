package core

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/userimages/userimages/client/api"
	"golang.org/x/sync/semaphore"
	"golang.org/x/sync/singleflight"

	"userimages/imagesafe"
	"userimages/variant"
)

// Variants are the resized copies of published images (GET
// <path>?w=W…, package variant). Each is made on its first request and
// stored beside the original under variant.Key(id, width, format), so
// that every instance serves it and it survives restarts; the takedown of
// an image deletes every key under variant.Prefix(id) after its row and
// original, and the orphan sweep deletes those whose image is gone.
//
// Memory: at most one variant per core (GOMAXPROCS) is made at once; its
// original is read (an upload's size at most) and inspected, and the
// bytes the variant needs while it is made (its original's decoded
// pixels, mostly; variant.Source.Cost) are taken from a budget,
// Config.VariantMemory, before anything is decoded. Over either a request
// waits up to Config.VariantWait in all, then is refused with 503 and
// Retry-After; one original costing more than the whole budget is made
// alone. Concurrent requests for one missing variant make it once.

// DefaultVariantWidths are the widths served unless configured.
var DefaultVariantWidths = api.DefaultVariantWidths

// Defaults of the variant settings.
const (
	DefaultVariantMemory int64 = 256 << 20
	DefaultVariantWait         = 5 * time.Second
)

// Variant asks for a published image at Width (upright, never wider than
// the original; OwnWidth: the original's) in Format.
type Variant struct {
	Width  int
	Format api.Format
}

// OwnWidth is the Width of a variant at the original's own size
// (GET <path>?fm=webp, ?auto=format: a format without a width).
const OwnWidth = 0

// VariantSize is the size (upright, in pixels) of img's variant v; 0×0
// when img's size is unknown (published before sizes were kept).
func VariantSize(img Image, v Variant) (w, h int) {
	if img.Width <= 0 || img.Height <= 0 {
		return 0, 0
	}
	return variant.Size(img.Width, img.Height, v.Width, v.Format)
}

// VariantKey is the object key of image id's variant v, for serving it
// from the object store or a CDN in front of it.
func VariantKey(id string, v Variant) string { return variant.Key(id, v.Width, v.Format) }

// VariantFormats are the formats variants are encoded in.
func VariantFormats() []api.Format { return []api.Format{api.JPEG, api.PNG, api.WebP} }

// DefaultVariantFormat is the format of a variant asked for without one:
// the original's, or PNG for a GIF (whose variant is its first frame).
func DefaultVariantFormat(original api.Format) api.Format {
	if variant.Encodable(original) {
		return original
	}
	return api.PNG
}

// variants holds what Serving needs to make variants.
type variants struct {
	budget *semaphore.Weighted // bytes: Config.VariantMemory
	cores  *semaphore.Weighted // variants being made: GOMAXPROCS
	flight singleflight.Group
}

// VariantWidths are the widths served, Config.VariantWidths.
func (s *Serving) VariantWidths() []int { return slices.Clone(s.cfg.VariantWidths) }

// VariantWidthAllowed reports whether w is one of Config.VariantWidths.
func (s *Serving) VariantWidthAllowed(w int) bool { return slices.Contains(s.cfg.VariantWidths, w) }

// OpenVariant returns the image published under id with extension ext,
// as OpenImage does, and the bytes of its variant v, making and storing
// them if this is the first request for them. v.Width must be OwnWidth or
// one of Config.VariantWidths and v.Format one of VariantFormats.
func (s *Serving) OpenVariant(ctx context.Context, id, ext string, v Variant) (Image, Blob, error) {
	return s.OpenVariantAdmitted(ctx, id, ext, v, nil)
}

// Admission admits one cold variant generation for a client: it returns
// a release to call when the generation is over, or an error (a
// *Error, api.CodeRateLimited) refusing it.
type Admission func() (release func(), err error)

// OpenVariantAdmitted is OpenVariant, with admit asked (when not nil)
// only when the variant must be made: its refusal is the answer, and a
// variant stored already is never refused.
func (s *Serving) OpenVariantAdmitted(ctx context.Context, id, ext string, v Variant, admit Admission) (_ Image, _ Blob, err error) {
	defer func() { err = Classify(err) }()
	if v.Width != OwnWidth && !s.VariantWidthAllowed(v.Width) || !variant.Encodable(v.Format) {
		return Image{}, nil, Errorf(api.CodeInvalidVariant, "no variant of width %d in %s is served", v.Width, v.Format.Name)
	}
	now := s.now()
	if img, ok := s.cache.get(id, now); ok {
		if e, _ := Extension(img.ContentType); e != ext {
			return Image{}, nil, Errorf(api.CodeNotFound, "no image at this path")
		}
		if b, err := s.blobs.Open(ctx, VariantKey(id, v)); err == nil {
			return img, b, nil
		}
		// Not made yet, or taken down on another instance (which deletes
		// the variants after the row): ask the metadata store.
		s.cache.remove(id)
	}
	img, err := s.PublishedImage(ctx, id, ext)
	if err != nil {
		return Image{}, nil, err
	}
	key := VariantKey(id, v)
	b, err := s.blobs.Open(ctx, key)
	if errors.Is(err, ErrNotFound) && admit != nil {
		release, aerr := admit()
		if aerr != nil {
			return Image{}, nil, aerr
		}
		defer release()
	}
	if errors.Is(err, ErrNotFound) {
		// The one request making it may go away; those waiting for it
		// still want it.
		_, err, _ = s.variants.flight.Do(key, func() (any, error) { return nil, s.makeVariant(context.WithoutCancel(ctx), img, v) })
		if err == nil {
			b, err = s.blobs.Open(ctx, key)
		}
	}
	if err != nil {
		return Image{}, nil, fmt.Errorf("variant %s: %w", key, err)
	}
	s.cache.add(img, now)
	return img, b, nil
}

// makeVariant makes img's variant v and stores it, unless it is stored
// already. A takedown racing it wins: when img's row is gone after the
// variant is stored, the variant is deleted and the answer is NotFound.
func (s *Serving) makeVariant(ctx context.Context, img Image, v Variant) error {
	key := VariantKey(img.ID, v)
	orig, err := s.blobs.Open(ctx, ImageKey(img.ID))
	if errors.Is(err, ErrNotFound) {
		return Errorf(api.CodeNotFound, "no image at this path")
	}
	if err != nil {
		return fmt.Errorf("open original: %w", err)
	}
	defer orig.Close()
	f, _ := api.FormatOf(img.ContentType)
	wait, cancel := context.WithTimeout(ctx, s.cfg.VariantWait)
	defer cancel()
	busy := func() error {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return Errorf(api.CodeServiceUnavailable, "the server is busy making other image variants; retry soon")
	}
	// One variant per core at a time: more would not finish sooner, and
	// would take the CPU from serving. So the originals read in full
	// before their cost is known (an upload's size at most) are as many
	// as the cores.
	if err := s.variants.cores.Acquire(wait, 1); err != nil {
		return busy()
	}
	defer s.variants.cores.Release(1)
	size := orig.Size()
	data := make([]byte, size)
	if _, err := io.ReadFull(imagesafe.ExactReader(orig, size), data); err != nil {
		return fmt.Errorf("read original: %w", StoreFault(err)) // the store failed, or cut the object short
	}
	src, err := variant.Inspect(data, f)
	if err != nil {
		return fmt.Errorf("variant of %s: %w", img.ID, err)
	}
	cost := min(src.Cost(v.Width, v.Format)+size, s.cfg.VariantMemory)
	if err := s.variants.budget.Acquire(wait, cost); err != nil {
		return busy()
	}
	// The budget is held until the encoded bytes are stored.
	err = func() error {
		defer s.variants.budget.Release(cost)
		var out bytes.Buffer
		if err := variant.Render(&out, data, src, v.Width, v.Format); err != nil {
			return fmt.Errorf("variant of %s: %w", img.ID, err)
		}
		if err := s.blobs.Put(ctx, key, &out); err != nil && !errors.Is(err, ErrExist) {
			return fmt.Errorf("store variant: %w", err)
		}
		return nil
	}()
	if err != nil {
		return err
	}
	if _, err := s.images.Image(ctx, img.ID); errors.Is(err, ErrNotFound) {
		deleteBlob(ctx, s.blobs, s.log, key)
		return Errorf(api.CodeNotFound, "no image at this path")
	} else if err != nil {
		return fmt.Errorf("variant of %s: %w", img.ID, err)
	}
	return nil
}

// Forget drops what Serving keeps of image id, taken down: its cached
// metadata and every variant (failures to delete are logged; the orphan
// sweep retries them).
func (s *Serving) Forget(ctx context.Context, id string) {
	s.cache.remove(id)
	var keys []string
	err := s.blobs.List(ctx, variant.Prefix(id), func(key string, _ time.Time) error {
		keys = append(keys, key)
		return nil
	})
	if err != nil {
		s.log.WarnContext(ctx, "list variants failed; the orphan sweep will delete them", "image", id, "err", err)
	}
	for _, k := range keys {
		deleteBlob(ctx, s.blobs, s.log, k)
	}
}

// Pregenerate makes img's Config.VariantPregenerate variants in the
// background, one at a time; failures are logged, the variants are then
// made on request.
func (s *Serving) Pregenerate(img Image) {
	if len(s.cfg.VariantPregenerate) == 0 {
		return
	}
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		ext, _ := Extension(img.ContentType)
		for _, v := range s.cfg.VariantPregenerate {
			_, b, err := s.OpenVariant(ctx, img.ID, ext, v)
			if err != nil {
				s.log.WarnContext(ctx, "pregenerating a variant failed; it is made on request", "image", img.ID, "width", v.Width, "format", v.Format.Name, "err", err)
				continue
			}
			b.Close()
		}
	}()
}
