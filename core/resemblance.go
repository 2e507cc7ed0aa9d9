package core

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/userimages/userimages/client/api"
	"golang.org/x/sync/semaphore"

	"userimages/pdq"
	"userimages/variant"
)

// Defaults of the resemblance settings.
const (
	// DefaultNearDuplicateDistance is PDQ's authors' threshold: hashes 31
	// bits apart or less are of the same picture.
	DefaultNearDuplicateDistance = 31
	DefaultHashesPoll            = 2 * time.Second
)

// Resemblance refuses pictures that look like blocked ones, not only the
// same bytes: it computes the perceptual hash (PDQ, package pdq) of every
// image a PUT accepts, which is stored with it, and refuses those within
// Config.NearDuplicateDistance of a blocked hash. While a hash is blocked
// the PUT hashes (Fingerprint) and refuses; while none is, a hash costs
// about ten times the rest of a photo's PUT, so the picture is hashed off
// the request path (HashLater, RunHasher) and a claim screens it against
// the hashes blocked meanwhile (ScreenClaim). A blocking takedown blocks
// the picture's hash and those of its rotations and mirrors (BlockForms,
// which Moderation records); operators import the industry's hash lists
// (ImportList). Hashes of a quality under pdq.ReliableQuality (flat
// pictures) are neither blocked nor matched.
//
// Every instance holds all blocked hashes in memory (a pdq.Index: 36 MiB
// a million) and follows the store's changes (Sync, every
// Config.HashesPoll by Run). At most one picture per core is hashed at
// once. Create it with NewResemblance.
type Resemblance struct {
	hashes   HashBlocklist
	stored   FingerprintStore
	blobs    BlobStore
	images   ImageReader
	hashed   ImageHashLister
	distance int
	poll     time.Duration
	cores    *semaphore.Weighted
	now      func() time.Time
	log      *slog.Logger
	// later queues the images HashLater is given, for RunHasher.
	later chan hashJob

	index pdq.Index
	// sync guards what Sync keeps: where the index is in the store.
	sync    sync.Mutex
	version HashesVersion
	cursor  HashCursor
	// names are the list names, by the tags of the index's hashes.
	names struct {
		sync.RWMutex
		all []string
		tag map[string]uint32
	}
}

// ResemblanceDeps are the roles Resemblance calls: Fingerprints to store
// the hashes computed after the PUT, Blobs to read the pictures hashed
// then and those a takedown blocks, Images and Hashed to find the
// published images that resemble one.
type ResemblanceDeps struct {
	Hashes       HashBlocklist
	Fingerprints FingerprintStore
	Blobs        BlobStore
	Images       ImageReader
	Hashed       ImageHashLister
	Runtime
}

// NewResemblance returns Resemblance, or an error if cfg is invalid or a
// role is missing. Its index is empty until Sync.
func NewResemblance(cfg Config, d ResemblanceDeps) (*Resemblance, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	if d.Hashes == nil || d.Fingerprints == nil || d.Blobs == nil || d.Images == nil || d.Hashed == nil {
		return nil, errors.New("new resemblance: every role is required")
	}
	rt := d.Runtime.withDefaults()
	r := &Resemblance{hashes: d.Hashes, stored: d.Fingerprints, blobs: d.Blobs, images: d.Images, hashed: d.Hashed, distance: cfg.NearDuplicateDistance, poll: cfg.HashesPoll,
		cores: semaphore.NewWeighted(int64(runtime.GOMAXPROCS(0))), now: rt.Now, log: rt.Log, later: make(chan hashJob, hashQueue)}
	r.names.tag = map[string]uint32{}
	return r, nil
}

// Fingerprint is an image's perceptual hash: PDQ (64 hex digits) and its
// quality. The zero Fingerprint is none computed yet; PDQ "" with Quality
// -1 is a picture that cannot be hashed.
type Fingerprint struct {
	PDQ     string
	Quality int
}

// unhashable is the Fingerprint of a picture that cannot be hashed.
var unhashable = Fingerprint{Quality: -1}

