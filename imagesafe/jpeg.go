package imagesafe

import (
	"bytes"
	"encoding/binary"
	"io"
	"slices"
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
	mDHT  = 0xC4
	mDQT  = 0xDB
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
	var j jpegState
	sawScan := false
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
			if len(j.comps) == 4 && !j.adobe {
				return 0, 0, refuse(Corrupt, "the JPEG has 4 components but no Adobe APP14 segment to say whether they are CMYK or YCCK; Go's decoder refuses it")
			}
			b.keep(start, s.off-start)
			return w, h, nil
		case m >= 0xD0 && m <= 0xD7: // RSTn: no payload
			b.keep(start, s.off-start)
			continue
		case !isSOF(m) && !isTable(m) && m != mSOS && !(m >= mAPP0 && m <= 0xEF) && m != mCOM:
			// TEM, DNL, DHP, EXP, JPGn and reserved markers: no common
			// decoder reads them.
			return 0, 0, refuse(Corrupt, "the JPEG has the unsupported or invalid marker 0x%02X at offset %d", m, start)
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
		case isSOF(m) || isTable(m) || m == mSOS:
			seg, err := s.read(int(n))
			if err != nil {
				return 0, 0, err
			}
			switch {
			case m == mSOS:
				if err = j.scan(seg); err == nil {
					sawScan = true
					err = s.skipEntropyData()
				}
			case isSOF(m):
				w, h, err = j.frame(m, seg)
				if err == nil {
					err = opt.checkDims(w, h)
				}
			case m == mDHT:
				err = j.huffman(seg)
			case m == mDQT:
				err = j.quantisation(seg)
			case n != 2: // DRI
				err = refuse(Corrupt, "the JPEG restart interval segment has the wrong length")
			}
			if err != nil {
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
		default: // APPn, COM
			head := s.peek(min(int(n), 12))
			j.adobe = j.adobe || m == mAPPE && n >= 12 && bytes.HasPrefix(head, []byte("Adobe"))
			if !opt.Strip || jpegKeptSegment(m, head) {
				var a activeScanner
				if err := s.copy(&a, n); err != nil {
					return 0, 0, err
				}
				if err := a.err("JPEG metadata"); err != nil {
					return 0, 0, err
				}
				b.keep(start, s.off-start)
			} else if err := s.copy(io.Discard, n); err != nil {
				return 0, 0, err
			}
		}
	}
}

// jpegState is what a JPEG has defined before its scans: the frame's
// components and the coding tables, for checking each scan against them.
type jpegState struct {
	sof   byte // the frame header's marker, 0 before it
	comps []jpegComponent
	quant [4]bool    // quantisation tables defined
	huff  [2][4]bool // Huffman tables defined: DC, AC
	adobe bool       // an Adobe APP14 segment (colour transform) seen
}

type jpegComponent struct{ id, h, v, tq byte }

// frame checks a frame header (ITU T.81, B.2.2) and returns the image's
// size. Go's decoder reads baseline, extended and progressive Huffman
// coding with 8-bit samples only, and so do browsers in practice: lossless,
// hierarchical and arithmetic-coded frames are refused.
func (j *jpegState) frame(m byte, sof []byte) (w, h int, err error) {
	if j.sof != 0 {
		return 0, 0, refuse(Corrupt, "the JPEG has two frame headers")
	}
	j.sof = m
	switch {
	case m > 0xC2:
		return 0, 0, refuse(Corrupt, "the JPEG's coding process (SOF%d: lossless, hierarchical or arithmetic) is not supported", m-0xC0)
	case len(sof) < 6 || len(sof) != 6+3*int(sof[5]):
		return 0, 0, refuse(Corrupt, "the JPEG frame header has the wrong length")
	case sof[0] != 8:
		return 0, 0, refuse(Corrupt, "the JPEG's sample precision of %d bits is not supported", sof[0])
	case sof[5] != 1 && sof[5] != 3 && sof[5] != 4:
		return 0, 0, refuse(Corrupt, "the JPEG has %d components; 1, 3 or 4 are supported", sof[5])
	}
	h, w = int(binary.BigEndian.Uint16(sof[1:])), int(binary.BigEndian.Uint16(sof[3:]))
	if h == 0 {
		return 0, 0, refuse(Corrupt, "the JPEG frame header has a height of 0 (to be set by a DNL marker), which is not supported")
	}
	for i := range int(sof[5]) {
		c := jpegComponent{id: sof[6+3*i], h: sof[7+3*i] >> 4, v: sof[7+3*i] & 15, tq: sof[8+3*i]}
		switch {
		case slices.ContainsFunc(j.comps, func(o jpegComponent) bool { return o.id == c.id }):
			return 0, 0, refuse(Corrupt, "the JPEG frame header repeats component %d", c.id)
		case c.tq > 3:
			return 0, 0, refuse(Corrupt, "the JPEG component %d has the invalid quantisation table %d", c.id, c.tq)
		case c.h < 1 || c.h > 4 || c.v < 1 || c.v > 4:
			return 0, 0, refuse(Corrupt, "the JPEG component %d has invalid sampling factors %dx%d", c.id, c.h, c.v)
		case c.h == 3 || c.v == 3:
			return 0, 0, refuse(Corrupt, "the JPEG component %d's sampling factors %dx%d are not supported", c.id, c.h, c.v)
		}
		j.comps = append(j.comps, c)
	}
	if !j.supportedSampling() {
		return 0, 0, refuse(Corrupt, "the JPEG's chroma subsampling is not supported")
	}
	return w, h, nil
}

