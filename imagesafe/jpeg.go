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
	mDRI  = 0xDD
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

// jpegWalk is the state of a walk through a JPEG's markers.
type jpegWalk struct {
	jpegState
	s       *scanner
	b       *builder
	opt     Options
	w, h    int // from the frame header
	sawScan bool
	ended   bool // EOI read
}

// jpegMarkers are what reads each marker a JPEG may have, after the marker
// starting at start: the markers alone (EOI, RSTn) and the segments.
// Other markers (TEM, DNL, DHP, EXP, JPGn and reserved ones) are refused:
// no common decoder reads them.
var jpegMarkers = func() map[byte]func(j *jpegWalk, start int64, m byte) error {
	markers := map[byte]func(*jpegWalk, int64, byte) error{
		mEOI:  (*jpegWalk).end,
		mCOM:  (*jpegWalk).metadata,
		mDHT:  (*jpegWalk).header,
		mDQT:  (*jpegWalk).header,
		mDRI:  (*jpegWalk).header,
		mSOS:  (*jpegWalk).header,
		mAPP1: (*jpegWalk).app1,
	}
	for m := byte(0xC0); m <= 0xCF; m++ {
		if isSOF(m) {
			markers[m] = (*jpegWalk).header
		}
	}
	for m := byte(0xD0); m <= 0xD7; m++ {
		markers[m] = (*jpegWalk).restart
	}
	for m := byte(mAPP0); m <= 0xEF; m++ {
		if markers[m] == nil {
			markers[m] = (*jpegWalk).metadata
		}
	}
	return markers
}()

// jpegHeaders are what reads each segment read into memory and always
// kept: the frame and scan headers, the tables, the restart interval.
var jpegHeaders = func() map[byte]func(j *jpegWalk, m byte, seg []byte) error {
	headers := map[byte]func(*jpegWalk, byte, []byte) error{
		mSOS: (*jpegWalk).scanHeader,
		mDHT: func(j *jpegWalk, _ byte, seg []byte) error { return j.huffman(seg) },
		mDQT: func(j *jpegWalk, _ byte, seg []byte) error { return j.quantisation(seg) },
		mDRI: func(_ *jpegWalk, _ byte, seg []byte) error {
			if len(seg) != 2 {
				return refuse(Corrupt, "the JPEG restart interval segment has the wrong length")
			}
			return nil
		},
	}
	for m := byte(0xC0); m <= 0xCF; m++ {
		if isSOF(m) {
			headers[m] = (*jpegWalk).frameHeader
		}
	}
	return headers
}()

func inspectJPEG(s *scanner, b *builder, opt Options) (w, h int, err error) {
	head, err := s.read(2)
	if err != nil || head[0] != 0xFF || head[1] != mSOI {
		return 0, 0, notFormat(formatJPEG.MIME)
	}
	b.keep(0, 2)
	j := &jpegWalk{s: s, b: b, opt: opt}
	for !j.ended {
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
		read, ok := jpegMarkers[m]
		if !ok {
			return 0, 0, refuse(Corrupt, "the JPEG has the unsupported or invalid marker 0x%02X at offset %d", m, start)
		}
		if err := read(j, start, m); err != nil {
			return 0, 0, err
		}
	}
	return j.w, j.h, nil
}

// end reads EOI, the end of the image.
func (j *jpegWalk) end(start int64, _ byte) error {
	if !j.sawScan {
		return refuse(Corrupt, "the JPEG has no image data")
	}
	if len(j.comps) == 4 && !j.adobe {
		return refuse(Corrupt, "the JPEG has 4 components but no Adobe APP14 segment to say whether they are CMYK or YCCK; Go's decoder refuses it")
	}
	j.b.keep(start, j.s.off-start)
	j.ended = true
	return nil
}

// restart reads RSTn, which has no segment.
func (j *jpegWalk) restart(start int64, _ byte) error {
	j.b.keep(start, j.s.off-start)
	return nil
}

// length reads the length of the segment of the marker at start, and
// returns the length of its payload.
func (j *jpegWalk) length(start int64) (int64, error) {
	lb, err := j.s.read(2)
	if err != nil {
		return 0, err
	}
	n := int64(binary.BigEndian.Uint16(lb)) - 2
	if n < 0 {
		return 0, refuse(Corrupt, "the JPEG has a segment with an invalid length at offset %d", start)
	}
	return n, nil
}

// header reads a segment of jpegHeaders, and keeps it.
func (j *jpegWalk) header(start int64, m byte) error {
	n, err := j.length(start)
	if err != nil {
		return err
	}
	seg, err := j.s.read(int(n))
	if err != nil {
		return err
	}
	if err := jpegHeaders[m](j, m, seg); err != nil {
		return err
	}
	j.b.keep(start, j.s.off-start)
	return nil
}

