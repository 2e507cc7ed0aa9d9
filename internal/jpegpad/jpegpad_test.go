package jpegpad

import (
	"bytes"
	"image"
	"image/jpeg"
	"math/rand/v2"
	"testing"
)

func TestPad(t *testing.T) {
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, image.NewGray(image.Rect(0, 0, 8, 8)), nil); err != nil {
		t.Fatal(err)
	}
	base := buf.Bytes()
	rng := rand.NewChaCha8([32]byte{1})
	for _, size := range []int{len(base), len(base) + 4, len(base) + 65537, len(base) + 65538, len(base) + 200_000} {
		got, err := Pad(base, size, rng)
		if err != nil || len(got) != size {
			t.Fatalf("Pad to %d: got %d bytes, %v; want %d", size, len(got), err, size)
		}
		if _, err := jpeg.Decode(bytes.NewReader(got)); err != nil {
			t.Errorf("Pad to %d: not a JPEG: %v", size, err)
		}
	}
	for _, size := range []int{len(base) + 1, len(base) + 3, len(base) - 1} {
		if _, err := Pad(base, size, rng); err == nil {
			t.Errorf("Pad to %d: got nil error, want one", size)
		}
	}
}
