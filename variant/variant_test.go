package variant

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"io"
	"runtime"
	"sync"
	"testing"

	"github.com/userimages/userimages/client/api"
	"golang.org/x/image/draw"
	xwebp "golang.org/x/image/webp"

	"userimages/internal/testkit/cputime"
	"userimages/internal/testkit/testphoto"
)

func decodeAs(t *testing.T, b []byte, f api.Format) image.Image {
	t.Helper()
	var m image.Image
	var err error
	switch f.MIME {
	case api.JPEG.MIME:
		m, err = jpeg.Decode(bytes.NewReader(b))
	case api.PNG.MIME:
		m, err = png.Decode(bytes.NewReader(b))
	case api.WebP.MIME:
		m, err = xwebp.Decode(bytes.NewReader(b))
	}
	if err != nil {
		t.Fatalf("decode the %s variant: %v", f.Name, err)
	}
	return m
}

func render(t *testing.T, data []byte, f api.Format, w int, out api.Format) image.Image {
	t.Helper()
	s, err := Inspect(data, f)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := Render(&b, data, s, w, out); err != nil {
		t.Fatal(err)
	}
	return decodeAs(t, b.Bytes(), out)
}

// redAt reports whether the pixel at x, y is red-dominated.
func redAt(m image.Image, x, y int) bool {
	r, _, b, _ := m.At(x, y).RGBA()
	return r > 2*b
}

func TestRender(t *testing.T) {
	photo := testphoto.JPEG(1200, 800, 1, 0)
	for _, tc := range []struct {
		name  string
		data  []byte
		in    api.Format
		w     int
		out   api.Format
		wantW int
		wantH int
	}{
		{"jpeg to webp", photo, api.JPEG, 640, api.WebP, 640, 427},
		{"jpeg to jpeg, no shrink", photo, api.JPEG, 960, api.JPEG, 960, 640},
		{"jpeg to png", photo, api.JPEG, 160, api.PNG, 160, 107},
		{"never upscaled", photo, api.JPEG, 1920, api.JPEG, 1200, 800},
		{"orientation 6 swaps the sides", testphoto.JPEG(1200, 800, 2, 6), api.JPEG, 320, api.JPEG, 320, 480},
		{"png", pngOf(t, 900, 600), api.PNG, 320, api.WebP, 320, 213},
		{"gif", gifOf(t, 400, 300), api.GIF, 160, api.PNG, 160, 120},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := render(t, tc.data, tc.in, tc.w, tc.out)
			if got := m.Bounds().Size(); got != image.Pt(tc.wantW, tc.wantH) {
				t.Errorf("got %v, want %dx%d", got, tc.wantW, tc.wantH)
			}
		})
	}
}

// TestOrientation: every orientation's variant shows the red quarter top
// left, as a viewer applying the tag shows the original.
func TestOrientation(t *testing.T) {
	up := testphoto.Image(600, 400, 3)
	for o := 1; o <= 8; o++ {
		// Store the pixels turned so that applying o turns them upright.
		stored := unorient(up, o)
		var b bytes.Buffer
		if err := jpeg.Encode(&b, stored, &jpeg.Options{Quality: 90}); err != nil {
			t.Fatal(err)
		}
		data := withOrientation(b.Bytes(), o)
		m := render(t, data, api.JPEG, 300, api.PNG)
		if got := m.Bounds().Size(); got != image.Pt(300, 200) {
			t.Errorf("orientation %d: got %v, want 300x200", o, got)
		}
		if !redAt(m, 30, 20) || redAt(m, 270, 20) || redAt(m, 30, 180) {
			t.Errorf("orientation %d: the red quarter is not top left", o)
		}
	}
}

