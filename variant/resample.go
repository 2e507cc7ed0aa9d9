package variant

import (
	"image"
	"math"
)

// resample resizes src (premultiplied RGBA) to w×h with the Catmull-Rom
// kernel, stretched by the ratio when shrinking so that it averages as it
// shrinks (as golang.org/x/image/draw's CatmullRom does). Its two passes
// keep 8-bit intermediates: the horizontal pass's buffer is w × src
// height × 4 bytes, not x/image/draw's 32 (float64 per channel).
func resample(src *image.RGBA, w, h int) *image.RGBA {
	sw, sh := src.Rect.Dx(), src.Rect.Dy()
	tmp := image.NewRGBA(image.Rect(0, 0, w, sh))
	cols := kernelTaps(sw, w)
	for y := range sh {
		in := src.Pix[y*src.Stride : y*src.Stride+4*sw]
		out := tmp.Pix[y*tmp.Stride : y*tmp.Stride+4*w]
		for x, t := range cols {
			var r, g, b, a int32
			for k, wt := range t.weights {
				p := in[4*(t.start+k) : 4*(t.start+k)+4 : 4*(t.start+k)+4]
				r += wt * int32(p[0])
				g += wt * int32(p[1])
				b += wt * int32(p[2])
				a += wt * int32(p[3])
			}
			store(out[4*x:4*x+4:4*x+4], r, g, b, a)
		}
	}
	dst := image.NewRGBA(image.Rect(0, 0, w, h))
	acc := make([]int32, 4*w)
	for y, t := range kernelTaps(sh, h) {
		clear(acc)
		for k, wt := range t.weights {
			row := tmp.Pix[(t.start+k)*tmp.Stride : (t.start+k)*tmp.Stride+4*w]
			for i, v := range row {
				acc[i] += wt * int32(v)
			}
		}
		out := dst.Pix[y*dst.Stride : y*dst.Stride+4*w]
		for x := range w {
			store(out[4*x:4*x+4:4*x+4], acc[4*x], acc[4*x+1], acc[4*x+2], acc[4*x+3])
		}
	}
	return dst
}

// weightBits is the fixed-point precision of the kernel weights.
const weightBits = 14

// store rounds fixed-point sums to a premultiplied pixel: clipped to
// 0…255, colour at most alpha (the kernel's negative lobes overshoot).
func store(p []uint8, r, g, b, a int32) {
	a8 := clip8(a)
	p[0], p[1], p[2], p[3] = min(clip8(r), a8), min(clip8(g), a8), min(clip8(b), a8), a8
}

func clip8(v int32) uint8 {
	v = (v + 1<<(weightBits-1)) >> weightBits
	return uint8(min(max(v, 0), 255))
}

// taps are the weights of the input samples start, start+1, … for one
// output sample; they add up to 1<<weightBits.
type taps struct {
	start   int
	weights []int32
}

func catmullRom(t float64) float64 {
	t = math.Abs(t)
	switch {
	case t < 1:
		return (1.5*t-2.5)*t*t + 1
	case t < 2:
		return ((-0.5*t+2.5)*t-4)*t + 2
	}
	return 0
}

// kernelTaps returns the taps of each of out samples resampled from in,
// the edges clamped.
func kernelTaps(in, out int) []taps {
	scale := float64(in) / float64(out)
	stretch := max(scale, 1)
	support := 2 * stretch
	ts := make([]taps, out)
	for i := range ts {
		center := (float64(i)+0.5)*scale - 0.5
		lo := max(int(math.Ceil(center-support)), 0)
		hi := min(int(math.Floor(center+support)), in-1)
		ws := make([]float64, hi-lo+1)
		var sum float64
		for j := range ws {
			ws[j] = catmullRom((float64(lo+j) - center) / stretch)
			sum += ws[j]
		}
		t := taps{start: lo, weights: make([]int32, len(ws))}
		var isum int32
		peak := 0
		for j, wt := range ws {
			t.weights[j] = int32(math.Round(wt / sum * (1 << weightBits)))
			isum += t.weights[j]
			if t.weights[j] > t.weights[peak] {
				peak = j
			}
		}
		t.weights[peak] += 1<<weightBits - isum // exactly 1 in all
		ts[i] = t
	}
	return ts
}
