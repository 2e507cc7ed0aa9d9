package imagesafe

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// wantRefused checks that Inspect refuses data as ct for reason want, and
// that the refusal says what is wrong.
func wantRefused(t *testing.T, data []byte, ct string, want Reason) {
	t.Helper()
	_, err := Inspect(bytes.NewReader(data), ct, Options{Strip: true})
	var r *Refusal
	if !errors.As(err, &r) || r.Reason != want {
		t.Fatalf("Inspect: got %v, want refusal %d", err, want)
	}
	if r.Detail == "" {
		t.Fatal("the refusal has no detail")
	}
	t.Logf("refused: %s", r.Detail)
}

// pngEdit returns a copy of p with the payload byte i of its chunk typ
// number nth (from 0) set to v, the chunk's CRC fixed.
func pngEdit(p []byte, typ string, nth, i int, v byte) []byte {
	m := slices.Clone(p)
	for _, blk := range blocks(m, "image/png") {
		if blk.kind == typ {
			if nth--; nth < 0 {
				m[blk.data+i] = v
				fixPNGCRC(m, blk)
				break
			}
		}
	}
	return m
}

// pngWithout returns a copy of p without its chunks of type typ.
func pngWithout(p []byte, typ string) []byte {
	m := []byte(pngMagic)
	for _, blk := range blocks(p, "image/png") {
		if blk.kind != typ {
			m = append(m, p[blk.off:blk.off+blk.n]...)
		}
	}
	return m
}

// pngWithData returns a copy of p whose image data is raw, deflated, in
// one IDAT chunk (or the compressed bytes z as they are, if raw is nil).
func pngWithData(p, raw, z []byte) []byte {
	if raw != nil {
		var buf bytes.Buffer
		zw := zlib.NewWriter(&buf)
		zw.Write(raw)
		zw.Close()
		z = buf.Bytes()
	}
	bs := blocks(p, "image/png")
	var m []byte
	for i, blk := range bs {
		if blk.kind == "IDAT" && i > 0 && bs[i-1].kind != "IDAT" {
			m = append(m, pngChunk("IDAT", z)...)
		}
		if blk.kind != "IDAT" {
			m = append(m, p[blk.off:blk.off+blk.n]...)
		}
	}
	return append([]byte(pngMagic), m...)
}

