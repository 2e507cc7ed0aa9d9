// Package jpegpad makes JPEGs of an exact size for tests and benchmarks, by
// inserting comment segments: decoders skip them and metadata stripping
// removes them, so the served image is the original.
package jpegpad

import (
	"bytes"
	"fmt"
	"io"
)

// Pad returns base with comment (COM) segments of bytes read from random
// inserted after its SOI marker, exactly size bytes long. size must be
// len(base), or at least len(base)+4 (the smallest segment).
func Pad(base []byte, size int, random io.Reader) ([]byte, error) {
	pad := size - len(base)
	if pad == 0 {
		return bytes.Clone(base), nil
	}
	if pad < 4 || len(base) < 2 {
		return nil, fmt.Errorf("pad %d bytes to %d: need at least 4 more", len(base), size)
	}
	const maxSeg = 4 + 65533 // marker, length, payload
	out := make([]byte, 0, size)
	out = append(out, base[:2]...) // SOI
	for pad > 0 {
		seg := min(pad, maxSeg)
		if rest := pad - seg; rest > 0 && rest < 4 {
			seg = pad - 4
		}
		n := seg - 2 // the length field counts itself
		out = append(out, 0xFF, 0xFE, byte(n>>8), byte(n))
		payload := make([]byte, seg-4)
		if _, err := io.ReadFull(random, payload); err != nil {
			return nil, fmt.Errorf("pad: %w", err)
		}
		out = append(out, payload...)
		pad -= seg
	}
	return append(out, base[2:]...), nil
}
