package imagesafe

import (
	"bytes"
	"encoding/binary"
	"io"
)

func isWebP(head []byte) bool {
	return hasMagic(head, "RIFF") && (len(head) < 12 || string(head[8:12]) == "WEBP")
}

// webpHeadDims reads the dimensions from the first chunk's header.
func webpHeadDims(head []byte) (w, h int, ok bool) {
	if len(head) < 30 {
		return 0, 0, false
	}
	return webpChunkDims(string(head[12:16]), head[20:30])
}

// webpChunkDims reads the dimensions from the start of a VP8X, VP8 or VP8L
// chunk's data (at least 10 bytes, 5 for VP8L).
func webpChunkDims(fourcc string, d []byte) (w, h int, ok bool) {
	switch fourcc {
	case "VP8X":
		return 1 + int(le24(d[4:])), 1 + int(le24(d[7:])), true
	case "VP8 ":
		if d[3] != 0x9d || d[4] != 0x01 || d[5] != 0x2a {
			return 0, 0, false
		}
		return int(binary.LittleEndian.Uint16(d[6:]) & 0x3fff), int(binary.LittleEndian.Uint16(d[8:]) & 0x3fff), true
	case "VP8L":
		if d[0] != 0x2f {
			return 0, 0, false
		}
		bits := binary.LittleEndian.Uint32(d[1:])
		return 1 + int(bits&0x3fff), 1 + int(bits>>14&0x3fff), true
	}
	return 0, 0, false
}

func le24(b []byte) uint32 { return uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 }

// webpHeadSize is how much of an image chunk's data is read to check it:
// the VP8 key frame header (RFC 6386, section 9.1), the VP8L header, the
// ALPH header byte (RFC 9649, section 2.7).
var webpHeadSize = map[string]int64{"VP8 ": 10, "VP8L": 5, "ALPH": 1}

// webpFrame checks the image chunks of one image, the still image or an
// animation frame: an optional ALPH, then one VP8 or VP8L bitstream whose
// header says the image's size. Go's decoder (x/image/webp) refuses any
// other arrangement, and so do the stricter readers of RFC 9649.
type webpFrame struct {
	w, h      int // the size the bitstream must have; 0 if it says
	alpha     bool
	bitstream string // "VP8 " or "VP8L", once seen
	opt       Options
}

// add checks the image chunk fourcc of n bytes, d its first bytes.
func (f *webpFrame) add(fourcc string, d []byte, n int64) error {
	if f.bitstream != "" {
		return refuse(Corrupt, "the WebP has a %q chunk after its image's %q bitstream", fourcc, f.bitstream)
	}
	if fourcc == "ALPH" {
		if f.alpha {
			return refuse(Corrupt, "the WebP image has two ALPH chunks")
		}
		f.alpha = true
		switch compression := d[0] & 3; {
		case compression > 1:
			return refuse(Corrupt, "the WebP ALPH chunk has the unknown compression method %d", compression)
		case compression == 0 && f.w > 0 && n < 1+int64(f.w)*int64(f.h):
			return refuse(Corrupt, "the WebP ALPH chunk holds fewer than the image's %dx%d alpha values", f.w, f.h)
		}
		return nil
	}
	f.bitstream = fourcc
	bw, bh, ok := webpChunkDims(fourcc, d)
	switch {
	case !ok:
		return refuse(Corrupt, "the WebP %q bitstream header is invalid", fourcc)
	case fourcc == "VP8L" && d[4]>>5 != 0:
		return refuse(Corrupt, "the WebP VP8L bitstream has the unknown version %d", d[4]>>5)
	case fourcc == "VP8L" && f.alpha:
		return refuse(Corrupt, "the WebP has an ALPH chunk before a lossless bitstream, which holds its own alpha")
	case fourcc == "VP8 " && d[0]&1 != 0:
		return refuse(Corrupt, "the WebP VP8 bitstream does not start with a key frame")
	case fourcc == "VP8 " && (d[0]>>1&7 > 3 || d[0]&0x10 == 0):
		return refuse(Corrupt, "the WebP VP8 frame header 0x%02X is invalid (version over 3, or a frame not shown)", d[0])
	case fourcc == "VP8 " && int64(le24(d)>>5) > n-10:
		return refuse(Corrupt, "the WebP VP8 bitstream's first partition runs past its chunk")
	}
	if err := f.opt.checkDims(bw, bh); err != nil {
		return err
	}
	if f.w > 0 && (bw != f.w || bh != f.h) {
		return refuse(Corrupt, "the WebP %q bitstream is %dx%d in an image (or frame) of %dx%d", fourcc, bw, bh, f.w, f.h)
	}
	f.w, f.h = bw, bh
	return nil
}

