package jpegscale

import (
	"bytes"
	"fmt"
	"image"
	"image/jpeg"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"userimages/internal/testkit/cputime"
	"userimages/internal/testkit/testphoto"
)

// TestDecodeScaled: at 8/8 the decoder is image/jpeg's, byte for byte;
// at n/8 each pixel is the mean of its cell of the full decode (within
// rounding), for every subsampling and for progressive JPEGs' blocks.
func TestDecodeScaled(t *testing.T) {
	data := testphoto.JPEG(203, 157, 1, 0) // sides not multiples of 8 or 16
	full, err := jpeg.Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	f := full.(*image.YCbCr)
	for _, n := range []int{8, 4, 2, 1} {
		m, err := DecodeScaled(bytes.NewReader(data), n)
		if err != nil {
			t.Fatal(err)
		}
		s := m.(*image.YCbCr)
		if got, want := s.Bounds().Size(), image.Pt((203*n+7)/8, (157*n+7)/8); got != want {
			t.Fatalf("n=%d: got size %v, want %v", n, got, want)
		}
		side := 8 / n
		worst := 0
		for y := range s.Rect.Dy() - 1 {
			for x := range s.Rect.Dx() - 1 {
				sum := 0
				for dy := range side {
					for dx := range side {
						sum += int(f.Y[f.YOffset(x*side+dx, y*side+dy)])
					}
				}
				mean := (sum + side*side/2) / (side * side)
				worst = max(worst, abs(int(s.Y[s.YOffset(x, y)])-mean))
			}
		}
		// The full decode clips and rounds each pixel; the scaled one
		// rounds the mean once.
		if limit := map[int]int{8: 0, 4: 2, 2: 3, 1: 4}[n]; worst > limit {
			t.Errorf("n=%d: a pixel differs by %d from its cell's mean, want at most %d", n, worst, limit)
		}
	}
}

// TestDecodeLikeImageJPEG: at 8/8 the decoder's output equals image/jpeg's
// for progressive, CMYK and EXIF-rotated files, and files with restart
// markers (testdata/restart.jpg: a 203 px photo saved by libvips 8.14
// with `vips jpegsave in.jpg restart.jpg --Q 85 --restart-interval 3`;
// image/jpeg itself refuses the same with --interlace); smaller scales keep
// the image's kind and give its bounds.
func TestDecodeLikeImageJPEG(t *testing.T) {
	for _, name := range []string{"../../imagesafe/testdata/progressive.jpg", "../../imagesafe/testdata/cmyk.jpg",
		"../../imagesafe/testdata/gps_rotated.jpg", "testdata/restart.jpg"} {
		data, err := os.ReadFile(filepath.FromSlash(name))
		if err != nil {
			t.Fatal(err)
		}
		want, err := jpeg.Decode(bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		got, err := DecodeScaled(bytes.NewReader(data), 8)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: 8/8 differs from image/jpeg (%T %v vs %T %v)", name, got, got.Bounds(), want, want.Bounds())
		}
		for _, n := range []int{4, 2, 1} {
			m, err := DecodeScaled(bytes.NewReader(data), n)
			if err != nil {
				t.Fatalf("%s at %d/8: %v", name, n, err)
			}
			b := want.Bounds()
			if got, wantSize := m.Bounds().Size(), image.Pt((b.Dx()*n+7)/8, (b.Dy()*n+7)/8); got != wantSize || reflect.TypeOf(m) != reflect.TypeOf(want) {
				t.Errorf("%s at %d/8: got %T %v, want %T %v", name, n, m, got, want, wantSize)
			}
		}
	}
}

