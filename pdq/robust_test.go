package pdq

import (
	"bytes"
	"image"
	"image/color"
	"image/jpeg"
	"testing"

	"golang.org/x/image/draw"

	"userimages/internal/testkit/testphoto"
)

// nearestForm returns the distance from h to the nearest of forms.
func nearestForm(h Hash, forms [8]Hash) int {
	best := 256
	for _, f := range forms {
		best = min(best, Distance(h, f))
	}
	return best
}

// TestRobustness: the copies of a picture a re-upload would make (the
// ones issue 25 names) hash within 31 bits of one of its dihedral
// hashes, and other pictures do not. The picture has a photo's spectrum
// (testphoto.Natural); the reference too puts the mirror of a picture of
// one texture over a gradient (testphoto.Image) 56 bits from its mirrored
// hash.
func TestRobustness(t *testing.T) {
	photo := testphoto.Natural(1024, 768, 1)
	d := FromImage(photo, 1)
	forms := d.Dihedral()
	b := photo.Bounds()
	copies := map[string]image.Image{
		"JPEG quality 50":           reencode(t, photo, 50),
		"half size":                 resize(photo, b.Dx()/2, b.Dy()/2),
		"5 % brighter":              brighter(photo, 1.05),
		"1 % cropped off each side": crop(photo, image.Rect(b.Dx()/100, b.Dy()/100, b.Dx()-b.Dx()/100, b.Dy()-b.Dy()/100)),
		"rotated 90°":               transform(photo, dihedralTransforms[1]),
		"rotated 270°":              transform(photo, dihedralTransforms[3]),
		"mirrored":                  transform(photo, dihedralTransforms[5]),
	}
	for name, m := range copies {
		c := FromImage(m, 1)
		dist := nearestForm(c.Hash(), forms)
		t.Logf("%s: %d bits", name, dist)
		if dist > 31 {
			t.Errorf("%s: %d bits from the nearest dihedral hash, want at most 31", name, dist)
		}
	}
	for seed := range uint64(5) {
		other := FromImage(testphoto.Natural(1024, 768, 100+seed), 1)
		if dist := nearestForm(other.Hash(), forms); dist <= 31 {
			t.Errorf("another photo (seed %d) is %d bits from it", 100+seed, dist)
		}
	}
}

func reencode(t *testing.T, m image.Image, q int) image.Image {
	t.Helper()
	var b bytes.Buffer
	if err := jpeg.Encode(&b, m, &jpeg.Options{Quality: q}); err != nil {
		t.Fatal(err)
	}
	out, err := jpeg.Decode(&b)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func resize(m image.Image, w, h int) image.Image {
	out := image.NewNRGBA(image.Rect(0, 0, w, h))
	draw.CatmullRom.Scale(out, out.Bounds(), m, m.Bounds(), draw.Src, nil)
	return out
}

func brighter(m image.Image, f float64) image.Image {
	b := m.Bounds()
	out := image.NewNRGBA(b)
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			c := color.NRGBAModel.Convert(m.At(x, y)).(color.NRGBA)
			up := func(v uint8) uint8 { return uint8(min(255, float64(v)*f+0.5)) }
			out.SetNRGBA(x, y, color.NRGBA{up(c.R), up(c.G), up(c.B), c.A})
		}
	}
	return out
}

func crop(m image.Image, r image.Rectangle) image.Image {
	out := image.NewNRGBA(image.Rect(0, 0, r.Dx(), r.Dy()))
	draw.Draw(out, out.Bounds(), m, r.Min, draw.Src)
	return out
}