// webpImageChunk reads the image chunk fourcc of n bytes, padded to padded,
// checking its header with f.
func (s *scanner) webpImageChunk(f *webpFrame, fourcc string, n, padded int64) error {
	hn := webpHeadSize[fourcc]
	if n < hn {
		return refuse(Corrupt, "the WebP %q chunk is too short", fourcc)
	}
	d, err := s.read(int(hn))
	if err != nil {
		return err
	}
	if err := f.add(fourcc, d, n); err != nil {
		return err
	}
	return s.copy(io.Discard, padded-hn)
}

// webpFrameData reads an ANMF chunk's frame data, the chunks up to end,
// checking its image chunks with f.
func (s *scanner) webpFrameData(f *webpFrame, end int64) error {
	for s.off < end {
		hdr, err := s.read(8)
		if err != nil {
			return err
		}
		fourcc, n := string(hdr[:4]), int64(binary.LittleEndian.Uint32(hdr[4:]))
		padded := n + n&1
		if s.off+padded > end {
			return refuse(Corrupt, "the WebP frame's %q chunk runs past its frame", fourcc)
		}
		if webpHeadSize[fourcc] > 0 {
			err = s.webpImageChunk(f, fourcc, n, padded)
		} else {
			err = s.copy(io.Discard, padded) // unknown chunks, which readers skip
		}
		if err != nil {
			return err
		}
	}
	if f.bitstream == "" {
		return refuse(Corrupt, "the WebP animation has a frame with no image data")
	}
	return nil
}

// webpKept are the chunks kept when stripping.
var webpKept = map[string]bool{"VP8X": true, "VP8 ": true, "VP8L": true, "ALPH": true, "ANIM": true, "ANMF": true, "ICCP": true}

// VP8X flags (RFC 9649, section 2.7).
const (
	webpFlagAnimation = 0x02
	webpFlagXMP       = 0x04
	webpFlagEXIF      = 0x08
	webpFlagAlpha     = 0x10
	webpFlagICC       = 0x20
)

// webpChunk is a RIFF chunk, padded to an even size.
func webpChunk(fourcc string, data []byte) []byte {
	c := append([]byte(fourcc), binary.LittleEndian.AppendUint32(nil, uint32(len(data)))...)
	c = append(c, data...)
	if len(data)%2 == 1 {
		c = append(c, 0)
	}
	return c
}