// supportedSampling reports whether Go's decoder reads the frame's
// sampling factors (image/jpeg's processSOF), none of them 3: grey, any; YCbCr, the
// common ratios (4:4:4, 4:4:0, 4:2:2, 4:2:0, 4:1:1, 4:1:0); 4 components,
// 1x1 throughout or 2x2 luma and black.
func (j *jpegState) supportedSampling() bool {
	c := j.comps
	switch len(c) {
	case 1:
		return true
	case 3:
		return c[0].v != 4 && c[0].h%c[1].h == 0 && c[0].v%c[1].v == 0 && c[2].h == c[1].h && c[2].v == c[1].v
	}
	hv := func(c jpegComponent) byte { return c.h<<4 | c.v }
	return (hv(c[0]) == 0x11 || hv(c[0]) == 0x22) && hv(c[1]) == 0x11 && hv(c[2]) == 0x11 && hv(c[3]) == hv(c[0])
}

// quantisation reads a DQT segment (B.2.4.1): tables of 64 8-bit or
// 16-bit values.
func (j *jpegState) quantisation(seg []byte) error {
	for len(seg) > 0 {
		pq, tq := seg[0]>>4, seg[0]&15
		size := 1 + 64*(1+int(pq))
		if pq > 1 || tq > 3 || len(seg) < size {
			return refuse(Corrupt, "the JPEG has an invalid quantisation table (precision %d, number %d)", pq, tq)
		}
		j.quant[tq] = true
		seg = seg[size:]
	}
	return nil
}

// huffman reads a DHT segment (B.2.4.2): tables of code counts by length
// and their values. A table must have codes, no more than 256 and no more
// than fit in their lengths (libjpeg's jpeg_make_d_derived_tbl refuses an
// over-subscribed table, and so do we).
func (j *jpegState) huffman(seg []byte) error {
	for len(seg) > 0 {
		if len(seg) < 17 {
			return refuse(Corrupt, "the JPEG Huffman table segment has the wrong length")
		}
		tc, th := seg[0]>>4, seg[0]&15
		if tc > 1 || th > 3 || j.sof == 0xC0 && th > 1 {
			return refuse(Corrupt, "the JPEG has an invalid Huffman table (class %d, number %d)", tc, th)
		}
		total, code := 0, 0
		for l, count := range seg[1:17] {
			total += int(count)
			code += int(count)
			if count > 0 && code >= 1<<(l+1) {
				return refuse(Corrupt, "the JPEG Huffman table (class %d, number %d) has more codes than fit", tc, th)
			}
			code <<= 1
		}
		if total == 0 || total > 256 || len(seg) < 17+total {
			return refuse(Corrupt, "the JPEG Huffman table (class %d, number %d) has an invalid number of codes", tc, th)
		}
		j.huff[tc][th] = true
		seg = seg[17+total:]
	}
	return nil
}

// scan checks a scan header (B.2.3): components of the frame, each once,
// their quantisation and Huffman tables defined before it, and, when
// progressive, valid spectral selection and successive approximation (the
// checks of Go's processSOS).
func (j *jpegState) scan(sos []byte) error {
	if j.sof == 0 {
		return refuse(Corrupt, "the JPEG has a scan before its frame header")
	}
	if len(sos) < 4 || int(sos[0]) < 1 || int(sos[0]) > len(j.comps) || len(sos) != 4+2*int(sos[0]) {
		return refuse(Corrupt, "the JPEG scan header has the wrong length")
	}
	ns := int(sos[0])
	ss, se, ah, al := sos[1+2*ns], sos[2+2*ns], sos[3+2*ns]>>4, sos[3+2*ns]&15
	progressive := j.sof == 0xC2
	if progressive && (ss == 0 && se != 0 || ss > se || se > 63 || ss != 0 && ns != 1 || ah != 0 && ah != al+1 || al > 13) {
		return refuse(Corrupt, "the JPEG progressive scan has invalid parameters (Ss %d, Se %d, Ah %d, Al %d)", ss, se, ah, al)
	}
	var seen [4]int // indexes in the frame of the scan's components
	sampling := 0
	for i := range ns {
		id, td, ta := sos[1+2*i], sos[2+2*i]>>4, sos[2+2*i]&15
		k := slices.IndexFunc(j.comps, func(c jpegComponent) bool { return c.id == id })
		if k < 0 || slices.Contains(seen[:i], k) {
			return refuse(Corrupt, "the JPEG scan has the unknown or repeated component %d", id)
		}
		seen[i] = k
		c := j.comps[k]
		sampling += int(c.h) * int(c.v)
		dc := !progressive || ss == 0 && ah == 0 // the scans that read DC codes
		ac := !progressive || ss > 0
		switch {
		case td > 3 || ta > 3 || j.sof == 0xC0 && (td > 1 || ta > 1):
			return refuse(Corrupt, "the JPEG scan names invalid Huffman tables for component %d", id)
		case dc && !j.huff[0][td], ac && !j.huff[1][ta]:
			return refuse(Corrupt, "the JPEG scan uses a Huffman table not defined before it")
		case !j.quant[c.tq]:
			return refuse(Corrupt, "the JPEG scan's component %d uses quantisation table %d, not defined before it", id, c.tq)
		}
	}
	if len(j.comps) > 1 && sampling > 10 {
		return refuse(Corrupt, "the JPEG scan's sampling factors add up to over 10")
	}
	return nil
}

// isTable reports whether m is a coding table or restart interval segment
// of the coding processes read (DHT, DQT, DRI).
func isTable(m byte) bool {
	return m == mDHT || m == mDQT || m == 0xDD
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
