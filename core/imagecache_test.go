package core_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"
	"github.com/userimages/userimages/client/api"
	"golang.org/x/crypto/bcrypt"

	"userimages/core"
	"userimages/internal/testkit/embeddedtest"
	"userimages/internal/testkit/testclock"
	"userimages/localdisk"
	"userimages/sqlite"
)

// countingMeta counts the image lookups reaching the metadata store.
type countingMeta struct {
	core.ImageReader
	core.ImageLister
	core.ImageHashLister
	core.ReferenceChecker
	lookups atomic.Int64
}

func (m *countingMeta) Image(ctx context.Context, id string) (core.Image, error) {
	m.lookups.Add(1)
	return m.ImageReader.Image(ctx, id)
}

// stuckBlobs fails every Delete, as an unreachable object store would.
type stuckBlobs struct{ core.BlobStore }

func (stuckBlobs) Delete(context.Context, string) error { return errors.New("delete: unreachable") }

type nopSigner struct{}

func (nopSigner) PresignPut(context.Context, core.PresignParams) (core.UploadTarget, error) {
	return core.UploadTarget{URL: "http://example.invalid/"}, nil
}

// cacheFixture is two instances (services) on one SQLite file and one blob
// directory, with a clock the test moves. a counts its image lookups.
type cacheFixture struct {
	db    *sqlite.DB
	blobs core.BlobStore
	meta  *countingMeta
	a, b  core.Services
	*testclock.Clock
}

func newCacheFixture(t *testing.T, stuckDelete bool) *cacheFixture {
	t.Helper()
	return newFixture(t, stuckDelete, core.Config{}, nil)
}

