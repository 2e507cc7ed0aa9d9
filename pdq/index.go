package pdq

import (
	"math/bits"
	"slices"
	"sync"
)

// Index is a set of hashes, each with a caller's tag, searched for those
// near a hash. It is a scan of the hashes' bits kept word by word (a
// structure of arrays), which reads 16 bytes of most hashes: a million
// take 36 MiB (32 of bits, 4 of tags) and a query reads 16 MiB of them
// (BENCHMARKS.md, "PDQ"). Multi-index hashing would read less but hold
// its tables beside the hashes, past the 64 MiB a million may take.
//
// Its methods may be called concurrently.
type Index struct {
	mu   sync.RWMutex
	w    [4][]uint64 // word k of each hash
	tags []uint32
}

// Len returns the number of hashes.
func (x *Index) Len() int {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return len(x.tags)
}

// Add adds hashes, tags[i] being hashes[i]'s; it panics when the lengths
// differ.
func (x *Index) Add(hashes []Hash, tags []uint32) {
	if len(hashes) != len(tags) {
		panic("pdq: Index.Add: as many tags as hashes")
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	for k := range x.w {
		x.w[k] = slices.Grow(x.w[k], len(hashes))
	}
	for _, h := range hashes {
		w := h.words()
		for k := range x.w {
			x.w[k] = append(x.w[k], w[k])
		}
	}
	x.tags = append(x.tags, tags...)
}

// Replace makes x hold what y holds, at once for x's readers; y is not
// to be used after.
func (x *Index) Replace(y *Index) {
	y.mu.Lock()
	w, tags := y.w, y.tags
	y.mu.Unlock()
	x.mu.Lock()
	defer x.mu.Unlock()
	x.w, x.tags = w, tags
}

// Match is a hash of the index near the one searched.
type Match struct {
	Tag      uint32
	Distance int
}

// Nearest returns the hash nearest h at distance radius or less, and
// false when there is none.
func (x *Index) Nearest(h Hash, radius int) (Match, bool) {
	best := Match{Distance: radius + 1}
	x.each(h, radius, func(m Match) {
		if m.Distance < best.Distance {
			best = m
		}
	})
	return best, best.Distance <= radius
}

// Within returns every hash at distance radius or less from h.
func (x *Index) Within(h Hash, radius int) []Match {
	var ms []Match
	x.each(h, radius, func(m Match) { ms = append(ms, m) })
	return ms
}

// each calls f for each hash within radius of h.
func (x *Index) each(h Hash, radius int, f func(Match)) {
	q := h.words()
	x.mu.RLock()
	defer x.mu.RUnlock()
	w0, w1, w2, w3 := x.w[0], x.w[1], x.w[2], x.w[3]
	w1 = w1[:len(w0)]
	for i, v := range w0 {
		d := bits.OnesCount64(v^q[0]) + bits.OnesCount64(w1[i]^q[1])
		if d > radius { // half the bits already differ by more
			continue
		}
		d += bits.OnesCount64(w2[i]^q[2]) + bits.OnesCount64(w3[i]^q[3])
		if d <= radius {
			f(Match{Tag: x.tags[i], Distance: d})
		}
	}
}