// Fingerprint hashes the image src holds (whole: an upload, at most
// Config.MaxFileSize) while a hash is blocked, and refuses it,
// api.CodeBlockedContent, when it resembles a blocked picture. A picture
// the hasher cannot decode (which the PUT's checks accepted) is logged
// and kept, unhashable.
//
// While no hash is blocked it hashes nothing and returns the zero
// Fingerprint: a hash costs about ten times the rest of a photo's PUT
// (its whole entropy-coded data is decoded), so the caller has it hashed
// off the request path (HashLater) and the claim screens it against any
// hash blocked meanwhile (ScreenClaim).
func (r *Resemblance) Fingerprint(ctx context.Context, src io.Reader, contentType string) (Fingerprint, error) {
	if r.index.Len() == 0 {
		return Fingerprint{}, nil
	}
	f, ok := api.FormatOf(contentType)
	if !ok {
		return unhashable, nil
	}
	if err := r.cores.Acquire(ctx, 1); err != nil {
		return Fingerprint{}, err
	}
	d, err := func() (pdq.Digest, error) {
		defer r.cores.Release(1)
		data, err := io.ReadAll(src)
		if err != nil {
			return pdq.Digest{}, err
		}
		return pdq.File(data, f)
	}()
	if err != nil {
		r.log.WarnContext(ctx, "perceptual hash failed; the image is kept without one", "err", err)
		return unhashable, nil
	}
	fp := Fingerprint{PDQ: d.Hash().String(), Quality: d.Quality}
	return fp, r.refuseResembling(ctx, fp)
}

// refuseResembling returns api.CodeBlockedContent when fp is reliable and
// within the distance of a blocked hash.
func (r *Resemblance) refuseResembling(ctx context.Context, fp Fingerprint) error {
	if m, ok := r.resembling(fp); ok {
		r.log.InfoContext(ctx, "upload refused: it resembles a blocked picture", "pdq", fp.PDQ, "list", r.listName(m.Tag), "distance", m.Distance)
		return Errorf(api.CodeBlockedContent, "this image resembles a picture a moderator blocked, and may not be uploaded")
	}
	return nil
}

// resembling returns the blocked hash nearest fp within the distance, and
// false when there is none or fp is not reliable.
func (r *Resemblance) resembling(fp Fingerprint) (pdq.Match, bool) {
	if fp.PDQ == "" || fp.Quality < pdq.ReliableQuality {
		return pdq.Match{}, false
	}
	h, err := pdq.ParseHash(fp.PDQ)
	if err != nil {
		return pdq.Match{}, false
	}
	return r.index.Nearest(h, r.distance)
}

// BlockForms returns the hashes a blocking takedown of img blocks: the
// PDQ hashes of its picture's eight dihedral forms, read from its bytes
// (or its stored hash alone, when they cannot be read); none when its
// quality is under pdq.ReliableQuality.
func (r *Resemblance) BlockForms(ctx context.Context, img Image) []BlockedHash {
	block := func(hashes ...string) []BlockedHash {
		hs := make([]BlockedHash, len(hashes))
		for i, h := range hashes {
			hs[i] = BlockedHash{List: ListTakedowns, Hash: h, Quality: img.PDQQuality, Source: img.SHA256}
		}
		return hs
	}
	d, err := r.digest(ctx, img)
	if err != nil {
		r.log.WarnContext(ctx, "takedown: the picture could not be hashed again; its stored hash alone is blocked", "image", img.ID, "err", err)
		if img.PDQ == "" || img.PDQQuality < pdq.ReliableQuality {
			return nil
		}
		return block(img.PDQ)
	}
	if d.Quality < pdq.ReliableQuality {
		return nil
	}
	var hashes []string
	for _, h := range d.Dihedral() {
		hashes = append(hashes, h.String())
	}
	hs := block(hashes...)
	for i := range hs {
		hs[i].Quality = d.Quality
	}
	return hs
}

// digest hashes the bytes of published image img.
func (r *Resemblance) digest(ctx context.Context, img Image) (pdq.Digest, error) {
	f, ok := api.FormatOf(img.ContentType)
	if !ok {
		return pdq.Digest{}, fmt.Errorf("content type %q: %w", img.ContentType, variant.ErrUnsupported)
	}
	b, err := r.blobs.Open(ctx, ImageKey(img.ID))
	if err != nil {
		return pdq.Digest{}, err
	}
	defer b.Close()
	var data bytes.Buffer
	data.Grow(int(b.Size()) + bytes.MinRead) // read once, not grown by doubling
	if _, err := data.ReadFrom(io.LimitReader(b, b.Size())); err != nil {
		return pdq.Digest{}, err
	}
	if err := r.cores.Acquire(ctx, 1); err != nil {
		return pdq.Digest{}, err
	}
	defer r.cores.Release(1)
	return pdq.File(data.Bytes(), f)
}

// syncPage is how many blocked hashes Sync reads at once.
const syncPage = 50_000

