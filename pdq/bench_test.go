package pdq

import (
	"bytes"
	"fmt"
	"image"
	"image/draw"
	"image/jpeg"
	"image/png"
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"

	"github.com/userimages/userimages/client/api"

	"userimages/internal/jpegscale"
	"userimages/internal/testkit/cputime"
	"userimages/internal/testkit/testphoto"
	"userimages/variant"
)

// BenchmarkFile hashes photo-like JPEGs of about 2 MB (the largest upload)
// and smaller, and PNGs: ns/MP is the cost per megapixel.
func BenchmarkFile(b *testing.B) {
	for _, c := range []struct {
		w, h int
		f    api.Format
	}{{2800, 2100, api.JPEG}, {1024, 768, api.JPEG}, {1024, 768, api.PNG}} {
		data := testphoto.JPEG(c.w, c.h, 1, 1)
		if c.f.MIME == api.PNG.MIME {
			data = pngOf(b, testphoto.Image(c.w, c.h, 1))
		}
		b.Run(fmt.Sprintf("%s-%dx%d-%dKB", c.f.Ext, c.w, c.h, len(data)>>10), func(b *testing.B) {
			for b.Loop() {
				if _, err := File(data, c.f); err != nil {
					b.Fatal(err)
				}
			}
			mp := float64(c.w*c.h) / 1e6
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/mp, "ns/MP")
		})
	}
}

func randomHashes(n int) ([]Hash, []uint32) {
	rng := rand.New(rand.NewPCG(3, 4))
	hs := make([]Hash, n)
	tags := make([]uint32, n)
	for i := range hs {
		hs[i] = randomHash(rng)
		tags[i] = uint32(i)
	}
	return hs, tags
}

// BenchmarkNearest searches an index of 0 and 1,000,000 hashes at PDQ's
// usual radius, 31.
func BenchmarkNearest(b *testing.B) {
	for _, n := range []int{0, 1_000_000} {
		var x Index
		x.Add(randomHashes(n))
		q := randomHash(rand.New(rand.NewPCG(5, 6)))
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			for b.Loop() {
				x.Nearest(q, 31)
			}
		})
	}
}

// BenchmarkBuild adds 1,000,000 hashes to an index, 10,000 at a time.
func BenchmarkBuild(b *testing.B) {
	hs, tags := randomHashes(1_000_000)
	for b.Loop() {
		var x Index
		for i := 0; i < len(hs); i += 10_000 {
			x.Add(hs[i:i+10_000], tags[i:i+10_000])
		}
	}
}

// BenchmarkParseList parses a list of 1,000,000 hashes as pdq-photo-hasher
// prints them.
func BenchmarkParseList(b *testing.B) {
	hs, _ := randomHashes(1_000_000)
	var list strings.Builder
	for i, h := range hs {
		fmt.Fprintf(&list, "%s,%d,photo-%d.jpg\n", h, 50+i%51, i)
	}
	s := list.String()
	b.SetBytes(int64(len(s)))
	for b.Loop() {
		if _, err := ParseList(strings.NewReader(s)); err != nil {
			b.Fatal(err)
		}
	}
}

