package imagesafe

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"errors"
	"image"
	"image/color"
	"image/gif"
	"slices"
	"testing"
)

// small caps, so that animations over them are cheap to make.
var smallCaps = Options{Strip: true, MaxPixels: 100, MaxSide: 100}

func animatedGIF(t *testing.T, frames int) []byte {
	t.Helper()
	a := &gif.GIF{}
	for range frames {
		a.Image = append(a.Image, image.NewPaletted(image.Rect(0, 0, 10, 10), color.Palette{color.Black, color.White}))
		a.Delay = append(a.Delay, 1)
	}
	var buf bytes.Buffer
	if err := gif.EncodeAll(&buf, a); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// apng is a 10×10 grey APNG of frames 10×10 frames: the default image
// first, then frames-1 fcTL and fdAT pairs.
func apng(t *testing.T, frames int) []byte {
	t.Helper()
	p := encodePNG(t, 10, 10)
	const afterIHDR = 8 + 25
	iend := len(p) - 12
	var pixels bytes.Buffer
	zw := zlib.NewWriter(&pixels)
	zw.Write(make([]byte, 10*(1+10))) // 10 scanlines: filter byte, 10 grey pixels
	zw.Close()
	seq := uint32(0)
	next := func() []byte {
		seq++
		return binary.BigEndian.AppendUint32(nil, seq-1)
	}
	fcTL := func() []byte {
		fc := next()
		fc = binary.BigEndian.AppendUint32(fc, 10)
		fc = binary.BigEndian.AppendUint32(fc, 10)
		fc = append(fc, make([]byte, 8+4+2)...) // x, y, delay, dispose, blend
		return pngChunk("fcTL", fc)
	}
	out := append([]byte{}, p[:afterIHDR]...)
	out = append(out, pngChunk("acTL", binary.BigEndian.AppendUint32(binary.BigEndian.AppendUint32(nil, uint32(frames)), 0))...)
	out = append(out, fcTL()...)
	out = append(out, p[afterIHDR:iend]...)
	for range frames - 1 {
		out = append(out, fcTL()...)
		out = append(out, pngChunk("fdAT", append(next(), pixels.Bytes()...))...)
	}
	return append(out, p[iend:]...)
}

// animatedWebP is a 10×10 canvas with frames ANMF chunks of 10×10, their
// bitstreams cut to the header (only the frame headers matter here).
func animatedWebP(frames int) []byte {
	le24 := func(v int) []byte { return []byte{byte(v), byte(v >> 8), byte(v >> 16)} }
	var chunks []byte
	vp8x := append([]byte{0x02, 0, 0, 0}, append(le24(9), le24(9)...)...) // animation flag
	chunks = append(chunks, webpChunk("VP8X", vp8x)...)
	chunks = append(chunks, webpChunk("ANIM", make([]byte, 6))...)
	for range frames {
		frame := append(make([]byte, 6), append(le24(9), le24(9)...)...)
		frame = append(frame, 0, 0, 0, 0) // duration, flags
		// A VP8L bitstream's header alone: 10×10, no alpha, version 0.
		frame = append(frame, webpChunk("VP8L", binary.LittleEndian.AppendUint32([]byte{0x2f}, 9|9<<14))...)
		chunks = append(chunks, webpChunk("ANMF", frame)...)
	}
	out := append([]byte("RIFF"), binary.LittleEndian.AppendUint32(nil, uint32(4+len(chunks)))...)
	return append(append(out, "WEBP"...), chunks...)
}

// TestAnimationFramesAreCapped: an animation's frames may add up to ten
// times the pixel cap, no more.
func TestAnimationFramesAreCapped(t *testing.T) {
	tests := []struct {
		name, contentType string
		data              []byte
		want              Reason
	}{
		{"gif at the cap", "image/gif", animatedGIF(t, 10), 0},
		{"gif over the cap", "image/gif", animatedGIF(t, 11), TooLarge},
		{"apng at the cap", "image/png", apng(t, 10), 0},
		{"apng over the cap", "image/png", apng(t, 11), TooLarge},
		{"webp at the cap", "image/webp", animatedWebP(10), 0},
		{"webp over the cap", "image/webp", animatedWebP(11), TooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Inspect(bytes.NewReader(tt.data), tt.contentType, smallCaps)
			var r *Refusal
			switch {
			case tt.want == 0 && err != nil:
				t.Fatalf("Inspect: got %v, want accepted", err)
			case tt.want != 0 && (!errors.As(err, &r) || r.Reason != tt.want):
				t.Fatalf("Inspect: got %v, want refusal %d", err, tt.want)
			}
		})
	}
}

// TestAPNGFrameData: each APNG frame's data is checked as the image's is,
// against its frame control.
func TestAPNGFrameData(t *testing.T) {
	a := apng(t, 2) // acTL, fcTL, IDAT, fcTL, fdAT
	bs := blocks(a, "image/png")
	fcTL, fdAT := bs[4], bs[5]
	seq := a[fdAT.data : fdAT.data+4]
	cut := slices.Concat(a[:fdAT.off], pngChunk("fdAT", slices.Concat(seq, a[fdAT.data+4:fdAT.data+fdAT.dN-5])), a[fdAT.off+fdAT.n:])
	tests := []struct {
		name string
		data []byte
		want Reason
	}{
		{"valid", a, 0},
		{"frame data cut", cut, Corrupt},
		{"frame data without its fcTL", slices.Concat(a[:fcTL.off], a[fcTL.off+fcTL.n:]), Corrupt},
		{"frame 5 pixels wide, data for 10", pngEdit(a, "fcTL", 1, 7, 5), Corrupt},
		{"frame outside the image", pngEdit(a, "fcTL", 1, 15, 1), Corrupt},
		{"fcTL of the default image smaller than it", pngEdit(a, "fcTL", 0, 7, 5), Corrupt},
		{"invalid blend operation", pngEdit(a, "fcTL", 1, 25, 2), Corrupt},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.want == 0 {
				if _, err := Inspect(bytes.NewReader(tt.data), "image/png", Options{}); err != nil {
					t.Fatalf("Inspect: got %v, want accepted", err)
				}
				return
			}
			wantRefused(t, tt.data, "image/png", tt.want)
		})
	}
}