// Sync brings the index up to the store's blocked hashes: those added
// since the last Sync, or all again after a removal.
func (r *Resemblance) Sync(ctx context.Context) error {
	r.sync.Lock()
	defer r.sync.Unlock()
	v, err := r.hashes.HashesVersion(ctx)
	if err != nil {
		return fmt.Errorf("blocked hashes: %w", err)
	}
	if v == r.version {
		return nil
	}
	cursor := r.cursor
	var rebuilt pdq.Index
	into := &r.index
	if v.Removals != r.version.Removals {
		cursor, into = HashCursor{}, &rebuilt
	}
	for {
		hs, err := r.hashes.BlockedHashes(ctx, "", cursor, syncPage)
		if err != nil {
			return fmt.Errorf("blocked hashes: %w", err)
		}
		if len(hs) == 0 {
			break
		}
		hashes, tags := make([]pdq.Hash, 0, len(hs)), make([]uint32, 0, len(hs))
		for _, b := range hs {
			h, err := pdq.ParseHash(b.Hash)
			if err != nil || b.Quality >= 0 && b.Quality < pdq.ReliableQuality {
				continue
			}
			hashes, tags = append(hashes, h), append(tags, r.listTag(b.List))
		}
		into.Add(hashes, tags)
		last := hs[len(hs)-1]
		cursor = HashCursor{Version: last.Version, Seq: last.Seq}
	}
	if into == &rebuilt {
		r.index.Replace(&rebuilt)
	}
	// Changes committed while the pages were read are read next time: the
	// version noted is the one read first.
	r.version, r.cursor = v, cursor
	return nil
}

