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
		return f.addAlpha(d, n)
	}
	return f.addBitstream(fourcc, d, n)
}

// addAlpha checks an ALPH chunk of n bytes, d its first bytes.
func (f *webpFrame) addAlpha(d []byte, n int64) error {
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

// addBitstream checks a VP8 or VP8L chunk of n bytes, d its first bytes.
func (f *webpFrame) addBitstream(fourcc string, d []byte, n int64) error {
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

// webpWalk is the state of a walk through a WebP's chunks.
type webpWalk struct {
	s       *scanner
	opt     Options
	riffEnd int64
	w, h    int // the canvas's
	// kept are the chunks kept after VP8X, and dropped whether any was
	// dropped (then the RIFF header is rewritten, and VP8X's flags with it).
	kept              builder
	dropped           bool
	keptEXIF, keptXMP bool
	vp8x              []byte // the VP8X chunk, nil if none
	flags             byte   // VP8X's
	still             webpFrame
	sawICCP, sawANIM  bool
	frames            int
	budget            frameBudget
}

// webpChunkHead is a chunk's header.
type webpChunkHead struct {
	start     int64
	hdr       []byte
	fourcc    string
	n, padded int64 // the length of its data, and with its padding
	first     bool
}

// webpRule is one rule on a chunk's place, given what came before it (RFC
// 9649): a chunk that breaks it is refused with refusal.
type webpRule struct {
	broken  func(w *webpWalk, c webpChunkHead) bool
	refusal func(c webpChunkHead) error
}

// The rules several chunk types share.
var (
	webpFirst = webpRule{
		func(_ *webpWalk, c webpChunkHead) bool { return !c.first },
		func(webpChunkHead) error { return refuse(Corrupt, "the WebP VP8X chunk must come first") },
	}
	webpExtended = webpRule{
		func(w *webpWalk, _ webpChunkHead) bool { return w.vp8x == nil },
		func(c webpChunkHead) error {
			return refuse(Corrupt, "the WebP has a %q chunk without a VP8X header (the extended format)", c.fourcc)
		},
	}
	webpNotInFrames = webpRule{
		func(w *webpWalk, _ webpChunkHead) bool { return w.animated() },
		func(c webpChunkHead) error {
			return refuse(Corrupt, "the WebP is animated (VP8X) but has a %q chunk outside its frames", c.fourcc)
		},
	}
	webpAnimated = webpRule{
		func(w *webpWalk, _ webpChunkHead) bool { return !w.animated() },
		func(c webpChunkHead) error {
			return refuse(Corrupt, "the WebP has a %q chunk but its VP8X does not flag an animation", c.fourcc)
		},
	}
)

// webpRules are the rules on each chunk type, checked in order.
var webpRules = map[string][]webpRule{
	"VP8X": {webpFirst},
	"ALPH": {webpExtended, webpNotInFrames},
	"VP8 ": {webpNotInFrames},
	"VP8L": {webpNotInFrames},
	"ANIM": {webpExtended, webpAnimated, {
		func(w *webpWalk, c webpChunkHead) bool { return w.sawANIM || w.frames > 0 || c.n != 6 },
		func(webpChunkHead) error {
			return refuse(Corrupt, "the WebP ANIM chunk must come once, before the frames, and hold 6 bytes")
		},
	}},
	"ANMF": {webpExtended, webpAnimated, {
		func(w *webpWalk, c webpChunkHead) bool { return !w.sawANIM || c.n < 16 },
		func(c webpChunkHead) error {
			return refuse(Corrupt, "the WebP ANMF chunk at offset %d is too short or not after ANIM", c.start)
		},
	}},
	"ICCP": {webpExtended, {
		func(w *webpWalk, _ webpChunkHead) bool {
			return w.sawICCP || w.still.bitstream != "" || w.still.alpha || w.sawANIM
		},
		func(webpChunkHead) error {
			return refuse(Corrupt, "the WebP ICCP chunk must come once, before the image data")
		},
	}},
}

// webpChunks are what reads each chunk type, once its place is checked.
// The image and animation chunks and the ICC profile are kept (VP8X is
// written at the end); EXIF and XMP are metadata; other chunks are skipped
// and dropped.
var webpChunks = map[string]func(w *webpWalk, c webpChunkHead) error{
	"VP8X": (*webpWalk).extended,
	"ALPH": (*webpWalk).image,
	"VP8 ": (*webpWalk).image,
	"VP8L": (*webpWalk).image,
	"ANIM": (*webpWalk).animation,
	"ANMF": (*webpWalk).frame,
	"ICCP": (*webpWalk).colourProfile,
	"EXIF": (*webpWalk).exif,
	"XMP ": (*webpWalk).metadata,
}

func inspectWebP(s *scanner, b *builder, opt Options) (w, h int, err error) {
	if m := s.peek(12); len(m) < 12 || !isWebP(m) {
		return 0, 0, notFormat(formatWebP.MIME)
	}
	head, err := s.read(12)
	if err != nil {
		return 0, 0, err
	}
	wk := &webpWalk{
		s: s, opt: opt, riffEnd: 8 + int64(binary.LittleEndian.Uint32(head[4:])),
		still: webpFrame{opt: opt}, budget: frameBudget{opt: opt},
	}
	for first := true; s.off < wk.riffEnd; first = false {
		c, err := wk.head(first)
		if err != nil {
			return 0, 0, err
		}
		if err := wk.chunk(c); err != nil {
			return 0, 0, err
		}
	}
	if err := checkWebPFlags(wk.flags, wk.vp8x != nil, &wk.still, wk.sawICCP, wk.frames); err != nil {
		return 0, 0, err
	}
	wk.plan(b)
	return wk.w, wk.h, nil
}

// head reads the header of a chunk, first or not, and checks that it fits
// in the file.
func (w *webpWalk) head(first bool) (webpChunkHead, error) {
	start := w.s.off
	hdr, err := w.s.read(8)
	if err != nil {
		return webpChunkHead{}, err
	}
	n := int64(binary.LittleEndian.Uint32(hdr[4:]))
	c := webpChunkHead{start: start, hdr: hdr, fourcc: string(hdr[:4]), n: n, padded: n + n&1, first: first}
	if c.fourcc == "VP8X" && n != 10 {
		return c, refuse(Corrupt, "the WebP VP8X chunk has the wrong length")
	}
	if start+8+c.padded > w.riffEnd {
		return c, refuse(Corrupt, "the WebP chunk %q at offset %d runs past the file's end", c.fourcc, start)
	}
	return c, nil
}

// chunk checks chunk c's place and reads it.
func (w *webpWalk) chunk(c webpChunkHead) error {
	for _, r := range webpRules[c.fourcc] {
		if r.broken(w, c) {
			return r.refusal(c)
		}
	}
	read, ok := webpChunks[c.fourcc]
	if !ok {
		w.dropped = true
		return w.s.copy(io.Discard, c.padded) // unknown chunks, which readers skip
	}
	return read(w, c)
}

func (w *webpWalk) animated() bool { return w.flags&webpFlagAnimation != 0 }

// keep keeps chunk c, read.
func (w *webpWalk) keep(c webpChunkHead) { w.kept.keep(c.start, w.s.off-c.start) }

// extended reads VP8X, the extended format's header: the canvas's size and
// the flags. It is planned at the end, its flags fixed.
func (w *webpWalk) extended(c webpChunkHead) error {
	d, err := w.s.read(10)
	if err != nil {
		return err
	}
	w.vp8x, w.flags = append(c.hdr, d...), d[0]
	w.w, w.h, _ = webpChunkDims(c.fourcc, d)
	if err := w.opt.checkDims(w.w, w.h); err != nil {
		return err
	}
	if !w.animated() {
		w.still.w, w.still.h = w.w, w.h // the bitstream must say the canvas's size
	}
	return nil
}

// image reads an image chunk of the still image: ALPH, VP8 or VP8L.
func (w *webpWalk) image(c webpChunkHead) error {
	if err := w.s.webpImageChunk(&w.still, c.fourcc, c.n, c.padded); err != nil {
		return err
	}
	if w.vp8x == nil { // the simple format: the bitstream says the size
		w.w, w.h = w.still.w, w.still.h
	}
	w.keep(c)
	return nil
}

// animation reads ANIM, the animation's parameters.
func (w *webpWalk) animation(c webpChunkHead) error {
	w.sawANIM = true
	if err := w.s.copy(io.Discard, c.padded); err != nil {
		return err
	}
	w.keep(c)
	return nil
}

// frame reads ANMF, an animation frame.
func (w *webpWalk) frame(c webpChunkHead) error {
	w.frames++
	if err := w.s.webpANMF(&w.budget, w.w, w.h, w.s.off+c.n); err != nil {
		return err
	}
	if err := w.s.copy(io.Discard, c.n&1); err != nil { // the padding
		return err
	}
	w.keep(c)
	return nil
}

// colourProfile reads ICCP, the ICC profile.
func (w *webpWalk) colourProfile(c webpChunkHead) error {
	w.sawICCP = true
	if err := w.s.copy(io.Discard, c.padded); err != nil {
		return err
	}
	w.keep(c)
	return nil
}

// metadata reads EXIF or XMP: kept unless stripping, if free of active
// content.
func (w *webpWalk) metadata(c webpChunkHead) error {
	var active activeScanner
	if err := w.s.copy(&active, c.padded); err != nil {
		return err
	}
	if w.opt.Strip {
		w.dropped = true
		return nil
	}
	if err := active.err("WebP metadata"); err != nil {
		return err
	}
	w.keep(c)
	w.keptEXIF, w.keptXMP = w.keptEXIF || c.fourcc == "EXIF", w.keptXMP || c.fourcc == "XMP "
	return nil
}

// exif reads EXIF: metadata, of which stripping keeps the orientation
// alone, as for JPEG and PNG.
func (w *webpWalk) exif(c webpChunkHead) error {
	if !w.opt.Strip || c.n > maxEXIFRead {
		return w.metadata(c)
	}
	exif, err := w.s.read(int(c.padded))
	if err != nil {
		return err
	}
	exif = bytes.TrimPrefix(exif[:c.n], []byte(exifHeader))
	o := exifOrientation(exif)
	if o <= 1 {
		w.dropped = true
		return nil
	}
	w.keptEXIF = true
	w.kept.orient(o)
	if minimal := orientationTIFF(o); bytes.Equal(exif, minimal) && c.n == int64(len(minimal)) {
		w.keep(c) // stripped already
	} else {
		w.kept.literal(webpChunk("EXIF", minimal))
		w.dropped = true
	}
	return nil
}

// plan plans the image: the whole file if nothing was dropped; otherwise
// a RIFF header for the smaller size, VP8X with the flags of the metadata
// dropped cleared, and the chunks kept.
func (w *webpWalk) plan(b *builder) {
	b.orient(w.kept.orientation)
	if !w.dropped {
		b.keep(0, w.riffEnd)
		return
	}
	size := int64(4)
	if w.vp8x != nil {
		size += 18
	}
	for _, pc := range w.kept.pieces {
		size += pc.n + int64(len(pc.lit))
	}
	b.literal(append(append([]byte("RIFF"), binary.LittleEndian.AppendUint32(nil, uint32(size))...), "WEBP"...))
	if w.vp8x != nil {
		if !w.keptXMP {
			w.vp8x[8] &^= webpFlagXMP
		}
		if !w.keptEXIF {
			w.vp8x[8] &^= webpFlagEXIF
		}
		b.literal(w.vp8x)
	}
	b.pieces = append(b.pieces, w.kept.pieces...)
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
