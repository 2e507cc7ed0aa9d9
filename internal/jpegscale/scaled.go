package jpegscale

import "math"

// cellWeights[n][q][u] is the mean, over the pixels x of cell q of an
// 8-pixel row split into n cells, of the IDCT's basis function u:
// ½·C(u)·cos((2x+1)uπ/16), C(0) = 1/√2, else 1. A block's n×n output is
// then Σ_v Σ_u w[qy][v]·w[qx][u]·F(v,u): the exact mean of each cell of
// the full inverse transform, computed without it.
var cellWeights = func() (w [9][8][8]float32) {
	for _, n := range []int{1, 2, 4} {
		side := 8 / n
		for q := range n {
			for u := range 8 {
				c := 1.0
				if u == 0 {
					c = 1 / math.Sqrt2
				}
				var sum float64
				for x := q * side; x < (q+1)*side; x++ {
					sum += 0.5 * c * math.Cos(float64(2*x+1)*float64(u)*math.Pi/16)
				}
				w[n][q][u] = float32(sum / float64(side))
			}
		}
	}
	return w
}()

// scaledIDCT writes the n×n cell means of dequantized block b (natural
// order), level-shifted and clipped, to dst: for n = 4 (n = 2 is
// scaledIDCT2's, n = 1 the DC term's alone).
func scaledIDCT(b *block, n int, dst []byte, stride int) {
	w := &cellWeights[n]
	// Rows first: r[v][qx] = Σ_u w[qx][u]·F(v,u).
	var r [8][4]float32
	for v := range 8 {
		row := b[8*v : 8*v+8 : 8*v+8]
		if row[1]|row[2]|row[3]|row[4]|row[5]|row[6]|row[7] == 0 {
			if row[0] == 0 {
				continue
			}
			for qx := range n {
				r[v][qx] = w[qx][0] * float32(row[0])
			}
			continue
		}
		for qx := range n {
			wq := &w[qx]
			var s float32
			for u := range 8 {
				s += wq[u] * float32(row[u])
			}
			r[v][qx] = s
		}
	}
	for qy := range n {
		wq := &w[qy]
		out := dst[qy*stride : qy*stride+n : qy*stride+n]
		for qx := range n {
			var s float32
			for v := range 8 {
				s += wq[v] * r[v][qx]
			}
			out[qx] = clip(s + 128)
		}
	}
}

func clip(f float32) uint8 {
	switch {
	case f <= 0:
		return 0
	case f >= 255:
		return 255
	}
	return uint8(f + 0.5)
}

// scaledIDCT2 is scaledIDCT for n = 2, libjpeg's jidctred case: over
// half a row the even basis functions but the first average to zero, and
// the odd ones are opposite in the two halves, so each row takes five
// products. b is not dequantized: the 25 coefficients read (rows and
// columns 0, 1, 3, 5, 7) are multiplied by their entries of q (natural
// order) here.
func scaledIDCT2(b, q *block, dst []byte, stride int) {
	w := &cellWeights[2][0]
	w0, w1, w3, w5, w7 := w[0], w[1], w[3], w[5], w[7]
	// Rows: e[v] the even part (both cells), o[v] the odd part (+ left,
	// - right); rows 2, 4 and 6 are not read.
	var e, o [8]float32
	for _, v := range [5]int{0, 1, 3, 5, 7} {
		row := b[8*v : 8*v+8 : 8*v+8]
		qr := q[8*v : 8*v+8 : 8*v+8]
		e[v] = w0 * float32(row[0]*qr[0])
		if row[1]|row[3]|row[5]|row[7] != 0 {
			o[v] = w1*float32(row[1]*qr[1]) + w3*float32(row[3]*qr[3]) + w5*float32(row[5]*qr[5]) + w7*float32(row[7]*qr[7])
		}
	}
	// Columns, the same way.
	left, right := e[0]+o[0], e[0]-o[0]
	tl, tr := w0*left, w0*right // even part of the columns
	var ol, or float32
	for _, v := range [4]int{1, 3, 5, 7} {
		ol += w[v] * (e[v] + o[v])
		or += w[v] * (e[v] - o[v])
	}
	dst[0] = clip(tl + ol + 128)
	dst[1] = clip(tr + or + 128)
	dst[stride] = clip(tl - ol + 128)
	dst[stride+1] = clip(tr - or + 128)
}
