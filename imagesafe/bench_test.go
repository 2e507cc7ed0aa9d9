package imagesafe

import (
	"bytes"
	"encoding/binary"
	"errors"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

// noise is a w×h opaque image of random pixels: it barely compresses, so
// it encodes to realistic photo sizes.
func noise(w, h int) *image.RGBA {
	r := rand.New(rand.NewPCG(1, 2))
	m := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			v := r.Uint32()
			m.SetRGBA(x, y, color.RGBA{uint8(v), uint8(v >> 8), uint8(v >> 16), 255})
		}
	}
	return m
}

// benchJPEG is a 2000×1500 JPEG of noise (about 1.8 MB, under the default
// 2,000,000-byte limit) carrying a camera's metadata: the APPn and COM
// segments of testdata/gps_rotated.jpg (JFIF, EXIF with GPS, IPTC, XMP, ICC
// profile, comment), inserted after SOI.
var benchJPEG = sync.OnceValues(func() ([]byte, error) {
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, noise(2000, 1500), nil); err != nil {
		return nil, err
	}
	fix, err := os.ReadFile(filepath.Join("testdata", "gps_rotated.jpg"))
	if err != nil {
		return nil, err
	}
	end := 2
	for end+4 <= len(fix) && fix[end] == 0xFF && (fix[end+1]&0xF0 == 0xE0 || fix[end+1] == mCOM) {
		end += 2 + int(binary.BigEndian.Uint16(fix[end+2:]))
	}
	if end == 2 || end > len(fix) {
		return nil, errors.New("gps_rotated.jpg: no metadata segments after SOI")
	}
	data := buf.Bytes()
	return append(append(append([]byte{}, data[:2]...), fix[2:end]...), data[2:]...), nil
})

// benchPNG is a 900×700 RGB PNG of noise (about 1.9 MB) carrying the
// ancillary chunks of testdata/text.png (tEXt, iTXt with XMP, eXIf, gAMA,
// cHRM, bKGD, tIME), inserted after IHDR.
var benchPNG = sync.OnceValues(func() ([]byte, error) {
	var buf bytes.Buffer
	if err := png.Encode(&buf, noise(900, 700)); err != nil {
		return nil, err
	}
	fix, err := os.ReadFile(filepath.Join("testdata", "text.png"))
	if err != nil {
		return nil, err
	}
	const afterIHDR = 8 + 25
	end := bytes.Index(fix, []byte("IDAT"))
	if end < afterIHDR+4 {
		return nil, errors.New("text.png: no chunks between IHDR and IDAT")
	}
	end -= 4 // the IDAT chunk's length
	data := buf.Bytes()
	return append(append(append([]byte{}, data[:afterIHDR]...), fix[afterIHDR:end]...), data[afterIHDR:]...), nil
})

type benchImage struct {
	name, contentType string
	data              func() ([]byte, error)
}

var benchImages = []benchImage{
	{"jpeg", "image/jpeg", benchJPEG},
	{"png", "image/png", benchPNG},
}

// load builds img's bytes and checks that Inspect accepts them and that
// stripping removes something.
func (img benchImage) load(b *testing.B) []byte {
	b.Helper()
	data, err := img.data()
	if err != nil {
		b.Fatal(err)
	}
	plan, err := Inspect(bytes.NewReader(data), img.contentType, Options{Strip: true})
	if err != nil {
		b.Fatalf("Inspect: %v", err)
	}
	if plan.Unchanged() {
		b.Fatal("stripping left the benchmark image unchanged: it has no metadata")
	}
	return data
}

// BenchmarkInspect is the claim's walk of an image, stripping metadata
// (the default) or keeping it (--keep-metadata, which scans it for active
// content); SetBytes is the input's size.
func BenchmarkInspect(b *testing.B) {
	for _, img := range benchImages {
		for _, strip := range []bool{true, false} {
			name := img.name + "/keep"
			if strip {
				name = img.name + "/strip"
			}
			b.Run(name, func(b *testing.B) {
				data := img.load(b)
				opt := Options{Strip: strip}
				b.SetBytes(int64(len(data)))
				b.ReportAllocs()
				for b.Loop() {
					if _, err := Inspect(bytes.NewReader(data), img.contentType, opt); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkStrip is what the claim does to produce the served copy: Inspect
// with Strip, then the planned output read through Plan.Reader (into
// io.Discard here; to the blob store in the server). SetBytes is the
// input's size.
func BenchmarkStrip(b *testing.B) {
	for _, img := range benchImages {
		b.Run(img.name, func(b *testing.B) {
			data := img.load(b)
			opt := Options{Strip: true}
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				plan, err := Inspect(bytes.NewReader(data), img.contentType, opt)
				if err != nil {
					b.Fatal(err)
				}
				n, err := io.Copy(io.Discard, plan.Reader(bytes.NewReader(data)))
				if err != nil || n != plan.Size() {
					b.Fatalf("copy: %d bytes, error %v; want %d bytes", n, err, plan.Size())
				}
			}
		})
	}
}