// TestOrientationPNGAndWebP: the EXIF orientation of a PNG (eXIf) or a
// WebP (EXIF chunk, after the pixels) is applied too.
func TestOrientationPNGAndWebP(t *testing.T) {
	up := testphoto.Image(300, 200, 7)
	stored := unorient(up, 6) // 200×300, shown as up
	var p bytes.Buffer
	if err := png.Encode(&p, stored); err != nil {
		t.Fatal(err)
	}
	var w bytes.Buffer
	if err := encode(&w, stored, api.WebP); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		data []byte
		f    api.Format
	}{
		{"png", withPNGChunk(p.Bytes(), "eXIf", exifTIFF(6)), api.PNG},
		{"webp", withWebPChunk(w.Bytes(), "EXIF", append([]byte("Exif\x00\x00"), exifTIFF(6)...)), api.WebP},
	} {
		m := render(t, tc.data, tc.f, 150, api.PNG)
		if got := m.Bounds().Size(); got != image.Pt(150, 100) {
			t.Errorf("%s: got %v, want 150x100", tc.name, got)
		}
		if !redAt(m, 15, 10) || redAt(m, 135, 10) {
			t.Errorf("%s: the red quarter is not top left", tc.name)
		}
	}
}

// exifTIFF is a TIFF structure holding only orientation o, as testphoto
// writes it.
func exifTIFF(o int) []byte {
	tagged := testphoto.JPEG(8, 8, 0, o)
	n := int(tagged[4])<<8 | int(tagged[5])
	return tagged[4+2+6 : 4+n] // after the APP1 length and "Exif\0\0"
}

// withPNGChunk inserts a chunk after the IHDR of a PNG.
func withPNGChunk(p []byte, typ string, data []byte) []byte {
	c := binary.BigEndian.AppendUint32(nil, uint32(len(data)))
	c = append(c, typ...)
	c = append(c, data...)
	c = binary.BigEndian.AppendUint32(c, crc32.ChecksumIEEE(c[4:]))
	const ihdrEnd = 8 + 8 + 13 + 4
	return append(append(append([]byte{}, p[:ihdrEnd]...), c...), p[ihdrEnd:]...)
}

// withWebPChunk appends a chunk to a WebP (after its pixels, where
// encoders put EXIF), fixing the RIFF size. A simple-format WebP gets no
// VP8X header: the test's readers do not need one.
func withWebPChunk(w []byte, fourcc string, data []byte) []byte {
	c := append([]byte(fourcc), binary.LittleEndian.AppendUint32(nil, uint32(len(data)))...)
	c = append(c, data...)
	if len(data)%2 == 1 {
		c = append(c, 0)
	}
	out := append(append([]byte{}, w...), c...)
	binary.LittleEndian.PutUint32(out[4:], uint32(len(out)-8))
	return out
}

// unorient returns m stored so that EXIF orientation o shows it as m.
func unorient(m image.Image, o int) *image.RGBA {
	r := image.NewRGBA(m.Bounds())
	for y := range m.Bounds().Dy() {
		for x := range m.Bounds().Dx() {
			r.Set(x, y, m.At(x, y))
		}
	}
	inverse := map[int]int{1: 1, 2: 2, 3: 3, 4: 4, 5: 5, 6: 8, 7: 7, 8: 6}
	return orient(r, inverse[o])
}

func withOrientation(jpegBytes []byte, o int) []byte {
	// testphoto inserts the APP1; borrow it from a tiny photo.
	tagged := testphoto.JPEG(8, 8, 0, max(o, 2))
	n := int(tagged[4])<<8 | int(tagged[5])
	app1 := tagged[2 : 4+n]
	if o == 1 {
		return jpegBytes
	}
	return append(append(append([]byte{}, jpegBytes[:2]...), app1...), jpegBytes[2:]...)
}