// TestPngSuiteInvalid rebuilds PngSuite's "x" files (its corrupt cases,
// not shipped with Go) from the valid suite, adds the faults of issue 12,
// and checks each is refused with its reason. Go's own invalid-*.png are
// refused too.
func TestPngSuiteInvalid(t *testing.T) {
	suite := func(name string) []byte { return corpusFile(t, 2, name) }
	goTestdata := func(name string) []byte { return corpusFile(t, 1, name) }
	g01, g04, g08, c08, p08, i04 := suite("basn0g01.png"), suite("basn0g04.png"), suite("basn0g08.png"), suite("basn2c08.png"), suite("basn3p08.png"), suite("basn3p04-31i.png")
	// basn0g08 is 32×32 grey: 32 scanlines of a filter byte and 32 bytes.
	rows := func(n int, filter byte) []byte {
		raw := make([]byte, n*33)
		for i := range n {
			raw[i*33] = filter
		}
		return raw
	}
	whole := pngWithData(g08, rows(32, 0), nil)
	iend := len(whole) - 12
	interleaved := slices.Concat(whole[:iend], pngChunk("tEXt", []byte("a\x00b")), pngChunk("IDAT", nil), whole[iend:])
	tests := []struct {
		name string
		data []byte
		want Reason
	}{
		{"xs1n0g01 signature byte 1", edit(g01, 0, 0x88), NotFormat},
		{"xs2n0g01 signature byte 2", edit(g01, 1, 'Q'), NotFormat},
		{"xs4n0g01 signature byte 4", edit(g01, 4, 0x0b), NotFormat},
		{"xs7n0g01 signature byte 7", edit(g01, 7, 0x0b), NotFormat},
		{"xcrn0g04 LF to CR LF", bytes.ReplaceAll(g04, []byte("\n"), []byte("\r\n")), NotFormat},
		{"xlfn0g04 CR LF to LF", bytes.ReplaceAll(g04, []byte("\r\n"), []byte("\n")), NotFormat},
		{"xhdn0g08 IHDR CRC", edit(g08, 8+8+13, g08[8+8+13]^1), Corrupt},
		{"xcsn0g01 IDAT CRC", edit(g01, len(g01)-12-1, g01[len(g01)-12-1]^1), Corrupt},
		{"xdtn0g01 no IDAT", pngWithout(g01, "IDAT"), Corrupt},
		{"xc1n0g08 colour type 1", pngEdit(g08, "IHDR", 0, 9, 1), Corrupt},
		{"xc9n2c08 colour type 9", pngEdit(c08, "IHDR", 0, 9, 9), Corrupt},
		{"xd0n2c08 bit depth 0", pngEdit(c08, "IHDR", 0, 8, 0), Corrupt},
		{"xd3n2c08 bit depth 3", pngEdit(c08, "IHDR", 0, 8, 3), Corrupt},
		{"xd9n2c08 bit depth 99", pngEdit(c08, "IHDR", 0, 8, 99), Corrupt},
		{"bit depth 16 for a palette", pngEdit(p08, "IHDR", 0, 8, 16), Corrupt},
		{"width 0", pngEdit(g08, "IHDR", 0, 3, 0), Corrupt},
		{"compression method 1", pngEdit(g08, "IHDR", 0, 10, 1), Corrupt},
		{"filter method 1", pngEdit(g08, "IHDR", 0, 11, 1), Corrupt},
		{"interlace method 7", pngEdit(g08, "IHDR", 0, 12, 7), Corrupt},
		{"palette image without PLTE", pngWithout(p08, "PLTE"), Corrupt},
		{"grey image with PLTE", pngWith(g08, "PLTE", []byte{1, 2, 3}), Corrupt},
		{"PLTE of 2 bytes", pngWith(c08, "PLTE", []byte{1, 2}), Corrupt},
		{"IDATs not consecutive", interleaved, Corrupt},
		{"IEND not empty", append(slices.Clone(g08[:len(g08)-12]), pngChunk("IEND", []byte{0})...), Corrupt},
		{"all-zero IDAT", pngWithData(g08, nil, make([]byte, 64)), Corrupt},
		{"zlib stream cut", pngWithData(g08, nil, zlibOf(rows(32, 0))[:20]), Corrupt},
		{"zlib Adler-32 wrong", pngWithData(g08, nil, edit(zlibOf(rows(32, 0)), len(zlibOf(rows(32, 0)))-1, 0)), Corrupt},
		{"data after the zlib stream", pngWithData(g08, nil, append(zlibOf(rows(32, 0)), 0)), Corrupt},
		{"a scanline short", pngWithData(g08, rows(32, 0)[:32*33-1], nil), Corrupt},
		{"a scanline too many", pngWithData(g08, rows(33, 0), nil), Corrupt},
		{"filter type 5", pngWithData(g08, rows(32, 5), nil), Corrupt},
		{"interlaced data sized as not", pngWithData(pngEdit(g08, "IHDR", 0, 12, 1), rows(32, 0), nil), Corrupt},
		{"non-interlaced data sized as interlaced", pngWithData(pngEdit(i04, "IHDR", 0, 12, 0), rows(0, 0), nil), Corrupt},
		{"Go's invalid-zlib.png", goTestdata("invalid-zlib.png"), Corrupt},
		{"Go's invalid-crc32.png", goTestdata("invalid-crc32.png"), Corrupt},
		{"Go's invalid-noend.png", goTestdata("invalid-noend.png"), Truncated},
		{"Go's invalid-trunc.png", goTestdata("invalid-trunc.png"), Truncated},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { wantRefused(t, tt.data, "image/png", tt.want) })
	}
}

// edit returns a copy of b with byte i set to v.
func edit(b []byte, i int, v byte) []byte {
	m := slices.Clone(b)
	m[i] = v
	return m
}

func zlibOf(raw []byte) []byte {
	var buf bytes.Buffer
	zw := zlib.NewWriter(&buf)
	zw.Write(raw)
	zw.Close()
	return buf.Bytes()
}

// riff wraps chunks in a RIFF WEBP header.
func riff(chunks ...[]byte) []byte {
	body := slices.Concat(chunks...)
	return slices.Concat([]byte("RIFF"), binary.LittleEndian.AppendUint32(nil, uint32(4+len(body))), []byte("WEBP"), body)
}

// vp8x is a VP8X chunk of flags and a w×h canvas.
func vp8x(flags byte, w, h int) []byte {
	return webpChunk("VP8X", []byte{flags, 0, 0, 0, byte(w - 1), byte((w - 1) >> 8), byte((w - 1) >> 16), byte(h - 1), byte((h - 1) >> 8), byte((h - 1) >> 16)})
}

// vp8l is a VP8L chunk whose header says w×h, its bitstream cut short:
// only its header is read.
func vp8l(w, h int) []byte {
	return webpChunk("VP8L", append(binary.LittleEndian.AppendUint32([]byte{0x2f}, uint32(w-1)|uint32(h-1)<<14), make([]byte, 16)...))
}