// frameHeader reads SOFn, and the image's size from it.
func (j *jpegWalk) frameHeader(m byte, seg []byte) error {
	var err error
	if j.w, j.h, err = j.frame(m, seg); err != nil {
		return err
	}
	return j.opt.checkDims(j.w, j.h)
}

// scanHeader reads SOS, then skips the entropy-coded data that follows it.
func (j *jpegWalk) scanHeader(_ byte, seg []byte) error {
	if err := j.scan(seg); err != nil {
		return err
	}
	j.sawScan = true
	return j.s.skipEntropyData()
}

// exifHeader starts an APP1 segment holding EXIF.
const exifHeader = "Exif\x00\x00"

// app1 reads APP1: when stripping, EXIF leaves its orientation alone;
// otherwise it is metadata.
func (j *jpegWalk) app1(start int64, m byte) error {
	n, err := j.length(start)
	if err != nil {
		return err
	}
	if !j.opt.Strip || n < 6 || !bytes.HasPrefix(j.s.peek(6), []byte(exifHeader)) {
		return j.payload(start, m, n)
	}
	exif, err := j.s.read(int(n))
	if err != nil {
		return err
	}
	if o := exifOrientation(exif[6:]); o > 1 {
		j.b.orient(o)
		if minimal := orientationTIFF(o); bytes.Equal(exif[6:], minimal) {
			j.b.keep(start, j.s.off-start) // stripped already
		} else {
			j.b.literal(jpegSegment(mAPP1, append([]byte(exifHeader), minimal...)))
		}
	}
	return nil
}

// metadata reads APPn or COM.
func (j *jpegWalk) metadata(start int64, m byte) error {
	n, err := j.length(start)
	if err != nil {
		return err
	}
	return j.payload(start, m, n)
}

// payload reads the n bytes of payload of APPn or COM: kept, if free of
// active content, unless stripping drops it (jpegKeptSegment).
func (j *jpegWalk) payload(start int64, m byte, n int64) error {
	head := j.s.peek(min(int(n), 12))
	j.adobe = j.adobe || m == mAPPE && n >= 12 && bytes.HasPrefix(head, []byte("Adobe"))
	if j.opt.Strip && !jpegKeptSegment(m, head) {
		return j.s.copy(io.Discard, n)
	}
	var a activeScanner
	if err := j.s.copy(&a, n); err != nil {
		return err
	}
	if err := a.err("JPEG metadata"); err != nil {
		return err
	}
	j.b.keep(start, j.s.off-start)
	return nil
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
	p := jpegScanParams{ss: sos[1+2*ns], se: sos[2+2*ns], ah: sos[3+2*ns] >> 4, al: sos[3+2*ns] & 15}
	progressive := j.sof == 0xC2
	if progressive && !p.valid(ns) {
		return refuse(Corrupt, "the JPEG progressive scan has invalid parameters (Ss %d, Se %d, Ah %d, Al %d)", p.ss, p.se, p.ah, p.al)
	}
	// The scans that read DC codes, and those that read AC codes.
	dc, ac := !progressive || p.ss == 0 && p.ah == 0, !progressive || p.ss > 0
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
		if err := j.scanTables(c, td, ta, dc, ac); err != nil {
			return err
		}
	}
	if len(j.comps) > 1 && sampling > 10 {
		return refuse(Corrupt, "the JPEG scan's sampling factors add up to over 10")
	}
	return nil
}

// jpegScanParams are a scan's spectral selection (Ss, Se) and successive
// approximation (Ah, Al).
type jpegScanParams struct{ ss, se, ah, al byte }

// valid reports whether a progressive scan of ns components may have p.
func (p jpegScanParams) valid(ns int) bool {
	return !(p.ss == 0 && p.se != 0 || p.ss > p.se || p.se > 63 || p.ss != 0 && ns != 1 || p.ah != 0 && p.ah != p.al+1 || p.al > 13)
}

// scanTables checks the tables a scan's component c uses: Huffman tables
// td (DC, if dc) and ta (AC, if ac), and its quantisation table, valid and
// defined before the scan.
func (j *jpegState) scanTables(c jpegComponent, td, ta byte, dc, ac bool) error {
	switch {
	case td > 3 || ta > 3 || j.sof == 0xC0 && (td > 1 || ta > 1):
		return refuse(Corrupt, "the JPEG scan names invalid Huffman tables for component %d", c.id)
	case dc && !j.huff[0][td], ac && !j.huff[1][ta]:
		return refuse(Corrupt, "the JPEG scan uses a Huffman table not defined before it")
	case !j.quant[c.tq]:
		return refuse(Corrupt, "the JPEG scan's component %d uses quantisation table %d, not defined before it", c.id, c.tq)
	}
	return nil
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