// Run syncs the index every Config.HashesPoll until ctx ends, logging
// failures.
func (r *Resemblance) Run(ctx context.Context) {
	t := time.NewTicker(r.poll)
	defer t.Stop()
	for {
		if err := r.Sync(ctx); err != nil && ctx.Err() == nil {
			r.log.WarnContext(ctx, "reading the blocked hashes failed; retrying", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (r *Resemblance) listTag(name string) uint32 {
	r.names.Lock()
	defer r.names.Unlock()
	t, ok := r.names.tag[name]
	if !ok {
		t = uint32(len(r.names.all))
		r.names.all = append(r.names.all, name)
		r.names.tag[name] = t
	}
	return t
}

func (r *Resemblance) listName(tag uint32) string {
	r.names.RLock()
	defer r.names.RUnlock()
	if int(tag) < len(r.names.all) {
		return r.names.all[tag]
	}
	return ""
}

// maxListName bounds a hash list's name.
const maxListName = 64

// ImportList blocks the hashes of a hash list (pdq.ParseList's) as list
// name, by by for reason, with an audit record, all or nothing; every
// instance refuses them from its next Sync. Hashes of
// a quality under pdq.ReliableQuality are left out (skipped says how
// many). A list of that name already is api.CodeConflict; so is the name
// ListTakedowns.
func (r *Resemblance) ImportList(ctx context.Context, name string, entries []pdq.ListEntry, by, reason string) (added, skipped int, err error) {
	defer func() { err = Classify(err) }()
	if name == "" || len(name) > maxListName || !textual(name) || strings.ContainsAny(name, "\n\r\t") {
		return 0, 0, Errorf(api.CodeInvalidProperty, "a hash list's name is 1 to %d characters of text", maxListName)
	}
	if name == ListTakedowns {
		return 0, 0, Errorf(api.CodeConflict, "%q is the list of takedowns' hashes; name the list otherwise", name)
	}
	lists, err := r.hashes.HashLists(ctx)
	if err != nil {
		return 0, 0, err
	}
	for _, l := range lists {
		if l.Name == name {
			return 0, 0, Errorf(api.CodeConflict, "a hash list is named %q already (%d hashes); remove it first, or name this one otherwise", name, l.Hashes)
		}
	}
	hs := make([]BlockedHash, 0, len(entries))
	for _, e := range entries {
		if e.Quality >= 0 && e.Quality < pdq.ReliableQuality {
			skipped++
			continue
		}
		hs = append(hs, BlockedHash{List: name, Hash: e.Hash.String(), Quality: e.Quality})
	}
	ev := ModerationEvent{Action: ActionImportHashes, Target: name, By: by, At: r.now(),
		Reason: fmt.Sprintf("%d hashes (%d of quality under %d left out): %s", len(hs), skipped, pdq.ReliableQuality, reason)}
	if err := r.hashes.AddBlockedHashes(ctx, hs, ev); err != nil {
		return 0, 0, fmt.Errorf("import hash list %s: %w", name, err)
	}
	return len(hs), skipped, nil
}

// Lists lists the hash lists, ListTakedowns among them, with their sizes.
func (r *Resemblance) Lists(ctx context.Context) ([]HashList, error) {
	ls, err := r.hashes.HashLists(ctx)
	return ls, Classify(err)
}

// ExportList calls each for every hash of list name ("" for all), in the
// order they were added.
func (r *Resemblance) ExportList(ctx context.Context, name string, each func(BlockedHash) error) error {
	var c HashCursor
	for {
		hs, err := r.hashes.BlockedHashes(ctx, name, c, syncPage)
		if err != nil {
			return Classify(err)
		}
		if len(hs) == 0 {
			return nil
		}
		for _, h := range hs {
			if err := each(h); err != nil {
				return err
			}
		}
		c = HashCursor{Version: hs[len(hs)-1].Version, Seq: hs[len(hs)-1].Seq}
	}
}

// RemoveList unblocks the hashes of list name, by by for reason, with an
// audit record, and returns how many; api.CodeNotFound if it has none.
// Every instance lets them through from its next Sync.
func (r *Resemblance) RemoveList(ctx context.Context, name, by, reason string) (int64, error) {
	n, err := r.hashes.RemoveHashList(ctx, name, ModerationEvent{Action: ActionRemoveHashes, Target: name, By: by, Reason: reason, At: r.now()})
	if errors.Is(err, ErrNotFound) {
		return 0, Errorf(api.CodeNotFound, "no hash list is named %q", name)
	}
	return n, Classify(err)
}

// Blocked returns how many blocked hashes the index holds.
func (r *Resemblance) Blocked() int { return r.index.Len() }

// Bounds of Resembling.
const (
	// ResemblingScan is how many of the latest published images that
	// have a hash Resembling compares: older ones are not found. Their
	// hashes are read from the store in pages of resemblingPage (about 100
	// bytes each) and compared one by one.
	ResemblingScan = 100_000
	resemblingPage = 10_000
	// MaxResembling bounds how many images Resembling returns.
	MaxResembling = 100
)

// ResemblingImage is a published image that resembles another, and the
// distance between their perceptual hashes (how many of the 256 bits
// differ).
type ResemblingImage struct {
	Image    Image
	Distance int
}

// Resembling returns the published images other than img whose
// perceptual hash is within Config.NearDuplicateDistance of img's, nearest
// first (then latest first), at most limit (at most MaxResembling, its
// default); none when img has no hash of pdq.ReliableQuality. It compares
// the hashes of the ResemblingScan latest published images that have one
// (see Fingerprint: what is stored) and no older ones.
func (r *Resemblance) Resembling(ctx context.Context, img Image, limit int) (_ []ResemblingImage, err error) {
	defer func() { err = Classify(err) }()
	if limit <= 0 || limit > MaxResembling {
		limit = MaxResembling
	}
	h, err := pdq.ParseHash(img.PDQ)
	if err != nil || img.PDQQuality < pdq.ReliableQuality {
		return nil, nil
	}
	type near struct {
		id       string
		distance int
	}
	var found []near
	var before int64
	for scanned := 0; scanned < ResemblingScan; {
		hs, err := r.hashed.ImageHashes(ctx, before, min(resemblingPage, ResemblingScan-scanned))
		if err != nil {
			return nil, fmt.Errorf("resembling %s: %w", img.ID, err)
		}
		for _, c := range hs {
			other, err := pdq.ParseHash(c.PDQ)
			if err != nil || c.ID == img.ID || c.Quality < pdq.ReliableQuality {
				continue
			}
			if d := pdq.Distance(h, other); d <= r.distance {
				found = append(found, near{c.ID, d})
			}
		}
		if len(hs) == 0 {
			break
		}
		scanned += len(hs)
		before = hs[len(hs)-1].Seq
	}
	// Stable: equally near, the latest first.
	slices.SortStableFunc(found, func(a, b near) int { return a.distance - b.distance })
	var out []ResemblingImage
	for _, f := range found {
		if len(out) == limit {
			break
		}
		other, err := r.images.Image(ctx, f.id)
		if errors.Is(err, ErrNotFound) { // taken down meanwhile
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("resembling %s: %w", img.ID, err)
		}
		out = append(out, ResemblingImage{Image: other, Distance: f.distance})
	}
	return out, nil
}