// newFixture is newCacheFixture with cfg (PasswordCost set for it) and,
// when wrap is not nil, the blob store the services use wrapped by it.
func newFixture(t *testing.T, stuckDelete bool, cfg core.Config, wrap func(core.BlobStore) core.BlobStore) *cacheFixture {
	t.Helper()
	dir := t.TempDir()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(dir, "db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	disk, err := localdisk.Open(filepath.Join(dir, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	f := &cacheFixture{db: db, blobs: disk, meta: &countingMeta{ImageReader: db, ImageLister: db, ImageHashLister: db, ReferenceChecker: db}, Clock: testclock.New(time.Now().UTC())}
	if err := db.AddBrand(ctx, "10016"); err != nil {
		t.Fatal(err)
	}
	var blobs core.BlobStore = disk
	if stuckDelete {
		blobs = stuckBlobs{disk}
	}
	if wrap != nil {
		blobs = wrap(blobs)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	cfg.PasswordCost = bcrypt.MinCost
	newService := func(images *countingMeta) core.Services {
		st := embeddedtest.MetadataOn(db)
		if images != nil {
			st.Images = images
		}
		st.Blobs, st.Signer, st.Now, st.Log = blobs, nopSigner{}, f.Now, log
		s, err := core.NewServices(cfg, st)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	f.a, f.b = newService(f.meta), newService(nil)
	return f
}

// publish stores an image straight in the stores and returns its id.
func (f *cacheFixture) publish(t *testing.T) string {
	t.Helper()
	return f.publishAs(t, "image/png", []byte("\x89PNG"))
}

// publishAs publishes data as an image of contentType.
func (f *cacheFixture) publishAs(t *testing.T, contentType string, data []byte) string {
	t.Helper()
	ctx := context.Background()
	var b [16]byte
	rand.Read(b[:])
	id := base64.RawURLEncoding.EncodeToString(b[:])
	up := core.Upload{Token: ulid.Make().String(), ContentType: contentType, FileSize: int64(len(data)), CreatedAt: f.Now(),
		ImageID: id, Size: int64(len(data)), SHA256: strings.Repeat("ab", 32)}
	if err := f.db.ReceiveUpload(ctx, up); err != nil {
		t.Fatal(err)
	}
	if _, err := f.db.ClaimUpload(ctx, core.UploadClaim{Token: up.Token, BrandID: "10016", NotBefore: up.CreatedAt, At: f.Now()}); err != nil {
		t.Fatal(err)
	}
	if err := f.blobs.Put(ctx, core.ImageKey(id), bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	return id
}

// open opens id.png on s and returns the error code ("" for success).
func open(t *testing.T, s core.Services, id string) api.Code {
	t.Helper()
	return openExt(t, s, id, "png")
}

func openExt(t *testing.T, s core.Services, id, ext string) api.Code {
	t.Helper()
	img, b, err := s.Serving.OpenImage(context.Background(), id, ext)
	if err != nil {
		return core.ErrorCode(err)
	}
	defer b.Close()
	got, err := io.ReadAll(b)
	if err != nil || string(got) != "\x89PNG" || img.ID != id {
		t.Fatalf("open %s: got %+v, %q, %v", id, img, got, err)
	}
	return ""
}

func TestImageCache(t *testing.T) {
	ctx := context.Background()
	for _, tt := range []struct {
		name        string
		stuckDelete bool // blob deletes fail
		run         func(t *testing.T, f *cacheFixture)
	}{
		{"hit makes no metadata lookup", false, func(t *testing.T, f *cacheFixture) {
			id := f.publish(t)
			for range 3 {
				if c := open(t, f.a, id); c != "" {
					t.Fatalf("open: %s", c)
				}
			}
			if n := f.meta.lookups.Load(); n != 1 {
				t.Errorf("lookups for 3 opens: got %d, want 1", n)
			}
		}},
		{"wrong extension of a cached image", false, func(t *testing.T, f *cacheFixture) {
			id := f.publish(t)
			open(t, f.a, id)
			if c := openExt(t, f.a, id, "jpeg"); c != api.CodeNotFound {
				t.Errorf("cached image under another extension: got %q, want %s", c, api.CodeNotFound)
			}
		}},
		{"unknown ids are not cached", false, func(t *testing.T, f *cacheFixture) {
			id := f.publish(t)
			if err := f.db.DeleteImage(ctx, core.Deletion{Image: core.Image{ID: id}, By: "test", At: f.Now()}); err != nil {
				t.Fatal(err)
			}
			for range 2 {
				if c := open(t, f.a, id); c != api.CodeNotFound {
					t.Fatalf("unknown id: got %q, want %s", c, api.CodeNotFound)
				}
			}
			if n, l := f.meta.lookups.Load(), core.ImageCacheLen(f.a.Serving); n != 2 || l != 0 {
				t.Errorf("after 2 opens of an unknown id: %d lookups, %d entries; want 2, 0", n, l)
			}
		}},
		{"deleted on this instance", true, func(t *testing.T, f *cacheFixture) {
			id := f.publish(t)
			open(t, f.a, id)
			// The bytes stay (delete fails): only the invalidation makes this a 404.
			if _, err := f.a.Moderation.DeleteImage(ctx, id, "test", "spam", false); err != nil {
				t.Fatal(err)
			}
			if c := open(t, f.a, id); c != api.CodeNotFound {
				t.Errorf("open after delete: got %q, want %s", c, api.CodeNotFound)
			}
		}},
		{"deleted on another instance", false, func(t *testing.T, f *cacheFixture) {
			id, kept := f.publish(t), f.publish(t)
			open(t, f.a, id)
			open(t, f.a, kept)
			if _, err := f.b.Moderation.DeleteImage(ctx, id, "test", "spam", false); err != nil {
				t.Fatal(err)
			}
			if c := open(t, f.a, id); c != api.CodeNotFound {
				t.Errorf("open of the cached image after its delete elsewhere: got %q, want %s", c, api.CodeNotFound)
			}
			if l := core.ImageCacheLen(f.a.Serving); l != 1 {
				t.Errorf("entries after the failed open: got %d, want 1 (the entry dropped)", l)
			}
			if c := open(t, f.a, kept); c != "" {
				t.Errorf("the other image: got %q", c)
			}
		}},
		{"deleted on another instance whose blob delete failed: 404 after the TTL", true, func(t *testing.T, f *cacheFixture) {
			id := f.publish(t)
			open(t, f.a, id)
			if _, err := f.b.Moderation.DeleteImage(ctx, id, "test", "spam", false); err != nil {
				t.Fatal(err)
			}
			if c := open(t, f.b, id); c != api.CodeNotFound {
				t.Errorf("open on the deleting instance: got %q, want %s", c, api.CodeNotFound)
			}
			f.Advance(core.ImageCacheTTL - time.Second)
			if c := open(t, f.a, id); c != "" {
				t.Errorf("open within the TTL (the bounded stale window): got %q, want success", c)
			}
			f.Advance(time.Second)
			if c := open(t, f.a, id); c != api.CodeNotFound {
				t.Errorf("open at the TTL: got %q, want %s", c, api.CodeNotFound)
			}
		}},
		{"entries expire after the TTL", false, func(t *testing.T, f *cacheFixture) {
			id := f.publish(t)
			open(t, f.a, id)
			f.Advance(core.ImageCacheTTL - time.Nanosecond)
			open(t, f.a, id)
			if n := f.meta.lookups.Load(); n != 1 {
				t.Errorf("lookups within the TTL: got %d, want 1", n)
			}
			f.Advance(time.Nanosecond)
			open(t, f.a, id)
			open(t, f.a, id)
			if n := f.meta.lookups.Load(); n != 2 {
				t.Errorf("lookups after the TTL: got %d, want 2", n)
			}
		}},
		{"size bound evicts the least recently used", false, func(t *testing.T, f *cacheFixture) {
			core.SetImageCacheLimits(f.a.Serving, 3, 0)
			ids := make([]string, 5)
			for i := range ids {
				ids[i] = f.publish(t)
			}
			open(t, f.a, ids[0])
			open(t, f.a, ids[1])
			open(t, f.a, ids[2])
			open(t, f.a, ids[0]) // 1 is now the least recently used
			open(t, f.a, ids[3])
			open(t, f.a, ids[4])
			if l := core.ImageCacheLen(f.a.Serving); l != 3 {
				t.Errorf("entries: got %d, want 3", l)
			}
			before := f.meta.lookups.Load()
			for _, i := range []int{0, 3, 4} {
				open(t, f.a, ids[i])
			}
			if n := f.meta.lookups.Load() - before; n != 0 {
				t.Errorf("lookups of the 3 most recent: got %d, want 0", n)
			}
			open(t, f.a, ids[1])
			if n := f.meta.lookups.Load() - before; n != 1 {
				t.Errorf("lookups of an evicted image: got %d, want 1", n)
			}
			if l := core.ImageCacheLen(f.a.Serving); l != 3 {
				t.Errorf("entries: got %d, want 3", l)
			}
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tt.run(t, newCacheFixture(t, tt.stuckDelete))
		})
	}
}

// TestImageCacheConcurrent opens and deletes from many goroutines, for the
// race detector, and checks the size bound holds.
func TestImageCacheConcurrent(t *testing.T) {
	f := newCacheFixture(t, false)
	core.SetImageCacheLimits(f.a.Serving, 4, 0)
	ids := make([]string, 8)
	for i := range ids {
		ids[i] = f.publish(t)
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 50 {
				id := ids[(g+i)%len(ids)]
				if _, b, err := f.a.Serving.OpenImage(context.Background(), id, "png"); err == nil {
					b.Close()
				} else if core.ErrorCode(err) != api.CodeNotFound {
					t.Error(err)
				}
				if g == 0 && i == 25 {
					f.a.Moderation.DeleteImage(context.Background(), ids[7], "test", "", false)
				}
			}
		})
	}
	wg.Wait()
	if l := core.ImageCacheLen(f.a.Serving); l > 4 {
		t.Errorf("entries: got %d, want at most 4", l)
	}
}
