package core

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"time"

	"github.com/userimages/userimages/client/api"
	"golang.org/x/sync/semaphore"
)

// Serving answers the GETs of published images and their variants
// (variant.go), from an image cache (imagecache.go) it drops a taken-down
// image from when told (Forget). Create it with NewServing.
type Serving struct {
	cfg      Config
	images   ImageReader
	blobs    BlobStore
	cache    imageCache
	variants variants
	now      func() time.Time
	log      *slog.Logger
}

// ServingDeps are the roles Serving calls.
type ServingDeps struct {
	Images ImageReader
	Blobs  BlobStore
	Runtime
}

// NewServing returns Serving, or an error if cfg is invalid or a role is
// missing.
func NewServing(cfg Config, d ServingDeps) (*Serving, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	if d.Images == nil || d.Blobs == nil {
		return nil, errors.New("new serving: Images and Blobs are required")
	}
	rt := d.Runtime.withDefaults()
	return &Serving{cfg: cfg, images: d.Images, blobs: d.Blobs, now: rt.Now, log: rt.Log,
		variants: variants{budget: semaphore.NewWeighted(cfg.VariantMemory), cores: semaphore.NewWeighted(int64(max(1, runtime.GOMAXPROCS(0))))}}, nil
}

// PublishedImage returns the image published under id with extension ext.
// Unknown ids, malformed ids and wrong extensions are api.CodeNotFound.
func (s *Serving) PublishedImage(ctx context.Context, id, ext string) (_ Image, err error) {
	defer func() { err = Classify(err) }()
	notFound := Errorf(api.CodeNotFound, "no image at this path")
	if !ValidImageID(id) {
		return Image{}, notFound
	}
	img, err := s.images.Image(ctx, id)
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
func (s *Serving) OpenImage(ctx context.Context, id, ext string) (_ Image, _ Blob, err error) {
	defer func() { err = Classify(err) }()
	now := s.now()
	img, cached := s.cache.get(id, now)
	if cached {
		if e, _ := Extension(img.ContentType); e != ext {
			return Image{}, nil, Errorf(api.CodeNotFound, "no image at this path")
		}
		b, err := s.blobs.Open(ctx, ImageKey(id))
		if err == nil {
			return img, b, nil
		}
		s.cache.remove(id)
		if !errors.Is(err, ErrNotFound) {
			// The store failed: asking it again would make the request
			// wait on it twice.
			return Image{}, nil, err
		}
		// Taken down on another instance (the bytes go after the row):
		// ask the metadata store again.
	}
	img, err = s.PublishedImage(ctx, id, ext)
	if err != nil {
		return Image{}, nil, err
	}
	b, err := s.blobs.Open(ctx, ImageKey(id))
	if errors.Is(err, ErrNotFound) {
		// A takedown between the lookup and the open deletes the row
		// before the bytes: then this path is gone, not broken.
		if _, lerr := s.images.Image(ctx, id); errors.Is(lerr, ErrNotFound) {
			return Image{}, nil, Errorf(api.CodeNotFound, "no image at this path")
		}
	}
	if err != nil {
		return Image{}, nil, fmt.Errorf("image %s: open bytes: %w", id, err)
	}
	s.cache.add(img, now)
	return img, b, nil
}
