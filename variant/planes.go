package variant

import (
	"image"
	"io"

	"github.com/gen2brain/webp"
)

// plane is one 8-bit channel of a picture (a YCbCr picture's Y, Cb or
// Cr): w×h samples, row y at pix[y*stride:].
type plane struct {
	pix          []uint8
	w, h, stride int
}

func newPlane(w, h int) plane { return plane{pix: make([]uint8, w*h), w: w, h: h, stride: w} }

func (p plane) row(y int) []uint8 { return p.pix[y*p.stride : y*p.stride+p.w] }

// yuvPlanes returns the Y, Cb and Cr planes of m (whose bounds start at
// the origin).
func yuvPlanes(m *image.YCbCr) (y, cb, cr plane) {
	cw, ch := m.Rect.Dx(), m.Rect.Dy()
	sx, sy := chromaShift(m.SubsampleRatio)
	cw, ch = (cw+1<<sx-1)>>sx, (ch+1<<sy-1)>>sy
	y = plane{pix: m.Y, w: m.Rect.Dx(), h: m.Rect.Dy(), stride: m.YStride}
	cb = plane{pix: m.Cb, w: cw, h: ch, stride: m.CStride}
	cr = plane{pix: m.Cr, w: cw, h: ch, stride: m.CStride}
	return y, cb, cr
}

// renderYCbCrWebP is Render's path for a WebP of a YCbCr JPEG: the Y
// plane and the chroma planes are resized each on its own (box, then
// Catmull-Rom, as Resize does), straight to the 4:2:0 planes that
// libwebp encodes, then turned upright. Neither the decoded picture nor
// the variant is converted to RGB, and libwebp converts nothing back (the
// samples are only mapped from JPEG's full range to VP8's video range): a
// third of the samples of RGBA are resampled.
func renderYCbCrWebP(dst io.Writer, m *image.YCbCr, tw, th, orientation int) error {
	y, cb, cr := yuvPlanes(m)
	cw, ch := (tw+1)/2, (th+1)/2
	ys := resizePlane(y, tw, th)
	cbs := resizePlane(cb, cw, ch)
	crs := resizePlane(cr, cw, ch)
	ow, oh := tw, th
	if orientation >= 5 {
		ow, oh = th, tw
	}
	ocw, och := (ow+1)/2, (oh+1)/2
	// One buffer, in the order and sizes gen2brain/webp passes to
	// libwebp as YUV 4:2:0 with alpha: Y, U, V, then an opaque alpha
	// plane (which libwebp finds opaque, and so encodes no alpha).
	buf := make([]uint8, 2*ow*oh+2*ocw*och)
	yuva := &image.NYCbCrA{
		YCbCr: image.YCbCr{
			Y: buf[: ow*oh : ow*oh], Cb: buf[ow*oh : ow*oh+ocw*och : ow*oh+ocw*och],
			Cr: buf[ow*oh+ocw*och : ow*oh+2*ocw*och : ow*oh+2*ocw*och], YStride: ow, CStride: ocw,
			SubsampleRatio: image.YCbCrSubsampleRatio420, Rect: image.Rect(0, 0, ow, oh),
		},
		A: buf[ow*oh+2*ocw*och:], AStride: ow,
	}
	orientPlane(plane{pix: yuva.Y, w: ow, h: oh, stride: ow}, ys, orientation, &lumaToVideo)
	orientPlane(plane{pix: yuva.Cb, w: ocw, h: och, stride: ocw}, cbs, orientation, &chromaToVideo)
	orientPlane(plane{pix: yuva.Cr, w: ocw, h: och, stride: ocw}, crs, orientation, &chromaToVideo)
	for i := range yuva.A {
		yuva.A[i] = 0xff
	}
	return webp.Encode(dst, yuva, webp.Options{Quality: WebPQuality, Method: webpMethod})
}

// resizePlane returns p scaled to w×h: averaged by boxes of f×f samples
// first for the largest f that leaves it at least as large, then
// resampled with Catmull-Rom.
func resizePlane(p plane, w, h int) plane {
	if f := shrinkFactor(p.w, p.h, w, h); f >= 2 {
		p = shrinkPlane(p, f)
	}
	if p.w == w && p.h == h {
		return p
	}
	return resamplePlane(p, w, h)
}

// shrinkPlane averages boxes of f×f samples; edge boxes average the
// samples they have.
func shrinkPlane(p plane, f int) plane {
	dst := newPlane((p.w+f-1)/f, (p.h+f-1)/f)
	sums := make([]uint32, dst.w)
	for oy := range dst.h {
		clear(sums)
		y0, y1 := oy*f, min(oy*f+f, p.h)
		for y := y0; y < y1; y++ {
			for x, v := range p.row(y) {
				sums[x/f] += uint32(v)
			}
		}
		out := dst.row(oy)
		for ox := range dst.w {
			n := uint32((y1 - y0) * (min(ox*f+f, p.w) - ox*f))
			out[ox] = uint8((sums[ox] + n/2) / n)
		}
	}
	return dst
}

// resamplePlane is resample for one channel: two passes, horizontal
// first, with 8-bit intermediates.
func resamplePlane(src plane, w, h int) plane {
	tmp := newPlane(w, src.h)
	cols := kernelTaps(src.w, w)
	for y := range src.h {
		in, out := src.row(y), tmp.row(y)
		for x, t := range cols {
			var s int32
			for k, wt := range t.weights {
				s += wt * int32(in[t.start+k])
			}
			out[x] = clip8(s)
		}
	}
	dst := newPlane(w, h)
	acc := make([]int32, w)
	for y, t := range kernelTaps(src.h, h) {
		clear(acc)
		for k, wt := range t.weights {
			for i, v := range tmp.row(t.start + k) {
				acc[i] += wt * int32(v)
			}
		}
		out := dst.row(y)
		for x, s := range acc {
			out[x] = clip8(s)
		}
	}
	return dst
}

// JPEG's YCbCr is full range (JFIF: 0…255), VP8's is BT.601's video range
// (Y 16…235, Cb and Cr 16…240), which libwebp's own conversion from RGB
// gives: lumaToVideo and chromaToVideo map the one to the other, rounded.
var lumaToVideo, chromaToVideo = func() (y, c [256]uint8) {
	for v := range 256 {
		y[v] = uint8(16 + (v*219+127)/255)
		c[v] = uint8(128 + ((v-128)*224+128*255+127)/255 - 128)
	}
	return y, c
}()

// orientPlane writes src turned upright by EXIF orientation o (1 to 8)
// into dst, whose size is src's, or src's turned (o ≥ 5), each sample
// mapped by lut.
func orientPlane(dst, src plane, o int, lut *[256]uint8) {
	if o <= 1 || o > 8 {
		for y := range src.h {
			out := dst.row(y)
			for x, v := range src.row(y) {
				out[x] = lut[v]
			}
		}
		return
	}
	for y := range src.h {
		for x, v := range src.row(y) {
			X, Y := Shown(o, src.w, src.h, x, y)
			dst.pix[Y*dst.stride+X] = lut[v]
		}
	}
}