// TestTruncated: a file cut anywhere fails, or decodes, as with
// image/jpeg, and never panics.
func TestTruncated(t *testing.T) {
	for _, name := range []string{"testdata/restart.jpg", "../../imagesafe/testdata/progressive.jpg"} {
		data, err := os.ReadFile(filepath.FromSlash(name))
		if err != nil {
			t.Fatal(err)
		}
		for cut := 0; cut < len(data); cut += 1 + len(data)/200 {
			want, werr := jpeg.Decode(bytes.NewReader(data[:cut]))
			got, err := DecodeScaled(bytes.NewReader(data[:cut]), 8)
			if (err == nil) != (werr == nil) || err == nil && !reflect.DeepEqual(got, want) {
				t.Errorf("%s cut at %d: got %v, image/jpeg %v", name, cut, err, werr)
			}
		}
	}
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

func BenchmarkDecode12MP(b *testing.B) {
	data := testphoto.JPEG(4000, 3000, 1, 0)
	b.Run("image/jpeg", func(b *testing.B) {
		cputime.Loop(b, func(int) { jpeg.Decode(bytes.NewReader(data)) })
	})
	for _, n := range []int{8, 4, 2, 1} {
		b.Run(fmt.Sprintf("scale-%d-of-8", n), func(b *testing.B) {
			cputime.Loop(b, func(int) { DecodeScaled(bytes.NewReader(data), n) })
		})
	}
}

// FuzzDecodeScaled: on any bytes, DecodeScaled never panics, and it
// decodes at every scale exactly what image/jpeg decodes, at the scaled
// size.
func FuzzDecodeScaled(f *testing.F) {
	f.Add(testphoto.JPEG(40, 24, 1, 0), uint8(4))
	if b, err := os.ReadFile(filepath.Join("testdata", "restart.jpg")); err == nil {
		f.Add(b, uint8(2))
	}
	f.Fuzz(func(t *testing.T, data []byte, scale uint8) {
		n := []int{1, 2, 4, 8}[scale%4]
		full, fullErr := jpeg.Decode(bytes.NewReader(data))
		m, err := DecodeScaled(bytes.NewReader(data), n)
		if (err == nil) != (fullErr == nil) {
			t.Fatalf("n=%d: got error %v, image/jpeg's %v", n, err, fullErr)
		}
		if err != nil {
			return
		}
		b := full.Bounds()
		if got, want := m.Bounds().Size(), image.Pt((b.Dx()*n+7)/8, (b.Dy()*n+7)/8); got != want {
			t.Fatalf("n=%d: got size %v, want %v", n, got, want)
		}
	})
}

// TestDecodeLikeImageJPEGNoise: at 8/8 the decoder's output equals
// image/jpeg's for noise at qualities from 1 to 100 (long Huffman codes,
// large coefficients, many stuffed 0xff bytes) and grey, 4:2:0 and 4:4:4
// pictures, whole and cut at every 97th byte; smaller scales decode what
// image/jpeg decodes.
func TestDecodeLikeImageJPEGNoise(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	noise := image.NewNRGBA(image.Rect(0, 0, 67, 45))
	for i := range noise.Pix {
		noise.Pix[i] = uint8(rng.Uint32())
	}
	grey := image.NewGray(noise.Rect)
	copy(grey.Pix, noise.Pix)
	ycc := image.NewYCbCr(noise.Rect, image.YCbCrSubsampleRatio444)
	copy(ycc.Y, noise.Pix)
	copy(ycc.Cb, noise.Pix[len(ycc.Y):])
	copy(ycc.Cr, noise.Pix[2*len(ycc.Y):])
	for _, m := range []image.Image{noise, grey, ycc} {
		for _, q := range []int{1, 50, 90, 100} {
			var buf bytes.Buffer
			if err := jpeg.Encode(&buf, m, &jpeg.Options{Quality: q}); err != nil {
				t.Fatal(err)
			}
			data := buf.Bytes()
			for cut := len(data); cut > 0; cut -= 97 {
				want, werr := jpeg.Decode(bytes.NewReader(data[:cut]))
				for _, n := range []int{8, 4, 2, 1} {
					got, err := DecodeScaled(bytes.NewReader(data[:cut]), n)
					if (err == nil) != (werr == nil) || n == 8 && err == nil && !reflect.DeepEqual(got, want) {
						t.Fatalf("%T at quality %d cut at %d/%d, %d/8: got %v, image/jpeg %v", m, q, cut, len(data), n, err, werr)
					}
				}
			}
		}
	}
}
