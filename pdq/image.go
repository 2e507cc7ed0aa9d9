package pdq

import (
	"fmt"
	"image"
	"image/color"

	"github.com/userimages/userimages/client/api"

	"userimages/variant"
)

// sampleSide: a picture larger than this on either side is resized to
// sampleSide×sampleSide by nearest neighbour before it is hashed, as the
// reference does (CImg's resize, in pdq/cpp/io/pdqio.cpp), which keeps
// the filter's cost bounded and the hashes of large pictures comparable
// with the reference's.
const sampleSide = 512

// File hashes an image file of format f (JPEG, PNG, GIF's first frame or
// WebP) as it is shown, after its EXIF orientation. A JPEG is decoded at
// the smallest reduced size (1/8, 1/4, 1/2) that still has the pixels
// sampled. Its error wraps variant.ErrUnsupported for a file that does
// not decode.
func File(data []byte, f api.Format) (Digest, error) {
	s, err := variant.Inspect(data, f)
	if err != nil {
		return Digest{}, fmt.Errorf("pdq: %w", err)
	}
	m, err := variant.Decode(data, s, min(s.Width, sampleSide), min(s.Height, sampleSide))
	if err != nil {
		return Digest{}, fmt.Errorf("pdq: %w", err)
	}
	return FromImage(m, s.Orientation), nil
}

// FromImage computes the digest of m shown with EXIF orientation o (1..8;
// anything else is taken as 1).
func FromImage(m image.Image, o int) Digest {
	luma, rows, cols := sample(m)
	scratch := make([]float32, len(luma))
	if o >= 2 && o <= 8 {
		var upright []float32
		upright, rows, cols = orient(luma, scratch, rows, cols, o)
		luma, scratch = upright, luma
	}
	return FromLuma(luma, scratch, rows, cols)
}

// sample returns m's luminance, resized to sampleSide×sampleSide by
// nearest neighbour when it is larger on a side: the pixel of each row
// and column floor(i × size / sampleSide).
func sample(m image.Image) (luma []float32, rows, cols int) {
	b := m.Bounds()
	cols, rows = b.Dx(), b.Dy()
	xs, ys := identity(cols), identity(rows)
	if cols > sampleSide || rows > sampleSide {
		xs, ys = nearest(cols), nearest(rows)
		cols, rows = sampleSide, sampleSide
	}
	luma = make([]float32, rows*cols)
	switch m := m.(type) {
	case *image.YCbCr: // JPEG
		sampleYCbCr(m, xs, ys, luma)
		return luma, rows, cols
	case *image.NYCbCrA: // lossy WebP
		sampleYCbCr(&m.YCbCr, xs, ys, luma)
		return luma, rows, cols
	}
	at := lumaAt(m)
	for i, y := range ys {
		row := luma[i*cols : (i+1)*cols]
		for j, x := range xs {
			row[j] = at(b.Min.X+x, b.Min.Y+y)
		}
	}
	return luma, rows, cols
}

// sampleYCbCr is sample's loop for the pictures JPEGs and lossy WebPs
// decode to (alpha ignored, as lumaAt does), without a call a pixel: the
// offsets of a pixel's samples are a row's plus a column's, for every
// subsampling ratio, so each is computed once. The values are ycbcrLuma's.
func sampleYCbCr(m *image.YCbCr, xs, ys []int, luma []float32) {
	o := m.Rect.Min
	base := m.COffset(o.X, o.Y)
	cx := make([]int, len(xs))
	for j, x := range xs {
		cx[j] = m.COffset(o.X+x, o.Y) - base
	}
	cols := len(xs)
	for i, y := range ys {
		row := luma[i*cols : (i+1)*cols]
		yrow := m.Y[m.YOffset(o.X, o.Y+y):]
		crow := m.COffset(o.X, o.Y+y)
		cb, cr := m.Cb[crow:], m.Cr[crow:]
		for j, x := range xs {
			r, g, b := color.YCbCrToRGB(yrow[x], cb[cx[j]], cr[cx[j]])
			row[j] = rgbLuma(r, g, b)
		}
	}
}

func identity(n int) []int {
	s := make([]int, n)
	for i := range s {
		s[i] = i
	}
	return s
}

func nearest(n int) []int {
	s := make([]int, sampleSide)
	for i := range s {
		s[i] = i * n / sampleSide
	}
	return s
}

// lumaAt returns the function giving m's luminance at (x, y), read
// straight from the pixels of the types the decoders return. Transparency
// is ignored (the colour under it counts), as in the reference, which
// reads pictures through ImageMagick's PNM output.
func lumaAt(m image.Image) func(x, y int) float32 {
	switch m := m.(type) {
	case *image.YCbCr: // JPEG, lossy WebP
		return ycbcrLuma(m)
	case *image.NYCbCrA:
		return ycbcrLuma(&m.YCbCr)
	case *image.Gray:
		return func(x, y int) float32 { return float32(m.Pix[m.PixOffset(x, y)]) }
	case *image.NRGBA:
		return func(x, y int) float32 {
			p := m.Pix[m.PixOffset(x, y):]
			return rgbLuma(p[0], p[1], p[2])
		}
	case *image.Paletted:
		lumas := make([]float32, len(m.Palette))
		for i, c := range m.Palette {
			n := color.NRGBAModel.Convert(c).(color.NRGBA)
			lumas[i] = rgbLuma(n.R, n.G, n.B)
		}
		return func(x, y int) float32 {
			if i := int(m.Pix[m.PixOffset(x, y)]); i < len(lumas) {
				return lumas[i]
			}
			return 0 // an index past the palette: image/gif and image/png refuse these
		}
	}
	return func(x, y int) float32 {
		n := color.NRGBAModel.Convert(m.At(x, y)).(color.NRGBA)
		return rgbLuma(n.R, n.G, n.B)
	}
}

// ycbcrLuma: the luminance of the colour clipped to RGB, as the reference
// computes it from the RGB pixels its decoder gives (Y alone differs where
// a saturated colour clips).
func ycbcrLuma(m *image.YCbCr) func(x, y int) float32 {
	return func(x, y int) float32 {
		r, g, b := color.YCbCrToRGB(m.Y[m.YOffset(x, y)], m.Cb[m.COffset(x, y)], m.Cr[m.COffset(x, y)])
		return rgbLuma(r, g, b)
	}
}

func rgbLuma(r, g, b uint8) float32 {
	return lumaR*float32(r) + lumaG*float32(g) + lumaB*float32(b)
}

// orient turns luma (rows×cols, as stored) upright by EXIF orientation o
// (2..8), into dst; it returns dst and its size.
func orient(luma, dst []float32, rows, cols, o int) ([]float32, int, int) {
	w, h := cols, rows
	dw := w
	if o >= 5 {
		dw = h
	}
	for y := range h {
		for x := range w {
			X, Y := variant.Shown(o, w, h, x, y)
			dst[Y*dw+X] = luma[y*w+x]
		}
	}
	if o >= 5 {
		return dst, cols, rows
	}
	return dst, rows, cols
}
