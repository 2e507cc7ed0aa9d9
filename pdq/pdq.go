package pdq

import "math"

// ReliableQuality is the quality under which PDQ's authors find hashes
// unreliable (flat or nearly flat pictures): such hashes should be
// neither matched nor shared.
const ReliableQuality = 50

// minSide is the smallest side hashed; a smaller picture has the zero
// hash and quality 0, as in the reference.
const minSide = 5

// Luma coefficients of the reference (ITU-R BT.601).
const (
	lumaR float32 = 0.299
	lumaG float32 = 0.587
	lumaB float32 = 0.114
)

// jaroszPasses is the number of box-filter passes along each axis: two
// make a tent filter.
const jaroszPasses = 2

// Digest is what PDQ computes of a picture: its 16×16 DCT coefficients,
// from which its hash and the hashes of its rotations and mirrors come,
// and its quality (0..100).
type Digest struct {
	dct     [16][16]float32
	Quality int
}

// Hash returns the picture's PDQ hash.
func (d *Digest) Hash() Hash { return bitsOf(&d.dct) }

// Dihedral returns the hashes of the picture's eight dihedral forms, in
// the reference's order (pdq-photo-hasher --pdqdih-across): as it is,
// rotated 90°, 180° and 270° counter-clockwise, upside down, mirrored
// left to right, transposed (about the diagonal from the top left), and
// about the other diagonal. Each is computed from the DCT, as
// the reference does, not by hashing the transformed picture, and is
// within a few bits of that.
func (d *Digest) Dihedral() [8]Hash {
	var out [8]Hash
	var b [16][16]float32
	for form := range out {
		for i := range 16 {
			for j := range 16 {
				neg := form == 1 && j&1 == 0 || form == 2 && (i+j)&1 == 1 ||
					form == 3 && i&1 == 0 || form == 4 && i&1 == 0 ||
					form == 5 && j&1 == 0 || form == 7 && (i+j)&1 == 1
				v := d.dct[i][j]
				if neg {
					v = -v
				}
				if form == 1 || form == 3 || form >= 6 { // transposed
					b[j][i] = v
				} else {
					b[i][j] = v
				}
			}
		}
		out[form] = bitsOf(&b)
	}
	return out
}

// FromLuma computes the digest of a picture of rows×cols luminance
// values (row-major, 0..255). It overwrites luma and uses scratch (of the
// same length) as working space.
func FromLuma(luma, scratch []float32, rows, cols int) Digest {
	var d Digest
	if rows < minSide || cols < minSide {
		return d
	}
	var small [64][64]float32
	if rows == 64 && cols == 64 {
		for i := range 64 {
			copy(small[i][:], luma[i*64:])
		}
	} else {
		jarosz(luma, scratch, rows, cols, windowSize(cols), windowSize(rows))
		for i := range 64 {
			ini := int((float64(i) + 0.5) * float64(rows) / 64)
			for j := range 64 {
				inj := int((float64(j) + 0.5) * float64(cols) / 64)
				small[i][j] = luma[ini*cols+inj]
			}
		}
	}
	d.Quality = quality(&small)
	dct64To16(&small, &d.dct)
	return d
}

// windowSize is the Jarosz filter's window along a side of n values
// decimated to 64.
func windowSize(n int) int { return (n + 2*64 - 1) / (2 * 64) }

// jarosz blurs buf (rows×cols) in place with box filters along rows then
// columns, jaroszPasses times.
func jarosz(buf, tmp []float32, rows, cols, alongRows, alongCols int) {
	for range jaroszPasses {
		for i := range rows {
			box(buf[i*cols:], tmp[i*cols:], cols, 1, alongRows)
		}
		boxColumns(tmp, buf, rows, cols, alongCols)
	}
}

// boxColumns is box along every column of in (rows×cols) at once, row by
// row, which reads memory in order; each column's sums are made in the
// same order as box's, so the results are the same to the bit.
func boxColumns(in, out []float32, rows, cols, w int) {
	half := (w + 2) / 2
	sum := make([]float32, cols)
	row := func(s []float32, i int) []float32 { return s[i*cols : (i+1)*cols] }
	size, ri, li, oi := 0, 0, 0, 0
	add := func() {
		for j, v := range row(in, ri) {
			sum[j] += v
		}
		ri++
	}
	sub := func() {
		for j, v := range row(in, li) {
			sum[j] -= v
		}
		li++
	}
	emit := func() {
		o, n := row(out, oi), float32(size)
		for j, v := range sum {
			o[j] = v / n
		}
		oi++
	}
	for range half - 1 {
		add()
		size++
	}
	for range w - half + 1 {
		add()
		size++
		emit()
	}
	for range rows - w {
		add()
		sub()
		emit()
	}
	for range half - 1 {
		sub()
		size--
		emit()
	}
}

