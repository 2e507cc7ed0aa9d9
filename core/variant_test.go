package core_test

import (
	"bytes"
	"context"
	"image/jpeg"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/userimages/userimages/client/api"
	"golang.org/x/image/webp"

	"userimages/core"
	"userimages/internal/testkit/testphoto"
)

// countingPuts counts the Puts of variant keys.
type countingPuts struct {
	core.BlobStore
	variants atomic.Int64
}

func (c *countingPuts) Put(ctx context.Context, key string, r io.Reader) error {
	if strings.HasPrefix(key, "variants/") {
		c.variants.Add(1)
	}
	return c.BlobStore.Put(ctx, key, r)
}

// readAll reads and closes b.
func readAll(t *testing.T, b core.Blob) []byte {
	t.Helper()
	defer b.Close()
	data, err := io.ReadAll(b)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// TestVariantMadeOnce: concurrent requests for one missing variant make
// and store it once, and all get its bytes.
func TestVariantMadeOnce(t *testing.T) {
	var puts *countingPuts
	f := newFixture(t, false, core.Config{}, func(b core.BlobStore) core.BlobStore {
		puts = &countingPuts{BlobStore: b}
		return puts
	})
	id := f.publishAs(t, api.JPEG.MIME, testphoto.JPEG(1200, 900, 1, 0))
	const n = 8
	got := make([][]byte, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			_, b, err := f.a.Serving.OpenVariant(context.Background(), id, "jpeg", core.Variant{Width: 320, Format: api.WebP})
			if err != nil {
				t.Error(err)
				return
			}
			got[i] = readAll(t, b)
		})
	}
	wg.Wait()
	if p := puts.variants.Load(); p != 1 {
		t.Errorf("got %d variant Puts, want 1", p)
	}
	for i := range got {
		if !bytes.Equal(got[i], got[0]) {
			t.Fatalf("request %d got other bytes than request 0", i)
		}
	}
	m, err := webp.Decode(bytes.NewReader(got[0]))
	if err != nil || m.Bounds().Dx() != 320 || m.Bounds().Dy() != 240 {
		t.Errorf("the variant: got %v, %v; want a 320x240 WebP", m.Bounds(), err)
	}
	// The other instance serves the stored bytes without making them.
	_, b, err := f.b.Serving.OpenVariant(context.Background(), id, "jpeg", core.Variant{Width: 320, Format: api.WebP})
	if err != nil || !bytes.Equal(readAll(t, b), got[0]) || puts.variants.Load() != 1 {
		t.Errorf("instance b: got %v and %d Puts, want the stored bytes and 1", err, puts.variants.Load())
	}
}

// gatedVariants holds the storing of variants (made while the variant
// budget is taken) until open is closed.
type gatedVariants struct {
	core.BlobStore
	open    chan struct{}
	storing chan struct{} // receives when a Put waits at the gate
}

func (g *gatedVariants) Put(ctx context.Context, key string, r io.Reader) error {
	if strings.HasPrefix(key, "variants/") {
		select {
		case g.storing <- struct{}{}:
		default:
		}
		<-g.open
	}
	return g.BlobStore.Put(ctx, key, r)
}

// TestVariantBudget: while one variant holds the whole --variant-memory,
// another waits VariantWait and is refused with ServiceUnavailable; the
// first is made once the budget's holder goes on.
func TestVariantBudget(t *testing.T) {
	gate := &gatedVariants{open: make(chan struct{}), storing: make(chan struct{}, 1)}
	f := newFixture(t, false, core.Config{VariantMemory: 1 << 20, VariantWait: 100 * time.Millisecond},
		func(b core.BlobStore) core.BlobStore { gate.BlobStore = b; return gate })
	big := f.publishAs(t, api.JPEG.MIME, testphoto.JPEG(1600, 1200, 2, 0)) // its variant waits at the gate
	other := f.publishAs(t, api.JPEG.MIME, testphoto.JPEG(400, 300, 3, 0))
	first := make(chan error, 1)
	go func() {
		_, b, err := f.a.Serving.OpenVariant(context.Background(), big, "jpeg", core.Variant{Width: 640, Format: api.JPEG})
		if err == nil {
			b.Close()
		}
		first <- err
	}()
	<-gate.storing // the first holds the budget
	_, _, err := f.a.Serving.OpenVariant(context.Background(), other, "jpeg", core.Variant{Width: 160, Format: api.JPEG})
	if core.ErrorCode(err) != api.CodeServiceUnavailable {
		t.Errorf("a variant while the budget is full: got %v, want ServiceUnavailable", err)
	}
	close(gate.open)
	if err := <-first; err != nil {
		t.Errorf("the variant holding the budget: %v", err)
	}
	_, b, err := f.a.Serving.OpenVariant(context.Background(), other, "jpeg", core.Variant{Width: 160, Format: api.JPEG})
	if err != nil {
		t.Fatalf("after the budget is free: %v", err)
	}
	if m, err := jpeg.Decode(bytes.NewReader(readAll(t, b))); err != nil || m.Bounds().Dx() != 160 {
		t.Errorf("got %v, want a 160 px JPEG", err)
	}
}