// TestContainerConsistency: the faults of issue 12 in WebP, JPEG and GIF,
// each refused with its reason.
func TestContainerConsistency(t *testing.T) {
	jpg := encodeJPEG(t, 16, 16)
	seg := func(marker byte) block { // the first segment with marker
		for _, blk := range blocks(jpg, "image/jpeg") {
			if blk.kind == string([]byte{"0123456789ABCDEF"[marker>>4], "0123456789ABCDEF"[marker&15]}) {
				return blk
			}
		}
		t.Fatalf("no segment %02X", marker)
		return block{}
	}
	sof, dht, dqt, sos := seg(0xC0), seg(mDHT), seg(mDQT), seg(mSOS)
	without := func(blk block) []byte { return slices.Concat(jpg[:blk.off], jpg[blk.off+blk.n:]) }
	gifb := encodeGIF(t, 8, 8)
	desc := bytes.IndexByte(gifb[13+6:], 0x2C) + 13 + 6 // after the 2-colour table
	lossyAlpha := corpusFile(t, 3, "yellow_rose.lossy-with-alpha.webp")

	tests := []struct {
		name, ct string
		data     []byte
		want     Reason
	}{
		{"webp VP8X 1x1, VP8L 16383x16383", "image/webp", riff(vp8x(0, 1, 1), vp8l(16383, 16383)), TooLarge},
		{"webp VP8X 1x1, VP8L 2x2", "image/webp", riff(vp8x(0, 1, 1), vp8l(2, 2)), Corrupt},
		{"webp VP8L version 1", "image/webp", riff(edit(vp8l(2, 2), 12, 0x20)), Corrupt},
		{"webp two bitstreams", "image/webp", riff(vp8l(2, 2), vp8l(2, 2)), Corrupt},
		{"webp ANIM without the animation flag", "image/webp", riff(vp8x(0, 2, 2), webpChunk("ANIM", make([]byte, 6)), vp8l(2, 2)), Corrupt},
		{"webp animation flag, no frames", "image/webp", riff(vp8x(webpFlagAnimation, 2, 2), webpChunk("ANIM", make([]byte, 6))), Corrupt},
		{"webp ICC flag without ICCP", "image/webp", riff(vp8x(webpFlagICC, 2, 2), vp8l(2, 2)), Corrupt},
		{"webp ALPH with a lossless bitstream", "image/webp", riff(vp8x(webpFlagAlpha, 2, 2), webpChunk("ALPH", make([]byte, 5)), vp8l(2, 2)), Corrupt},
		{"webp ALPH in the simple format", "image/webp", riff(webpChunk("ALPH", make([]byte, 5)), vp8l(2, 2)), Corrupt},
		{"webp lossy with ALPH, alpha flag cleared", "image/webp", edit(lossyAlpha, 20, lossyAlpha[20]&^webpFlagAlpha), Corrupt},
		{"webp frame outside the canvas", "image/webp", edit(animatedWebP(1), 12+18+14+8, 2), Corrupt},
		{"jpeg lossless SOF3", "image/jpeg", edit(jpg, sof.off+1, 0xC3), Corrupt},
		{"jpeg arithmetic SOF9", "image/jpeg", edit(jpg, sof.off+1, 0xC9), Corrupt},
		{"jpeg height 0 (DNL)", "image/jpeg", edit(edit(jpg, sof.data+1, 0), sof.data+2, 0), Corrupt},
		{"jpeg 12-bit", "image/jpeg", edit(jpg, sof.data, 12), Corrupt},
		{"jpeg component count disagrees with the length", "image/jpeg", edit(jpg, sof.data+5, 2), Corrupt},
		{"jpeg no Huffman tables", "image/jpeg", without(dht), Corrupt},
		{"jpeg no quantisation tables", "image/jpeg", without(dqt), Corrupt},
		{"jpeg scan of an unknown component", "image/jpeg", edit(jpg, sos.data+1, 9), Corrupt},
		{"jpeg over-subscribed Huffman table", "image/jpeg", edit(jpg, dht.data+1, 3), Corrupt},
		{"jpeg DNL marker", "image/jpeg", slices.Concat(jpg[:sos.off], []byte{0xFF, 0xDC, 0, 4, 0, 16}, jpg[sos.off:]), Corrupt},
		{"gif LZW code size 1", "image/gif", edit(gifb, desc+10, 1), Corrupt},
		{"gif LZW code size 9", "image/gif", edit(gifb, desc+10, 9), Corrupt},
		{"gif image outside the screen", "image/gif", edit(gifb, desc+1, 1), Corrupt},
		{"gif unknown extension", "image/gif", gifWithRawExtension(gifb, []byte{0x21, 0x02, 0}), Corrupt},
		{"gif graphic control of 3 bytes", "image/gif", gifWithRawExtension(gifb, []byte{0x21, 0xF9, 3, 0, 0, 0, 0}), Corrupt},
		{"gif no colour table", "image/gif", slices.Concat(edit(gifb[:13], 10, 0), gifb[13+6:]), Corrupt},
		{"gif image data cut", "image/gif", slices.Concat(gifb[:desc+11], []byte{2}, gifb[desc+12:desc+14], []byte{0, 0x3B}), Corrupt},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { wantRefused(t, tt.data, tt.ct, tt.want) })
	}
}

// corpusFile reads the file name of corpus directory dir; it skips if the
// corpus is unavailable, or fails when $CI is set.
func corpusFile(t *testing.T, dir int, name string) []byte {
	t.Helper()
	dirs, err := corpusDirs()
	if err != nil {
		corpusUnavailable(t, err)
	}
	b, err := os.ReadFile(filepath.Join(dirs[dir], name))
	if err != nil {
		corpusUnavailable(t, err)
	}
	return b
}