func pngOf(t *testing.T, w, h int) []byte {
	m := image.NewNRGBA(image.Rect(0, 0, w, h))
	for i := range m.Pix {
		m.Pix[i] = uint8(i)
	}
	var b bytes.Buffer
	if err := png.Encode(&b, m); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func gifOf(t *testing.T, w, h int) []byte {
	pal := color.Palette{color.Black, color.White}
	var g gif.GIF
	for i := range 2 {
		fr := image.NewPaletted(image.Rect(0, 0, w, h), pal)
		fr.Pix[i] = 1
		g.Image, g.Delay = append(g.Image, fr), append(g.Delay, 10)
	}
	var b bytes.Buffer
	if err := gif.EncodeAll(&b, &g); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestCostBoundsHeap(t *testing.T) {
	data := testphoto.JPEG(4000, 3000, 4, 0)
	s, err := Inspect(data, api.JPEG)
	if err != nil {
		t.Fatal(err)
	}
	if err := Warm(); err != nil { // its compiled module is no variant's cost
		t.Fatal(err)
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	if err := Render(io.Discard, data, s, 640, api.WebP); err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	if got, bound := int64(after.TotalAlloc-before.TotalAlloc), s.Cost(640, api.WebP); got > bound {
		t.Errorf("got %d bytes allocated, over the cost %d", got, bound)
	}
}

var photos12MP = sync.OnceValue(func() [][]byte {
	var ps [][]byte
	for i := range 4 {
		ps = append(ps, testphoto.JPEG(4000, 3000, uint64(i), 0))
	}
	return ps
})

// BenchmarkRender12MP is the cold generation of the issue: a 12 MP JPEG
// to a 640 px WebP, and its stages, each also in CPU time per operation
// (cpu-ms/op: the process's, garbage collection included), which other
// work on the machine disturbs less than wall time.
func BenchmarkRender12MP(b *testing.B) {
	ps := photos12MP()
	if err := Warm(); err != nil {
		b.Fatal(err)
	}
	b.Run("render", func(b *testing.B) {
		cputime.Loop(b, func(i int) {
			data := ps[i%len(ps)]
			s, err := Inspect(data, api.JPEG)
			if err != nil {
				b.Fatal(err)
			}
			if err := Render(io.Discard, data, s, 640, api.WebP); err != nil {
				b.Fatal(err)
			}
		})
	})
	s, err := Inspect(ps[0], api.JPEG)
	if err != nil {
		b.Fatal(err)
	}
	tw, th := s.target(640, api.WebP)
	b.Run("1-decode-scaled", func(b *testing.B) {
		cputime.Loop(b, func(i int) {
			if _, err := Decode(ps[i%len(ps)], s, tw, th); err != nil {
				b.Fatal(err)
			}
		})
	})
	m, err := Decode(ps[0], s, tw, th)
	if err != nil {
		b.Fatal(err)
	}
	y, cb, cr := yuvPlanes(m.(*image.YCbCr))
	b.Run("2-resize-planes", func(b *testing.B) {
		cputime.Loop(b, func(int) {
			resizePlane(y, tw, th)
			resizePlane(cb, (tw+1)/2, (th+1)/2)
			resizePlane(cr, (tw+1)/2, (th+1)/2)
		})
	})
	b.Run("2+3-resize-planes-encode-webp", func(b *testing.B) {
		cputime.Loop(b, func(int) {
			if err := renderYCbCrWebP(io.Discard, m.(*image.YCbCr), tw, th, 1); err != nil {
				b.Fatal(err)
			}
		})
	})
	b.Run("rgba-2-resize", func(b *testing.B) {
		cputime.Loop(b, func(int) { Resize(m, 640, 480) })
	})
	small := Resize(m, 640, 480)
	b.Run("rgba-3-encode-webp", func(b *testing.B) {
		cputime.Loop(b, func(int) {
			if err := encode(io.Discard, small, api.WebP); err != nil {
				b.Fatal(err)
			}
		})
	})
	b.Run("decode-full-image-jpeg", func(b *testing.B) {
		cputime.Loop(b, func(i int) {
			if _, err := jpeg.Decode(bytes.NewReader(ps[i%len(ps)])); err != nil {
				b.Fatal(err)
			}
		})
	})
	full, err := jpeg.Decode(bytes.NewReader(ps[0]))
	if err != nil {
		b.Fatal(err)
	}
	b.Run("resize-full-x-image-draw-catmullrom", func(b *testing.B) {
		cputime.Loop(b, func(int) {
			dst := image.NewRGBA(image.Rect(0, 0, 640, 480))
			draw.CatmullRom.Scale(dst, dst.Rect, full, full.Bounds(), draw.Src, nil)
		})
	})
	b.Run("resize-full-box-then-catmullrom", func(b *testing.B) {
		cputime.Loop(b, func(int) { Resize(full, 640, 480) })
	})
}
