package variant

import (
	"bytes"
	"image"
	"image/jpeg"
	"os"
	"testing"

	"github.com/userimages/userimages/client/api"

	"userimages/internal/testkit/testphoto"
)

// TestYCbCrWebPLikeRGBA: a WebP variant of a YCbCr JPEG, made from its
// planes (renderYCbCrWebP), has the size of, and is on average as close
// to the resized picture as, the same variant made through RGBA (Resize,
// orient, encode), for 4:2:0 and 4:4:4, odd sides, every shrink path
// (none, Catmull-Rom alone, box then Catmull-Rom) and turned pictures.
func TestYCbCrWebPLikeRGBA(t *testing.T) {
	yuv444, err := os.ReadFile("testdata/yuv444.jpg") // 203×152, `vips jpegsave --subsample-mode off`
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		data []byte
		w    int
	}{
		{"4:2:0 odd sides, Catmull-Rom", testphoto.JPEG(601, 401, 5, 0), 301},
		{"4:2:0 box then Catmull-Rom", testphoto.JPEG(1203, 805, 6, 0), 97},
		{"4:2:0 full width", testphoto.JPEG(203, 151, 7, 0), 0},
		{"4:2:0 orientation 6", testphoto.JPEG(601, 401, 8, 6), 151},
		{"4:2:0 orientation 3", testphoto.JPEG(601, 401, 8, 3), 151},
		{"4:4:4", yuv444, 101},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Inspect(tc.data, api.JPEG)
			if err != nil {
				t.Fatal(err)
			}
			var planes, rgba bytes.Buffer
			if err := Render(&planes, tc.data, s, tc.w, api.WebP); err != nil {
				t.Fatal(err)
			}
			tw, th := s.target(tc.w, api.WebP)
			m, err := Decode(tc.data, s, tw, th)
			if err != nil {
				t.Fatal(err)
			}
			if _, ok := m.(*image.YCbCr); !ok {
				t.Fatalf("decoded as %T, not YCbCr", m)
			}
			ref := orient(Resize(m, tw, th), s.Orientation)
			if err := encode(&rgba, ref, api.WebP); err != nil {
				t.Fatal(err)
			}
			a, b := decodeAs(t, planes.Bytes(), api.WebP), decodeAs(t, rgba.Bytes(), api.WebP)
			uw, uh := s.Fit(tc.w)
			if a.Bounds().Size() != image.Pt(uw, uh) || b.Bounds() != a.Bounds() {
				t.Fatalf("got %v, through RGBA %v, want %dx%d", a.Bounds(), b.Bounds(), uw, uh)
			}
			// Both are lossy: each is compared with the picture before
			// encoding (the RGBA path's).
			da, db := meanDiff(a, ref), meanDiff(b, ref)
			t.Logf("mean difference from the resized picture: %.2f levels (%d bytes), through RGBA %.2f (%d bytes)", da, planes.Len(), db, rgba.Len())
			if da > 1.1*db+0.2 {
				t.Errorf("mean difference %.2f levels from the resized picture, through RGBA %.2f", da, db)
			}
		})
	}
}

// TestOrientationWebP: every orientation's WebP variant (made from the
// YCbCr planes) shows the red quarter top left, at odd sizes.
func TestOrientationWebP(t *testing.T) {
	up := testphoto.Image(601, 401, 3)
	for o := 1; o <= 8; o++ {
		var b bytes.Buffer
		if err := jpeg.Encode(&b, unorient(up, o), &jpeg.Options{Quality: 90}); err != nil {
			t.Fatal(err)
		}
		m := render(t, withOrientation(b.Bytes(), o), api.JPEG, 301, api.WebP)
		if got := m.Bounds().Size(); got != image.Pt(301, 201) {
			t.Errorf("orientation %d: got %v, want 301x201", o, got)
		}
		if !redAt(m, 30, 20) || redAt(m, 270, 20) || redAt(m, 30, 180) {
			t.Errorf("orientation %d: the red quarter is not top left", o)
		}
	}
}

// meanDiff is the mean absolute difference of the R, G and B of a and b
// (of the same bounds), in 8-bit levels.
func meanDiff(a, b image.Image) float64 {
	var sum, n float64
	r := a.Bounds()
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			r1, g1, b1, _ := a.At(x, y).RGBA()
			r2, g2, b2, _ := b.At(x, y).RGBA()
			for _, d := range []int{int(r1>>8) - int(r2>>8), int(g1>>8) - int(g2>>8), int(b1>>8) - int(b2>>8)} {
				sum += float64(max(d, -d))
			}
			n += 3
		}
	}
	return sum / n
}