func inspectWebP(s *scanner, b *builder, opt Options) (w, h int, err error) {
	if m := s.peek(12); len(m) < 12 || !isWebP(m) {
		return 0, 0, notFormat(formatWebP.MIME)
	}
	head, err := s.read(12)
	if err != nil {
		return 0, 0, err
	}
	riffEnd := 8 + int64(binary.LittleEndian.Uint32(head[4:]))
	var kept builder
	dropped := false
	keptEXIF, keptXMP := false, false
	var vp8x []byte // the VP8X chunk, rewritten if metadata is dropped
	var flags byte  // VP8X's
	still := webpFrame{opt: opt}
	sawICCP, sawANIM, frames := false, false, 0
	budget := frameBudget{opt: opt}
	for first := true; s.off < riffEnd; first = false {
		start := s.off
		hdr, err := s.read(8)
		if err != nil {
			return 0, 0, err
		}
		fourcc := string(hdr[:4])
		n := int64(binary.LittleEndian.Uint32(hdr[4:]))
		padded := n + n&1
		if fourcc == "VP8X" && n != 10 {
			return 0, 0, refuse(Corrupt, "the WebP VP8X chunk has the wrong length")
		}
		if start+8+padded > riffEnd {
			return 0, 0, refuse(Corrupt, "the WebP chunk %q at offset %d runs past the file's end", fourcc, start)
		}
		animated := flags&webpFlagAnimation != 0
		switch fourcc {
		case "ALPH", "ANIM", "ANMF", "ICCP":
			if vp8x == nil {
				return 0, 0, refuse(Corrupt, "the WebP has a %q chunk without a VP8X header (the extended format)", fourcc)
			}
		}
		var active activeScanner
		var exif []byte // an EXIF chunk's data, read to find the orientation
		switch {
		case fourcc == "VP8X":
			if !first {
				return 0, 0, refuse(Corrupt, "the WebP VP8X chunk must come first")
			}
			d, err := s.read(10)
			if err != nil {
				return 0, 0, err
			}
			vp8x, flags = append(hdr, d...), d[0]
			w, h, _ = webpChunkDims(fourcc, d)
			if err := opt.checkDims(w, h); err != nil {
				return 0, 0, err
			}
			if flags&webpFlagAnimation == 0 {
				still.w, still.h = w, h // the bitstream must say the canvas's size
			}
		case webpHeadSize[fourcc] > 0: // ALPH, VP8, VP8L
			if animated {
				return 0, 0, refuse(Corrupt, "the WebP is animated (VP8X) but has a %q chunk outside its frames", fourcc)
			}
			if err := s.webpImageChunk(&still, fourcc, n, padded); err != nil {
				return 0, 0, err
			}
			if vp8x == nil {
				w, h = still.w, still.h
			}
		case fourcc == "ANIM" || fourcc == "ANMF":
			switch {
			case !animated:
				return 0, 0, refuse(Corrupt, "the WebP has a %q chunk but its VP8X does not flag an animation", fourcc)
			case fourcc == "ANIM" && (sawANIM || frames > 0 || n != 6):
				return 0, 0, refuse(Corrupt, "the WebP ANIM chunk must come once, before the frames, and hold 6 bytes")
			case fourcc == "ANMF" && (!sawANIM || n < 16):
				return 0, 0, refuse(Corrupt, "the WebP ANMF chunk at offset %d is too short or not after ANIM", start)
			}
			sawANIM = sawANIM || fourcc == "ANIM"
			if fourcc == "ANIM" {
				err = s.copy(io.Discard, padded)
			} else {
				if err = s.webpANMF(&budget, w, h, s.off+n); err == nil {
					err = s.copy(io.Discard, n&1) // the padding
				}
				frames++
			}
			if err != nil {
				return 0, 0, err
			}
		case fourcc == "EXIF" && opt.Strip && n <= maxEXIFRead:
			if exif, err = s.read(int(padded)); err != nil {
				return 0, 0, err
			}
			exif = bytes.TrimPrefix(exif[:n], []byte("Exif\x00\x00"))
		default:
			if fourcc == "ICCP" {
				if sawICCP || still.bitstream != "" || still.alpha || sawANIM {
					return 0, 0, refuse(Corrupt, "the WebP ICCP chunk must come once, before the image data")
				}
				sawICCP = true
			}
			var w io.Writer = io.Discard
			if fourcc == "EXIF" || fourcc == "XMP " {
				w = &active // only metadata is scanned, not frames
			}
			if err := s.copy(w, padded); err != nil {
				return 0, 0, err
			}
		}
		switch {
		case first && fourcc == "VP8X":
			// written below, flags fixed
		case !opt.Strip && (fourcc == "EXIF" || fourcc == "XMP "):
			if err := active.err("WebP metadata"); err != nil {
				return 0, 0, err
			}
			kept.keep(start, s.off-start)
			keptEXIF, keptXMP = keptEXIF || fourcc == "EXIF", keptXMP || fourcc == "XMP "
		case webpKept[fourcc]:
			kept.keep(start, s.off-start)
		case fourcc == "EXIF" && exifOrientation(exif) > 1:
			// Keep the orientation alone, as for JPEG and PNG.
			keptEXIF = true
			if minimal := orientationTIFF(exifOrientation(exif)); bytes.Equal(exif, minimal) && n == int64(len(minimal)) {
				kept.keep(start, s.off-start) // stripped already
			} else {
				kept.literal(webpChunk("EXIF", minimal))
				dropped = true
			}
		default:
			dropped = true
		}
	}
	if err := checkWebPFlags(flags, vp8x != nil, &still, sawICCP, frames); err != nil {
		return 0, 0, err
	}
	if !dropped {
		b.keep(0, riffEnd)
		return w, h, nil
	}
	// Rebuild the RIFF header for the smaller size, and clear the VP8X
	// flags of the metadata dropped.
	size := int64(4)
	if vp8x != nil {
		size += 18
	}
	for _, pc := range kept.pieces {
		size += pc.n + int64(len(pc.lit))
	}
	b.literal(append(append([]byte("RIFF"), binary.LittleEndian.AppendUint32(nil, uint32(size))...), "WEBP"...))
	if vp8x != nil {
		if !keptXMP {
			vp8x[8] &^= webpFlagXMP
		}
		if !keptEXIF {
			vp8x[8] &^= webpFlagEXIF
		}
		b.literal(vp8x)
	}
	b.pieces = append(b.pieces, kept.pieces...)
	return w, h, nil
}

