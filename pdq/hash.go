// Package pdq computes PDQ, Meta's perceptual hash of pictures (the hash
// shared by ThreatExchange and the industry's hash lists), and finds the
// hashes near one: pictures that look alike hash a few bits apart, so a
// re-encoded, resized, brightened or slightly cropped copy of a blocked
// picture is still found.
//
// The hash follows the published algorithm (facebook/ThreatExchange,
// pdq/): luminance, a Jarosz (two-pass box) filter and decimation to
// 64×64, the first 16×16 coefficients of its DCT, each bit whether a
// coefficient is above their median; the quality is from the 64×64
// picture's gradients. Like the reference implementation (pdq/cpp), a
// picture larger than 512 px on a side is first resized to 512×512 by
// nearest neighbour, and the eight dihedral forms (rotations and mirrors)
// are computed from the DCT as it computes them. Unlike it, the picture
// is hashed as shown, after its EXIF orientation. testdata/README.md
// records how close it is to the reference.
package pdq

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math/bits"
)

// Hash is a 256-bit PDQ hash, as the reference tools print it: 64 hex
// digits, most significant first.
type Hash [32]byte

// String returns the hash in the reference's format: 64 lower-case hex
// digits.
func (h Hash) String() string { return hex.EncodeToString(h[:]) }

// ParseHash reads a hash in the reference's format (either case).
func ParseHash(s string) (Hash, error) {
	var h Hash
	if len(s) != 2*len(h) {
		return h, fmt.Errorf("pdq hash %q: want 64 hex digits", s)
	}
	if _, err := hex.Decode(h[:], []byte(s)); err != nil {
		return h, fmt.Errorf("pdq hash %q: want 64 hex digits", s)
	}
	return h, nil
}

// words returns h as four 64-bit words, for counting bits.
func (h Hash) words() [4]uint64 {
	return [4]uint64{
		binary.BigEndian.Uint64(h[0:]), binary.BigEndian.Uint64(h[8:]),
		binary.BigEndian.Uint64(h[16:]), binary.BigEndian.Uint64(h[24:]),
	}
}

// Distance is the Hamming distance between two hashes: how many of their
// 256 bits differ. PDQ's authors take 31 or less as the same picture.
func Distance(a, b Hash) int {
	x, y := a.words(), b.words()
	return bits.OnesCount64(x[0]^y[0]) + bits.OnesCount64(x[1]^y[1]) +
		bits.OnesCount64(x[2]^y[2]) + bits.OnesCount64(x[3]^y[3])
}

// setBit sets bit k (0..255) the way the reference numbers them: bit k of
// its sixteen 16-bit words, printed last word first.
func (h *Hash) setBit(k int) { h[31-k/8] |= 1 << (k % 8) }