// TestIndexMemory: a million hashes take at most 64 MiB.
func TestIndexMemory(t *testing.T) {
	hs, tags := randomHashes(1_000_000)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	var x Index
	for i := 0; i < len(hs); i += 10_000 { // as lists are imported, growing
		x.Add(hs[i:i+10_000], tags[i:i+10_000])
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	used := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	t.Logf("1,000,000 hashes: %.1f MiB", float64(used)/(1<<20))
	if used > 64<<20 {
		t.Errorf("1,000,000 hashes take %.1f MiB, want at most 64", float64(used)/(1<<20))
	}
	runtime.KeepAlive(&x)
	runtime.KeepAlive(hs) // else their collection hides the index's size
	runtime.KeepAlive(tags)
}

// pngOf encodes m as an 8-bit RGBA PNG.
func pngOf(tb testing.TB, m image.Image) []byte {
	tb.Helper()
	rgba := image.NewNRGBA(m.Bounds())
	draw.Draw(rgba, rgba.Bounds(), m, image.Point{}, draw.Src)
	var b bytes.Buffer
	if err := png.Encode(&b, rgba); err != nil {
		tb.Fatal(err)
	}
	return b.Bytes()
}

// BenchmarkPhoto2MB takes apart the hash of the PUT benchmark's photo
// (core's BenchmarkPUTPhoto: testphoto's 3000×2250 JPEG, 1.76 MB): the
// whole hash (File), its decoding alone at each reduced size
// (jpegscale.DecodeScaled at n/8: 1/8 reads each block's DC term only, the
// floor of any JPEG decoding: every coefficient is entropy-decoded
// still), and the hash of the decoded picture (FromImage).
func BenchmarkPhoto2MB(b *testing.B) {
	data := testphoto.JPEG(3000, 2250, 3, 1)
	mp := 3000 * 2250 / 1e6
	perMP := func(b *testing.B) {
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/mp, "ns/MP")
	}
	// Each case reports its process CPU per op too: steadier than its
	// wall time on a loaded machine.
	cpu := func(b *testing.B, op func()) { cputime.Loop(b, func(int) { op() }) }
	b.Run("File", func(b *testing.B) {
		cpu(b, func() {
			if _, err := File(data, api.JPEG); err != nil {
				b.Fatal(err)
			}
		})
		perMP(b)
	})
	for _, n := range []int{1, 2, 4} {
		b.Run(fmt.Sprintf("decode-%d/8", n), func(b *testing.B) {
			cpu(b, func() {
				if _, err := jpegscale.DecodeScaled(bytes.NewReader(data), n); err != nil {
					b.Fatal(err)
				}
			})
			perMP(b)
		})
	}
	for _, n := range []int{1, 2} {
		m, err := jpegscale.DecodeScaled(bytes.NewReader(data), n)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(fmt.Sprintf("FromImage-%dx%d", m.Bounds().Dx(), m.Bounds().Dy()), func(b *testing.B) {
			cpu(b, func() { FromImage(m, 1) })
		})
	}
}

// BenchmarkScaleFidelity is the experiment behind File's choice of JPEG
// scale, not a speed: for photos of 2 MB and more it reports how many bits
// the hash of each decoding scale File could choose is from the hash of
// the reference's way (the whole picture decoded, then sampled to
// 512×512 by nearest neighbour: FromImage of image/jpeg's decode). "at-512"
// is File's (the smallest scale at least 512 px a side: 1/4 for these),
// "at-256" the one below (1/8). grainy-max is over testphoto's 3000×2250
// photos (grain as phones' sensors make it), natural-max over
// testphoto.Natural 4000×3000 ones.
func BenchmarkScaleFidelity(b *testing.B) {
	type photo struct {
		data   []byte
		grainy bool
	}
	var photos []photo
	for seed := range uint64(3) {
		photos = append(photos, photo{testphoto.JPEG(3000, 2250, seed+1, 1), true})
	}
	for seed := range uint64(2) {
		var buf bytes.Buffer
		if err := jpeg.Encode(&buf, testphoto.Natural(4000, 3000, seed+3), &jpeg.Options{Quality: 90}); err != nil {
			b.Fatal(err)
		}
		photos = append(photos, photo{buf.Bytes(), false})
	}
	for b.Loop() {
		for _, side := range []int{512, 256} {
			worst := map[bool]int{}
			for _, p := range photos {
				full, err := jpeg.Decode(bytes.NewReader(p.data))
				if err != nil {
					b.Fatal(err)
				}
				ref := FromImage(full, 1)
				s, err := variant.Inspect(p.data, api.JPEG)
				if err != nil {
					b.Fatal(err)
				}
				m, err := variant.Decode(p.data, s, min(s.Width, side), min(s.Height, side))
				if err != nil {
					b.Fatal(err)
				}
				d := FromImage(m, 1)
				worst[p.grainy] = max(worst[p.grainy], Distance(d.Hash(), ref.Hash()))
			}
			b.ReportMetric(float64(worst[true]), fmt.Sprintf("grainy-max-bits-at-%d", side))
			b.ReportMetric(float64(worst[false]), fmt.Sprintf("natural-max-bits-at-%d", side))
		}
	}
}