// webpANMF reads an animation frame (RFC 9649, section 2.7.1.1) up to end:
// its header, within the canvas and the caps, then its frame data.
func (s *scanner) webpANMF(budget *frameBudget, canvasW, canvasH int, end int64) error {
	d, err := s.read(16) // offsets/2, then width-1 and height-1 (24 bits each)
	if err != nil {
		return err
	}
	x, y := 2*int(le24(d)), 2*int(le24(d[3:]))
	fw, fh := 1+int(le24(d[6:])), 1+int(le24(d[9:]))
	if err := budget.add(fw, fh); err != nil {
		return err
	}
	if x+fw > canvasW || y+fh > canvasH {
		return refuse(Corrupt, "the WebP animation frame %dx%d at (%d, %d) is outside the %dx%d canvas", fw, fh, x, y, canvasW, canvasH)
	}
	return s.webpFrameData(&webpFrame{w: fw, h: fh, opt: budget.opt}, end)
}

// checkWebPFlags checks, at the end, that the VP8X flags announce the
// chunks present (the animation, the ICC profile, the alpha of a lossy
// image: Go's decoder requires the last), and that the image has image data.
func checkWebPFlags(flags byte, extended bool, still *webpFrame, sawICCP bool, frames int) error {
	animated := flags&webpFlagAnimation != 0
	switch {
	case animated && frames == 0, !animated && still.bitstream == "":
		return refuse(Corrupt, "the WebP has no image data")
	case !extended:
		return nil
	case flags&webpFlagICC != 0 != sawICCP:
		return refuse(Corrupt, "the WebP VP8X ICC profile flag (%v) disagrees with the chunks", !sawICCP)
	case !animated && still.bitstream == "VP8 " && flags&webpFlagAlpha != 0 != still.alpha:
		return refuse(Corrupt, "the WebP VP8X alpha flag (%v) disagrees with the chunks: a lossy image has alpha in an ALPH chunk", !still.alpha)
	}
	return nil
}
