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
// chunk's data (at least 10 bytes).
func webpChunkDims(fourcc string, d []byte) (w, h int, ok bool) {
	switch fourcc {
	case "VP8X":
		return 1 + int(uint32(d[4])|uint32(d[5])<<8|uint32(d[6])<<16), 1 + int(uint32(d[7])|uint32(d[8])<<8|uint32(d[9])<<16), true
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

// webpKept are the chunks kept when stripping.
var webpKept = map[string]bool{"VP8X": true, "VP8 ": true, "VP8L": true, "ALPH": true, "ANIM": true, "ANMF": true, "ICCP": true}

// VP8X flags of metadata chunks.
const (
	webpFlagXMP  = 0x04
	webpFlagEXIF = 0x08
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
	dropped, sawImage := false, false
	keptEXIF, keptXMP := false, false
	var vp8x []byte // the VP8X chunk, rewritten if metadata is dropped
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
		var active activeScanner
		var exif []byte // an EXIF chunk's data, read to find the orientation
		if dimsChunk := fourcc == "VP8X" || fourcc == "VP8 " || fourcc == "VP8L"; dimsChunk && n >= 10 {
			d, err := s.read(10)
			if err != nil {
				return 0, 0, err
			}
			if fourcc == "VP8X" {
				if !first {
					return 0, 0, refuse(Corrupt, "the WebP VP8X chunk must come first")
				}
				vp8x = append(hdr, d...)
			}
			if first || w == 0 {
				cw, ch, ok := webpChunkDims(fourcc, d)
				if !ok {
					return 0, 0, refuse(Corrupt, "the WebP %q header is invalid", fourcc)
				}
				if err := opt.checkDims(cw, ch); err != nil {
					return 0, 0, err
				}
				w, h = cw, ch
			}
			if err := s.copy(io.Discard, padded-10); err != nil {
				return 0, 0, err
			}
		} else if fourcc == "EXIF" && opt.Strip && n <= maxEXIFRead {
			if exif, err = s.read(int(padded)); err != nil {
				return 0, 0, err
			}
			exif = bytes.TrimPrefix(exif[:n], []byte("Exif\x00\x00"))
		} else if fourcc == "ANMF" && n >= 16 {
			frame, err := s.read(16) // offsets, then width-1 and height-1 (24 bits each)
			if err != nil {
				return 0, 0, err
			}
			fw := 1 + int(uint32(frame[6])|uint32(frame[7])<<8|uint32(frame[8])<<16)
			fh := 1 + int(uint32(frame[9])|uint32(frame[10])<<8|uint32(frame[11])<<16)
			if err := budget.add(fw, fh); err != nil {
				return 0, 0, err
			}
			if err := s.copy(io.Discard, padded-16); err != nil {
				return 0, 0, err
			}
		} else {
			var w io.Writer = io.Discard
			if fourcc == "EXIF" || fourcc == "XMP " {
				w = &active // only metadata is scanned, not frames
			}
			if err := s.copy(w, padded); err != nil {
				return 0, 0, err
			}
		}
		switch fourcc {
		case "VP8 ", "VP8L", "ANMF":
			sawImage = true
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
	if !sawImage || w == 0 {
		return 0, 0, refuse(Corrupt, "the WebP has no image data")
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
