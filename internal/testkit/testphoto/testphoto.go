// Package testphoto makes photo-like JPEGs for tests and benchmarks, so
// that no large binary file is committed: smooth gradients with noise,
// encoded by image/jpeg at quality 90.
package testphoto

import (
	"bytes"
	"encoding/binary"
	"image"
	"image/color"
	"image/jpeg"
	"math"
	"math/rand/v2"
)

// Image returns a w×h photo-like image, different for each seed. Its
// top-left quarter is red-dominated and its top-right blue-dominated, so
// that a test can tell which way is up.
func Image(w, h int, seed uint64) *image.YCbCr {
	m := image.NewYCbCr(image.Rect(0, 0, w, h), image.YCbCrSubsampleRatio420)
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	// Texture at scales that survive a downscale (as a photo's detail
	// does), over a gradient, with sensor-like noise.
	px, py := 5+rng.Float64()*40, 5+rng.Float64()*40
	sx := make([]float64, w)
	for x := range w {
		sx[x] = 24 * math.Sin(float64(x)/px) * math.Sin(float64(x)/(px*7.3))
	}
	// Detail at 10 px cells, bilinearly interpolated: what survives a
	// downscale as a photo's texture does, so that variants compress
	// like photos' (tens of kB at 640 px), not like a gradient's.
	const cell = 10
	gw, gh := w/cell+2, h/cell+2
	grid := make([]int, gw*gh)
	for i := range grid {
		grid[i] = rng.IntN(96) - 48
	}
	for y := range h {
		sy := 24 * math.Sin(float64(y)/py) * math.Cos(float64(y)/(py*5.1))
		gy, fy := y/cell, y%cell
		for x := range w {
			gx, fx := x/cell, x%cell
			g0 := grid[gy*gw+gx]*(cell-fx) + grid[gy*gw+gx+1]*fx
			g1 := grid[(gy+1)*gw+gx]*(cell-fx) + grid[(gy+1)*gw+gx+1]*fx
			detail := (g0*(cell-fy) + g1*fy) / (cell * cell)
			v := 40 + 96*x/w + 64*y/h + int(sx[x]+sy) + detail + rng.IntN(16)
			m.Y[y*m.YStride+x] = uint8(min(max(v, 0), 255))
		}
	}
	for cy := range (h + 1) / 2 {
		for cx := range (w + 1) / 2 {
			var r, g, b uint8 = 40, 120, 40
			if 2*cy < h/2 {
				if 2*cx < w/2 {
					r = 230
				} else {
					b = 230
				}
			}
			_, cb, cr := color.RGBToYCbCr(r, g, b)
			i := cy*m.CStride + cx
			m.Cb[i], m.Cr[i] = cb, cr
		}
	}
	return m
}

// JPEG encodes Image(w, h, seed) at quality 90 and, when orientation is
// 2 to 8, marks it with that EXIF orientation (the pixels are as stored:
// a viewer turns them).
func JPEG(w, h int, seed uint64, orientation int) []byte {
	var b bytes.Buffer
	if err := jpeg.Encode(&b, Image(w, h, seed), &jpeg.Options{Quality: 90}); err != nil {
		panic(err) // encoding to memory does not fail
	}
	out := b.Bytes()
	if orientation < 2 || orientation > 8 {
		return out
	}
	tiff := []byte("MM\x00*\x00\x00\x00\x08")
	tiff = binary.BigEndian.AppendUint16(tiff, 1)      // one entry
	tiff = binary.BigEndian.AppendUint16(tiff, 0x0112) // Orientation
	tiff = binary.BigEndian.AppendUint16(tiff, 3)      // SHORT
	tiff = binary.BigEndian.AppendUint32(tiff, 1)
	tiff = binary.BigEndian.AppendUint16(tiff, uint16(orientation))
	tiff = append(tiff, 0, 0, 0, 0, 0, 0)
	app1 := append([]byte{0xFF, 0xE1, 0, 0}, "Exif\x00\x00"...)
	app1 = append(app1, tiff...)
	binary.BigEndian.PutUint16(app1[2:], uint16(len(app1)-2))
	return append(append(append([]byte{}, out[:2]...), app1...), out[2:]...)
}

// Natural returns a w×h picture, different for each seed, whose detail
// falls off with its scale as a photo's does (value noise summed over
// octaves, amplitude ×0.6 an octave: a 1/f-like spectrum), in colour.
// Perceptual hashes of Image's pictures, whose detail is one texture over
// a gradient, are fragile under mirroring (their hash's coefficients are
// mostly near zero); Natural's behave as photos'.
func Natural(w, h int, seed uint64) *image.RGBA {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	acc := make([][3]float32, w*h)
	amp := float32(1)
	for cell := max(w, h) / 2; cell >= 2; cell /= 2 {
		gw, gh := w/cell+2, h/cell+2
		grid := make([][3]float32, gw*gh)
		for i := range grid {
			for c := range 3 {
				grid[i][c] = (rng.Float32()*2 - 1) * amp
			}
		}
		for y := range h {
			gy, fy := y/cell, float32(y%cell)/float32(cell)
			for x := range w {
				gx, fx := x/cell, float32(x%cell)/float32(cell)
				p, q := &grid[gy*gw+gx], &grid[(gy+1)*gw+gx]
				a := &acc[y*w+x]
				for c := range 3 {
					top := p[c]*(1-fx) + grid[gy*gw+gx+1][c]*fx
					bottom := q[c]*(1-fx) + grid[(gy+1)*gw+gx+1][c]*fx
					a[c] += top*(1-fy) + bottom*fy
				}
			}
		}
		amp *= 0.6
	}
	m := image.NewRGBA(image.Rect(0, 0, w, h))
	level := func(f float32) uint8 { return uint8(min(255, max(0, 128+f*70))) }
	for i, v := range acc {
		m.Pix[4*i] = level(v[0] + v[1]*0.5)
		m.Pix[4*i+1] = level(v[1] + v[0]*0.3)
		m.Pix[4*i+2] = level(v[2] + v[1]*0.4)
		m.Pix[4*i+3] = 255
	}
	return m
}
