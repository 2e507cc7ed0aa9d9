package imagesafe

import (
	"bytes"
	"encoding/binary"
	"io"
)

// JPEG markers used below.
const (
	mSOI  = 0xD8
	mEOI  = 0xD9
	mSOS  = 0xDA
	mAPP0 = 0xE0
	mAPP1 = 0xE1
	mAPP2 = 0xE2
	mAPPE = 0xEE
	mCOM  = 0xFE
)

func isSOF(m byte) bool {
	return m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC
}

// jpegKeptSegment reports whether the marker segment m, whose payload starts
// with head, is image data or a kept colour block rather than metadata.
func jpegKeptSegment(m byte, head []byte) bool {
	switch {
	case m == mAPP0:
		return bytes.HasPrefix(head, []byte("JFIF\x00")) || bytes.HasPrefix(head, []byte("JFXX\x00"))
	case m == mAPP2:
		return bytes.HasPrefix(head, []byte("ICC_PROFILE\x00"))
	case m == mAPPE: // Adobe: colour transform of CMYK and YCCK images
		return bytes.HasPrefix(head, []byte("Adobe"))
	case m >= mAPP0 && m <= 0xEF, m == mCOM:
		return false
	}
	return true // tables, frame and scan headers, restart interval
}

func inspectJPEG(s *scanner, b *builder, opt Options) (w, h int, err error) {
	head, err := s.read(2)
	if err != nil || head[0] != 0xFF || head[1] != mSOI {
		return 0, 0, notFormat(formatJPEG.MIME)
	}
	b.keep(0, 2)
	sawFrame, sawScan := false, false
	for {
		start := s.off
		c, err := s.byte()
		if err != nil {
			return 0, 0, err
		}
		if c != 0xFF {
			return 0, 0, refuse(Corrupt, "the JPEG has stray bytes where a marker should be, at offset %d", start)
		}
		m, err := s.marker()
		if err != nil {
			return 0, 0, err
		}
		switch {
		case m == mEOI:
			if !sawScan {
				return 0, 0, refuse(Corrupt, "the JPEG has no image data")
			}
			b.keep(start, s.off-start)
			return w, h, nil
		case m >= 0xD0 && m <= 0xD7 || m == 0x01: // RSTn, TEM: no payload
			b.keep(start, s.off-start)
			continue
		case m == 0x00 || m == mSOI:
			return 0, 0, refuse(Corrupt, "the JPEG has an invalid marker 0x%02X at offset %d", m, start)
		}
		lb, err := s.read(2)
		if err != nil {
			return 0, 0, err
		}
		n := int64(binary.BigEndian.Uint16(lb)) - 2
		if n < 0 {
			return 0, 0, refuse(Corrupt, "the JPEG has a segment with an invalid length at offset %d", start)
		}
		switch {
		case isSOF(m):
			if sawFrame {
				return 0, 0, refuse(Corrupt, "the JPEG has two frame headers")
			}
			sof, err := s.read(int(n))
			if err != nil {
				return 0, 0, err
			}
			if len(sof) < 6 {
				return 0, 0, refuse(Corrupt, "the JPEG frame header is too short")
			}
			h, w = int(binary.BigEndian.Uint16(sof[1:])), int(binary.BigEndian.Uint16(sof[3:]))
			if err := opt.checkDims(w, h); err != nil {
				return 0, 0, err
			}
			sawFrame = true
			b.keep(start, s.off-start)
		case m == mSOS:
			if !sawFrame {
				return 0, 0, refuse(Corrupt, "the JPEG has a scan before its frame header")
			}
			sawScan = true
			if err := s.copy(io.Discard, n); err != nil {
				return 0, 0, err
			}
			if err := s.skipEntropyData(); err != nil {
				return 0, 0, err
			}
			b.keep(start, s.off-start)
		case m == mAPP1 && opt.Strip && n >= 6 && bytes.HasPrefix(s.peek(6), []byte("Exif\x00\x00")):
			exif, err := s.read(int(n))
			if err != nil {
				return 0, 0, err
			}
			if o := exifOrientation(exif[6:]); o > 1 {
				if minimal := orientationTIFF(o); bytes.Equal(exif[6:], minimal) {
					b.keep(start, s.off-start) // stripped already
				} else {
					b.literal(jpegSegment(mAPP1, append([]byte("Exif\x00\x00"), minimal...)))
				}
			}
		default:
			kept := jpegKeptSegment(m, s.peek(min(int(n), 12)))
			if !opt.Strip || kept {
				var a activeScanner
				if err := s.copy(&a, n); err != nil {
					return 0, 0, err
				}
				if !isTable(m) {
					if err := a.err("JPEG metadata"); err != nil {
						return 0, 0, err
					}
				}
				b.keep(start, s.off-start)
			} else if err := s.copy(io.Discard, n); err != nil {
				return 0, 0, err
			}
		}
	}
}

// isTable reports whether m is a coding table or restart segment, binary
// data in which text patterns mean nothing.
func isTable(m byte) bool {
	return m == 0xC4 || m == 0xCC || m == 0xDB || m == 0xDD || m == 0xDC
}

// marker reads a marker byte after 0xFF, skipping fill bytes.
func (s *scanner) marker() (byte, error) {
	for {
		m, err := s.byte()
		if err != nil || m != 0xFF {
			return m, err
		}
	}
}

// skipEntropyData consumes entropy-coded data up to, not including, the
// 0xFF of the next marker.
func (s *scanner) skipEntropyData() error {
	for {
		buf, err := s.br.Peek(max(1, s.br.Buffered()))
		if len(buf) == 0 {
			return truncated(err)
		}
		i := bytes.IndexByte(buf, 0xFF)
		if i < 0 {
			s.br.Discard(len(buf))
			s.off += int64(len(buf))
			continue
		}
		s.br.Discard(i)
		s.off += int64(i)
		next, err := s.br.Peek(2)
		if len(next) < 2 {
			return truncated(err)
		}
		switch m := next[1]; {
		case m == 0x00, m >= 0xD0 && m <= 0xD7, m == 0xFF: // stuffed byte, restart, fill
			s.br.Discard(1)
			s.off++
		default:
			return nil
		}
	}
}

func jpegSegment(m byte, payload []byte) []byte {
	seg := []byte{0xFF, m}
	seg = binary.BigEndian.AppendUint16(seg, uint16(len(payload)+2))
	return append(seg, payload...)
}
