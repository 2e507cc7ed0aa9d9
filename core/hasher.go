package core

import (
	"context"
	"errors"
	"time"

	"userimages/variant"
)

// The background hasher's bounds.
const (
	// hashQueue is how many images HashLater queues; past it they are
	// left to the backfill.
	hashQueue = 256
	// backfillEvery is how often RunHasher looks for published images
	// without a hash (besides at its start).
	backfillEvery = time.Hour
	// backfillPage is how many such images it reads at once.
	backfillPage = 100
)

// hashJob is an image HashLater queued: the id its bytes are stored under
// and their content type.
type hashJob struct {
	imageID     string
	contentType string
}

// HashLater queues the image stored under ImageKey(imageID) for RunHasher
// to hash and store its hash (FingerprintStore), and returns at once. When
// the queue is full, or the process stops first, the image is hashed by
// the backfill once published.
func (r *Resemblance) HashLater(imageID, contentType string) {
	select {
	case r.later <- hashJob{imageID: imageID, contentType: contentType}:
	default:
		r.log.Info("the perceptual hasher's queue is full; the backfill hashes the image", "image", imageID)
	}
}

// RunHasher hashes, until ctx ends, the images HashLater queues, and those
// published without a hash (the backfill: at its start and every
// backfillEvery; queued images go first), one at a time, on a thread of
// low scheduling priority (where the system allows it), and stores their
// hashes. An image found resembling a hash blocked since its PUT is
// logged: its claim refuses it (ScreenClaim); once published, it is for a
// moderator to take down, as copies of blocked bytes published before
// their block are.
//
// Instances sharing a store each backfill: they may hash an image twice,
// storing the same hash.
func (r *Resemblance) RunHasher(ctx context.Context) {
	lowPriority(r.log)
	backfill := time.NewTimer(0)
	defer backfill.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case j := <-r.later:
			r.hashStored(ctx, j)
		case <-backfill.C:
			r.backfill(ctx)
			backfill.Reset(backfillEvery)
		}
	}
}

// backfill hashes the published images without a hash, by id, taking
// queued images first.
func (r *Resemblance) backfill(ctx context.Context) {
	after, hashed := "", 0
	for ctx.Err() == nil {
		imgs, err := r.stored.Unfingerprinted(ctx, after, backfillPage)
		if err != nil {
			r.log.WarnContext(ctx, "backfill of perceptual hashes: listing the images without one failed; retrying later", "err", err)
			return
		}
		if len(imgs) == 0 {
			break
		}
		for _, img := range imgs {
			r.drainQueue(ctx)
			if _, err := r.hashStored(ctx, hashJob{imageID: img.ID, contentType: img.ContentType}); err == nil {
				hashed++
			}
		}
		after = imgs[len(imgs)-1].ID
	}
	if hashed > 0 {
		r.log.InfoContext(ctx, "backfill of perceptual hashes done", "hashed", hashed)
	}
}

// drainQueue hashes the images queued now.
func (r *Resemblance) drainQueue(ctx context.Context) {
	for ctx.Err() == nil {
		select {
		case j := <-r.later:
			r.hashStored(ctx, j)
		default:
			return
		}
	}
}

// hashStored hashes the bytes of j and stores the hash: unhashable when
// they do not decode or are gone. A failure to read them or to store the
// hash is logged and returned; the backfill tries again.
func (r *Resemblance) hashStored(ctx context.Context, j hashJob) (Fingerprint, error) {
	fp := unhashable
	d, err := r.digest(ctx, Image{ID: j.imageID, ContentType: j.contentType})
	switch {
	case err == nil:
		fp = Fingerprint{PDQ: d.Hash().String(), Quality: d.Quality}
	case errors.Is(err, variant.ErrUnsupported) || errors.Is(err, ErrNotFound):
		r.log.WarnContext(ctx, "perceptual hash failed; the image is kept without one", "image", j.imageID, "err", err)
	default:
		if ctx.Err() == nil {
			r.log.WarnContext(ctx, "perceptual hash: reading the image failed; the backfill retries", "image", j.imageID, "err", err)
		}
		return Fingerprint{}, err
	}
	if err := r.stored.SetFingerprint(ctx, j.imageID, fp); err != nil {
		r.log.WarnContext(ctx, "perceptual hash: storing it failed; the backfill retries", "image", j.imageID, "err", err)
		return Fingerprint{}, err
	}
	if m, ok := r.resembling(fp); ok {
		r.log.WarnContext(ctx, "an image hashed after its PUT resembles a blocked picture: its claim is refused; if published, a moderator takes it down",
			"image", j.imageID, "pdq", fp.PDQ, "list", r.listName(m.Tag), "distance", m.Distance)
	}
	return fp, nil
}

// Screening reports whether any hash is blocked: only then has a claim
// to be screened (ScreenClaim).
func (r *Resemblance) Screening() bool { return r.index.Len() > 0 }

// ScreenClaim refuses, api.CodeBlockedContent, the received upload up
// about to be claimed when its picture resembles a blocked one: a hash
// blocked since its PUT. One hashed already is compared by its stored
// hash; one not hashed yet (nothing was blocked at its PUT and the
// hasher has not come to it) is hashed now from its stored bytes, and
// the hash stored, so that its image is published with it. An error
// reading its bytes or storing the hash is returned: the claim fails
// rather than publish a picture unscreened.
func (r *Resemblance) ScreenClaim(ctx context.Context, up Upload) error {
	if !r.Screening() {
		return nil
	}
	fp, err := r.Hashed(ctx, up)
	if err != nil {
		return err
	}
	return r.refuseResembling(ctx, fp)
}

// Hashed returns the perceptual hash of received upload up: its stored
// one, or, when it has none yet, the hash of its stored bytes, made now
// and stored. Its error is a failure to read the bytes or store the hash.
func (r *Resemblance) Hashed(ctx context.Context, up Upload) (Fingerprint, error) {
	fp := Fingerprint{PDQ: up.PDQ, Quality: up.PDQQuality}
	if fp != (Fingerprint{}) {
		return fp, nil
	}
	return r.hashStored(ctx, hashJob{imageID: up.ImageID, contentType: up.ContentType})
}
