package main

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"math/rand/v2"

	"userimages/internal/jpegpad"
)

// noiseJPEG encodes a w×h image of deterministic random pixels, which
// barely compress, so the file is as large as a photo's of more pixels.
func noiseJPEG(w, h int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	m := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			v := r.Uint32()
			m.SetRGBA(x, y, color.RGBA{uint8(v), uint8(v >> 8), uint8(v >> 16), 255})
		}
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, m, &jpeg.Options{Quality: 75}); err != nil {
		panic(err) // encoding to memory cannot fail
	}
	return buf.Bytes()
}

// padJPEG returns base padded to exactly size bytes with comments of
// random bytes from seed (see package jpegpad).
func padJPEG(base []byte, size int, seed uint64) ([]byte, error) {
	var key [32]byte
	key[0] = byte(seed)
	return jpegpad.Pad(base, size, rand.NewChaCha8(key))
}

// testImages are the bodies of the scenarios.
type testImages struct {
	small []byte // ~200 KB photo-like JPEG, served by the get scenario
	big   []byte // exactly 2,000,000 bytes: a ~1.9 MB photo-like JPEG plus a comment
	tiny  []byte // a ~10 KB JPEG, for the claims of the scale scenario
}

func makeImages() (testImages, error) {
	var t testImages
	t.small = noiseJPEG(660, 500, 1) // about 200 KB
	// 1,970,000-ish bytes of pixels, then comments up to the 2,000,000 limit.
	base := noiseJPEG(1920, 1640, 2)
	for len(base) > 1_999_000 {
		return t, fmt.Errorf("2 MB base JPEG is %d bytes: too big", len(base))
	}
	big, err := padJPEG(base, 2_000_000, 2)
	if err != nil {
		return t, err
	}
	t.big = big
	t.tiny = noiseJPEG(120, 100, 3)
	return t, nil
}
