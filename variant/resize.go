package variant

import (
	"image"
	"image/color"

	"image/draw"
)

// Resize returns m scaled to w×h. Like libvips' shrink, it first averages
// boxes of f×f pixels straight from the decoded planes (a YCbCr JPEG's
// without converting the full image to RGB), for the largest f that
// leaves the image at least as large as the target, then resizes the rest
// of the way with Catmull-Rom (resample).
func Resize(m image.Image, w, h int) *image.RGBA {
	b := m.Bounds()
	var mid *image.RGBA
	if f := shrinkFactor(b.Dx(), b.Dy(), w, h); f >= 2 {
		mid = shrink(m, f)
	} else if r, ok := m.(*image.RGBA); ok {
		mid = r
	} else {
		mid = image.NewRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
		draw.Draw(mid, mid.Rect, m, b.Min, draw.Src)
	}
	if mid.Rect.Dx() == w && mid.Rect.Dy() == h {
		return mid
	}
	return resample(mid, w, h)
}

// shrinkFactor is the box Resize averages first, for an image of sw×sh
// resized to w×h.
func shrinkFactor(sw, sh, w, h int) int { return min(sw/w, sh/h) }

// shrink averages boxes of f×f pixels; edge boxes average the pixels
// they have.
func shrink(m image.Image, f int) *image.RGBA {
	switch m := m.(type) {
	case *image.YCbCr:
		if m.Rect.Min == (image.Point{}) {
			return shrinkYCbCr(m, f)
		}
	case *image.NRGBA:
		return shrinkRGBA(m.Pix, m.Stride, m.Rect, f, false)
	case *image.RGBA:
		return shrinkRGBA(m.Pix, m.Stride, m.Rect, f, true)
	}
	return shrinkAny(m, f)
}

func shrunkRect(r image.Rectangle, f int) image.Rectangle {
	return image.Rect(0, 0, (r.Dx()+f-1)/f, (r.Dy()+f-1)/f)
}

// chromaShift returns how many bits luma coordinates are shifted right
// to address the chroma planes of ratio r.
func chromaShift(r image.YCbCrSubsampleRatio) (sx, sy uint) {
	switch r {
	case image.YCbCrSubsampleRatio422:
		return 1, 0
	case image.YCbCrSubsampleRatio420:
		return 1, 1
	case image.YCbCrSubsampleRatio440:
		return 0, 1
	case image.YCbCrSubsampleRatio411:
		return 2, 0
	case image.YCbCrSubsampleRatio410:
		return 2, 1
	}
	return 0, 0
}

func shrinkYCbCr(m *image.YCbCr, f int) *image.RGBA {
	sw, sh := m.Rect.Dx(), m.Rect.Dy()
	dst := image.NewRGBA(shrunkRect(m.Rect, f))
	dw := dst.Rect.Dx()
	sx, sy := chromaShift(m.SubsampleRatio)
	ys := make([]uint32, dw)
	cbs := make([]uint32, dw)
	crs := make([]uint32, dw)
	yn := make([]uint32, dw)
	cn := make([]uint32, dw)
	for oy := range dst.Rect.Dy() {
		clear(ys)
		clear(cbs)
		clear(crs)
		clear(yn)
		clear(cn)
		y0, y1 := oy*f, min(oy*f+f, sh)
		for y := y0; y < y1; y++ {
			row := m.Y[y*m.YStride : y*m.YStride+sw]
			for ox := range dw {
				x0, x1 := ox*f, min(ox*f+f, sw)
				var s uint32
				for _, v := range row[x0:x1] {
					s += uint32(v)
				}
				ys[ox] += s
				yn[ox] += uint32(x1 - x0)
			}
		}
		cw := (sw + 1<<sx - 1) >> sx
		for cy := y0 >> sy; cy <= (y1-1)>>sy; cy++ {
			cbRow := m.Cb[cy*m.CStride : cy*m.CStride+cw]
			crRow := m.Cr[cy*m.CStride : cy*m.CStride+cw]
			for ox := range dw {
				c0, c1 := (ox*f)>>sx, (min(ox*f+f, sw)-1)>>sx+1
				var b, r uint32
				for i := c0; i < c1; i++ {
					b += uint32(cbRow[i])
					r += uint32(crRow[i])
				}
				cbs[ox] += b
				crs[ox] += r
				cn[ox] += uint32(c1 - c0)
			}
		}
		out := dst.Pix[oy*dst.Stride:]
		for ox := range dw {
			r, g, b := color.YCbCrToRGB(uint8((ys[ox]+yn[ox]/2)/yn[ox]), uint8((cbs[ox]+cn[ox]/2)/cn[ox]), uint8((crs[ox]+cn[ox]/2)/cn[ox]))
			out[4*ox], out[4*ox+1], out[4*ox+2], out[4*ox+3] = r, g, b, 0xff
		}
	}
	return dst
}