// box is the reference's one-dimensional box filter of n values stride
// apart: a window of w values, centred, and shortened at the ends.
func box(in, out []float32, n, stride, w int) {
	half := (w + 2) / 2
	phase1 := half - 1
	phase2 := w - half + 1
	phase3 := n - w
	phase4 := half - 1
	li, ri, oi := 0, 0, 0
	var sum float32
	size := 0
	for range phase1 {
		sum += in[ri]
		size++
		ri += stride
	}
	for range phase2 {
		sum += in[ri]
		size++
		out[oi] = sum / float32(size)
		ri += stride
		oi += stride
	}
	for range phase3 {
		sum += in[ri]
		sum -= in[li]
		out[oi] = sum / float32(size)
		li += stride
		ri += stride
		oi += stride
	}
	for range phase4 {
		sum -= in[li]
		size--
		out[oi] = sum / float32(size)
		li += stride
		oi += stride
	}
}

// quality counts the significant gradients of the 64×64 picture: the
// reference's heuristic, its constants included.
func quality(a *[64][64]float32) int {
	sum := 0
	for i := range 63 {
		for j := range 64 {
			sum += abs(int((a[i][j] - a[i+1][j]) * 100 / 255))
		}
	}
	for i := range 64 {
		for j := range 63 {
			sum += abs(int((a[i][j] - a[i][j+1]) * 100 / 255))
		}
	}
	return min(sum/90, 100)
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}

// dctMatrix is rows 1..16 of the 64-point DCT-II, as the reference
// rounds it.
var dctMatrix = func() (m [16][64]float32) {
	scale := float64(float32(math.Sqrt(2.0 / 64)))
	for i := range 16 {
		for j := range 64 {
			m[i][j] = float32(scale * math.Cos(math.Pi/2/64*float64(i+1)*float64(2*j+1)))
		}
	}
	return m
}()

// dct64To16 computes b = D a Dᵀ, the 16×16 low frequencies (but the
// constant one) of a's DCT, summing in the reference's order.
func dct64To16(a *[64][64]float32, b *[16][16]float32) {
	var t [16][64]float32
	for i := range 16 {
		d := &dctMatrix[i]
		for j := range 64 {
			var s float32
			for k := range 64 {
				s += d[k] * a[k][j]
			}
			t[i][j] = s
		}
	}
	for i := range 16 {
		for j := range 16 {
			d := &dctMatrix[j]
			var s float32
			for k := range 64 {
				s += t[i][k] * d[k]
			}
			b[i][j] = s
		}
	}
}

// bitsOf sets each bit whose coefficient is above the median of all 256.
func bitsOf(b *[16][16]float32) Hash {
	m := torben(b[:])
	var h Hash
	for i := range 16 {
		for j := range 16 {
			if b[i][j] > m {
				h.setBit(i*16 + j)
			}
		}
	}
	return h
}

// torben returns the median of the values, by Torben Mogensen's method,
// as the reference computes it (the lower median of an even count).
func torben(rows [][16]float32) float32 {
	n := len(rows) * 16
	lo, hi := rows[0][0], rows[0][0]
	for _, r := range rows {
		for _, v := range r {
			lo, hi = min(lo, v), max(hi, v)
		}
	}
	var less, greater, equal int
	var guess, maxLess, minGreater float32
	for {
		guess = (lo + hi) / 2
		less, greater, equal = 0, 0, 0
		maxLess, minGreater = lo, hi
		for _, r := range rows {
			for _, v := range r {
				switch {
				case v < guess:
					less++
					if v > maxLess {
						maxLess = v
					}
				case v > guess:
					greater++
					if v < minGreater {
						minGreater = v
					}
				default:
					equal++
				}
			}
		}
		if less <= (n+1)/2 && greater <= (n+1)/2 {
			break
		}
		if less > greater {
			hi = maxLess
		} else {
			lo = minGreater
		}
	}
	switch {
	case less >= (n+1)/2:
		return maxLess
	case less+equal >= (n+1)/2:
		return guess
	default:
		return minGreater
	}
}