// TestVariantTakedown: a takedown on one instance deletes the image's
// variants, and the other instance, which served them from its cache,
// answers NotFound at once; variants left behind are swept as orphans.
func TestVariantTakedown(t *testing.T) {
	f := newFixture(t, false, core.Config{}, nil)
	ctx := context.Background()
	id := f.publishAs(t, api.JPEG.MIME, testphoto.JPEG(800, 600, 4, 0))
	for _, v := range []core.Variant{{Width: 160, Format: api.JPEG}, {Width: 320, Format: api.WebP}} {
		_, b, err := f.b.Serving.OpenVariant(ctx, id, "jpeg", v)
		if err != nil {
			t.Fatal(err)
		}
		b.Close()
	}
	if _, err := f.a.Moderation.DeleteImage(ctx, id, "test", "takedown", false); err != nil {
		t.Fatal(err)
	}
	if keys := listKeys(t, f.blobs, "variants/"); len(keys) != 0 {
		t.Errorf("variants left after the takedown: %v", keys)
	}
	for _, v := range []core.Variant{{Width: 160, Format: api.JPEG}, {Width: 320, Format: api.WebP}, {Width: 640, Format: api.PNG}} {
		if _, _, err := f.b.Serving.OpenVariant(ctx, id, "jpeg", v); core.ErrorCode(err) != api.CodeNotFound {
			t.Errorf("variant %+v on the other instance: got %v, want NotFound", v, err)
		}
	}

	// A variant whose image is gone (its delete failed) goes with the
	// orphan sweep, once older than the grace.
	if err := f.blobs.Put(ctx, "variants/"+id+"/640-webp", strings.NewReader("RIFF")); err != nil {
		t.Fatal(err)
	}
	kept := f.publishAs(t, api.JPEG.MIME, testphoto.JPEG(400, 300, 5, 0))
	if _, b, err := f.a.Serving.OpenVariant(ctx, kept, "jpeg", core.Variant{Width: 160, Format: api.JPEG}); err != nil {
		t.Fatal(err)
	} else {
		b.Close()
	}
	f.Advance(2 * core.DefaultOrphanGrace)
	st, err := f.a.Upkeep.Sweep(ctx, core.SweepOptions{Orphans: true})
	if err != nil {
		t.Fatal(err)
	}
	if keys := listKeys(t, f.blobs, "variants/"); st.VariantOrphans != 1 || len(keys) != 1 || !strings.Contains(keys[0], kept) {
		t.Errorf("sweep: got %d variant orphans and %v left, want 1 and the published image's variant", st.VariantOrphans, keys)
	}
}

func listKeys(t *testing.T, b core.BlobStore, prefix string) []string {
	t.Helper()
	var keys []string
	if err := b.List(context.Background(), prefix, func(k string, _ time.Time) error { keys = append(keys, k); return nil }); err != nil {
		t.Fatal(err)
	}
	return keys
}

// TestVariantRefused: widths and formats not served are InvalidVariant,
// an unknown image or wrong extension NotFound.
func TestVariantRefused(t *testing.T) {
	f := newFixture(t, false, core.Config{VariantWidths: []int{100, 200}}, nil)
	id := f.publishAs(t, api.JPEG.MIME, testphoto.JPEG(300, 200, 6, 0))
	for _, tc := range []struct {
		id, ext string
		v       core.Variant
		want    api.Code
	}{
		{id, "jpeg", core.Variant{Width: 100, Format: api.JPEG}, ""},
		{id, "jpeg", core.Variant{Width: 160, Format: api.JPEG}, api.CodeInvalidVariant},
		{id, "jpeg", core.Variant{Width: 100, Format: api.GIF}, api.CodeInvalidVariant},
		{id, "png", core.Variant{Width: 100, Format: api.JPEG}, api.CodeNotFound},
		{"AAAAAAAAAAAAAAAAAAAAAA", "jpeg", core.Variant{Width: 100, Format: api.JPEG}, api.CodeNotFound},
	} {
		_, b, err := f.a.Serving.OpenVariant(context.Background(), tc.id, tc.ext, tc.v)
		if err == nil {
			b.Close()
		}
		if got := codeOf(err); got != tc.want {
			t.Errorf("%s.%s %+v: got %q (%v), want %q", tc.id, tc.ext, tc.v, got, err, tc.want)
		}
	}
}

func codeOf(err error) api.Code {
	if err == nil {
		return ""
	}
	return core.ErrorCode(err)
}

// TestVariantLongHeader: a JPEG whose ICC profile, kept on upload, runs
// past its first 256 KiB still gets its variants.
func TestVariantLongHeader(t *testing.T) {
	f := newFixture(t, false, core.Config{}, nil)
	photo := testphoto.JPEG(800, 600, 7, 0)
	const part = 60000
	var icc []byte
	for i := range 5 {
		seg := append([]byte("ICC_PROFILE\x00"), byte(i+1), 5)
		seg = append(seg, make([]byte, part)...)
		n := len(seg) + 2
		icc = append(append(icc, 0xff, 0xe2, byte(n>>8), byte(n)), seg...)
	}
	data := append(append(append([]byte{}, photo[:2]...), icc...), photo[2:]...)
	id := f.publishAs(t, api.JPEG.MIME, data)
	_, b, err := f.a.Serving.OpenVariant(context.Background(), id, "jpeg", core.Variant{Width: 320, Format: api.JPEG})
	if err != nil {
		t.Fatalf("variant of a JPEG with %d bytes of ICC profile: %v", len(icc), err)
	}
	if m, err := jpeg.Decode(bytes.NewReader(readAll(t, b))); err != nil || m.Bounds().Dx() != 320 {
		t.Errorf("got %v, want a 320 px JPEG", err)
	}
}