// shrinkRGBA shrinks 8-bit RGBA pixels, premultiplied or not, into
// premultiplied RGBA.
func shrinkRGBA(pix []uint8, stride int, r image.Rectangle, f int, premultiplied bool) *image.RGBA {
	sw, sh := r.Dx(), r.Dy()
	dst := image.NewRGBA(shrunkRect(r, f))
	dw := dst.Rect.Dx()
	sums := make([]uint64, 4*dw)
	for oy := range dst.Rect.Dy() {
		clear(sums)
		y0, y1 := oy*f, min(oy*f+f, sh)
		for y := y0; y < y1; y++ {
			row := pix[y*stride : y*stride+4*sw]
			for x := range sw {
				p := row[4*x : 4*x+4 : 4*x+4]
				a := uint64(p[3])
				s := sums[4*(x/f) : 4*(x/f)+4 : 4*(x/f)+4]
				if premultiplied {
					s[0] += uint64(p[0])
					s[1] += uint64(p[1])
					s[2] += uint64(p[2])
				} else {
					s[0] += uint64(p[0]) * a / 0xff
					s[1] += uint64(p[1]) * a / 0xff
					s[2] += uint64(p[2]) * a / 0xff
				}
				s[3] += a
			}
		}
		out := dst.Pix[oy*dst.Stride:]
		for ox := range dw {
			n := uint64((y1 - y0) * (min(ox*f+f, sw) - ox*f))
			for c := range 4 {
				out[4*ox+c] = uint8((sums[4*ox+c] + n/2) / n)
			}
		}
	}
	return dst
}

// shrinkAny shrinks any image through its colour model: slow, for the
// rare originals (paletted, gray, 16-bit) without a fast path.
func shrinkAny(m image.Image, f int) *image.RGBA {
	b := m.Bounds()
	dst := image.NewRGBA(shrunkRect(b, f))
	for oy := range dst.Rect.Dy() {
		for ox := range dst.Rect.Dx() {
			var sr, sg, sb, sa, n uint64
			for y := b.Min.Y + oy*f; y < min(b.Min.Y+oy*f+f, b.Max.Y); y++ {
				for x := b.Min.X + ox*f; x < min(b.Min.X+ox*f+f, b.Max.X); x++ {
					r, g, bl, a := m.At(x, y).RGBA()
					sr, sg, sb, sa, n = sr+uint64(r), sg+uint64(g), sb+uint64(bl), sa+uint64(a), n+1
				}
			}
			i := dst.PixOffset(ox, oy)
			dst.Pix[i], dst.Pix[i+1], dst.Pix[i+2], dst.Pix[i+3] = uint8(sr/n>>8), uint8(sg/n>>8), uint8(sb/n>>8), uint8(sa/n>>8)
		}
	}
	return dst
}

// orient turns m upright by EXIF orientation o (1 to 8).
func orient(m *image.RGBA, o int) *image.RGBA {
	if o <= 1 || o > 8 {
		return m
	}
	w, h := m.Rect.Dx(), m.Rect.Dy()
	dw, dh := w, h
	if o >= 5 {
		dw, dh = h, w
	}
	dst := image.NewRGBA(image.Rect(0, 0, dw, dh))
	for y := range h {
		for x := range w {
			X, Y := Shown(o, w, h, x, y)
			copy(dst.Pix[Y*dst.Stride+4*X:Y*dst.Stride+4*X+4], m.Pix[y*m.Stride+4*x:y*m.Stride+4*x+4])
		}
	}
	return dst
}

// Shown returns where pixel (x, y) of a w×h picture stored with EXIF
// orientation o (1..8) is shown: its place in the upright picture, which
// is h×w for o ≥ 5.
func Shown(o, w, h, x, y int) (X, Y int) {
	switch o {
	case 2:
		return w - 1 - x, y
	case 3:
		return w - 1 - x, h - 1 - y
	case 4:
		return x, h - 1 - y
	case 5:
		return y, x
	case 6:
		return h - 1 - y, x
	case 7:
		return h - 1 - y, w - 1 - x
	case 8:
		return y, w - 1 - x
	}
	return x, y
}
