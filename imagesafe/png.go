package imagesafe

import (
	"bufio"
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"slices"
)

const pngMagic = "\x89PNG\r\n\x1a\n"

// pngKept are the ancillary chunks kept when stripping: colour, transparency,
// physical size and animation. Text, time and EXIF chunks are dropped.
var pngKept = map[string]bool{
	"tRNS": true, "gAMA": true, "cHRM": true, "sRGB": true, "iCCP": true, "sBIT": true,
	"pHYs": true, "bKGD": true, "hIST": true, "sPLT": true, "cICP": true, "mDCV": true,
	"cLLI": true, "acTL": true, "fcTL": true, "fdAT": true,
}

var pngCritical = map[string]bool{"IHDR": true, "PLTE": true, "IDAT": true, "IEND": true}

// pngMetadata are the metadata chunks kept with --keep-metadata, scanned
// for active content.
var pngMetadata = map[string]bool{"tEXt": true, "zTXt": true, "iTXt": true, "eXIf": true, "tIME": true}

// maxEXIFRead bounds how much of an EXIF block is read to find the
// orientation; IFD0 comes first in practice.
const maxEXIFRead = 64 << 10

func pngHeadDims(head []byte) (w, h int, ok bool) {
	if len(head) < 24 || string(head[12:16]) != "IHDR" || binary.BigEndian.Uint32(head[8:]) != 13 {
		return 0, 0, false
	}
	return int(binary.BigEndian.Uint32(head[16:])), int(binary.BigEndian.Uint32(head[20:])), true
}

// pngDepths are the bit depths allowed with each colour type (PNG spec,
// table 11.1); pngChannels are the samples of a pixel of each.
var (
	pngDepths   = map[byte][]byte{0: {1, 2, 4, 8, 16}, 2: {8, 16}, 3: {1, 2, 4, 8}, 4: {8, 16}, 6: {8, 16}}
	pngChannels = map[byte]int64{0: 1, 2: 3, 3: 1, 4: 2, 6: 4}
)

// pngHeader holds the IHDR fields the image data is checked against.
type pngHeader struct {
	width, height int
	depth, colour byte
	interlaced    bool
}

// parseIHDR checks IHDR's fields against the spec (section 11.2.2): Go's
// decoder, like others, refuses anything else.
func parseIHDR(d []byte) (pngHeader, error) {
	w, h := binary.BigEndian.Uint32(d), binary.BigEndian.Uint32(d[4:])
	hd := pngHeader{width: int(w), height: int(h), depth: d[8], colour: d[9], interlaced: d[12] == 1}
	switch {
	case w == 0 || h == 0 || w > 1<<31-1 || h > 1<<31-1:
		return hd, refuse(Corrupt, "the PNG header's dimensions %dx%d are out of range", w, h)
	case !slices.Contains(pngDepths[hd.colour], hd.depth):
		return hd, refuse(Corrupt, "the PNG header's colour type %d with bit depth %d is invalid", hd.colour, hd.depth)
	case d[10] != 0:
		return hd, refuse(Corrupt, "the PNG header's compression method %d is invalid", d[10])
	case d[11] != 0:
		return hd, refuse(Corrupt, "the PNG header's filter method %d is invalid", d[11])
	case d[12] > 1:
		return hd, refuse(Corrupt, "the PNG header's interlace method %d is invalid", d[12])
	}
	return hd, nil
}

// pngPass is a pass of the image data: the column and row of its first
// pixel, and the steps between its pixels.
type pngPass struct{ x, y, dx, dy int }

var (
	adam7     = []pngPass{{0, 0, 8, 8}, {4, 0, 8, 8}, {0, 4, 4, 8}, {2, 0, 4, 4}, {0, 2, 2, 4}, {1, 0, 2, 2}, {0, 1, 1, 2}}
	wholePass = []pngPass{{0, 0, 1, 1}} // not interlaced
)

// scanlines checks inflated image data as it streams: a filter type (0–4)
// at the start of each scanline, and exactly the scanlines the header
// implies, per pass when interlaced. It counts bytes and keeps none: memory
// does not grow with the image.
type scanlines struct {
	passes [7]struct{ rows, size int64 } // per pass: scanlines left, and their size with the filter byte
	pass   int
	col    int64 // bytes of the current scanline seen
}

// scanlines is the layout of the image data of a w×h image (or frame).
func (hd pngHeader) scanlines(w, h int) *scanlines {
	var s scanlines
	bits := pngChannels[hd.colour] * int64(hd.depth)
	passes := wholePass
	if hd.interlaced {
		passes = adam7
	}
	for i, p := range passes {
		pw, ph := (w-p.x+p.dx-1)/p.dx, (h-p.y+p.dy-1)/p.dy
		if pw > 0 && ph > 0 { // an empty pass has no scanlines, not even filter bytes
			s.passes[i].rows, s.passes[i].size = int64(ph), 1+(int64(pw)*bits+7)/8
		}
	}
	return &s
}

// more skips the passes done and reports whether scanlines remain.
func (s *scanlines) more() bool {
	for s.pass < len(s.passes) && s.passes[s.pass].rows == 0 {
		s.pass++
	}
	return s.pass < len(s.passes)
}

func (s *scanlines) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		if !s.more() {
			return 0, refuse(Corrupt, "the PNG image data is longer than its header implies")
		}
		cur := &s.passes[s.pass]
		if s.col == 0 && p[0] > 4 {
			return 0, refuse(Corrupt, "the PNG image data has a scanline with the invalid filter type %d", p[0])
		}
		k := min(int64(len(p)), cur.size-s.col)
		s.col += k
		p = p[k:]
		if s.col == cur.size {
			s.col = 0
			cur.rows--
		}
	}
	return n, nil
}

// pngChunkHead is a chunk's header.
type pngChunkHead struct {
	start, n int64
	typ      string
}

// pngWalk is the state of a walk through a PNG's chunks.
type pngWalk struct {
	s   *scanner
	b   *builder
	opt Options
	// next is a header read ahead, at the end of a run of image data.
	next *pngChunkHead
	// The zlib reader and its buffers, made at the first image data and
	// reused for each APNG frame's.
	zbuf *bufio.Reader
	zr   io.ReadCloser
	out  []byte

	hd                        pngHeader // from IHDR
	sawPLTE, sawTRNS, sawIDAT bool
	frame                     *[2]int // an APNG frame's size, from its fcTL until its data
	budget                    frameBudget
	ended                     bool // IEND read
}

func (p *pngWalk) head() (pngChunkHead, error) {
	if h := p.next; h != nil {
		p.next = nil
		return *h, nil
	}
	start := p.s.off
	hdr, err := p.s.read(8)
	if err != nil {
		return pngChunkHead{}, err
	}
	h := pngChunkHead{start: start, n: int64(binary.BigEndian.Uint32(hdr)), typ: string(hdr[4:])}
	if h.n > 1<<31-1 || !isChunkType(h.typ) {
		return h, refuse(Corrupt, "the PNG has an invalid chunk at offset %d", start)
	}
	return h, nil
}

// checkCRC reads the CRC that ends chunk h and compares it with crc's.
func (p *pngWalk) checkCRC(h pngChunkHead, crc hash.Hash32) error {
	sum, err := p.s.read(4)
	if err != nil {
		return err
	}
	if binary.BigEndian.Uint32(sum) != crc.Sum32() {
		return refuse(Corrupt, "the PNG chunk %q at offset %d fails its checksum", h.typ, h.start)
	}
	return nil
}

// dataRun reads a run of consecutive chunks of one type (the IDATs, or one
// APNG frame's fdATs) as the one zlib stream they hold. It checks each
// chunk's CRC as the chunk ends and keeps the chunk in the plan; the header
// of the chunk after the run is left in the walk's next.
type dataRun struct {
	w    *pngWalk
	head pngChunkHead
	left int64
	crc  hash.Hash32
	done bool
}

func (r *dataRun) begin(h pngChunkHead) error {
	r.head, r.left = h, h.n
	r.crc.Reset()
	r.crc.Write([]byte(h.typ))
	if h.typ == "fdAT" { // the frame data follows a sequence number
		if h.n < 4 {
			return refuse(Corrupt, "the APNG fdAT chunk at offset %d is too short", h.start)
		}
		seq, err := r.w.s.read(4)
		if err != nil {
			return err
		}
		r.crc.Write(seq)
		r.left -= 4
	}
	return nil
}

func (r *dataRun) Read(b []byte) (int, error) {
	for r.left == 0 {
		if r.done {
			return 0, io.EOF
		}
		if err := r.w.checkCRC(r.head, r.crc); err != nil {
			return 0, err
		}
		r.w.b.keep(r.head.start, r.w.s.off-r.head.start)
		h, err := r.w.head()
		if err != nil {
			return 0, err
		}
		if h.typ != r.head.typ {
			r.w.next, r.done = &h, true
			return 0, io.EOF
		}
		if err := r.begin(h); err != nil {
			return 0, err
		}
	}
	n, err := r.w.s.br.Read(b[:min(int64(len(b)), r.left)])
	r.w.s.off += int64(n)
	r.left -= int64(n)
	r.crc.Write(b[:n])
	if n == 0 && err != nil {
		return 0, truncated(err)
	}
	return n, nil
}

// inflate checks the image data of a w×h image (or frame) starting with
// chunk h: one zlib stream, its Adler-32 right, inflating to exactly the
// scanlines the header implies, nothing after it. The inflated bytes are
// counted and dropped as they stream.
func (p *pngWalk) inflate(h pngChunkHead, hd pngHeader, w, ht int) error {
	run := &dataRun{w: p, crc: crc32.NewIEEE()}
	if err := run.begin(h); err != nil {
		return err
	}
	var err error
	if p.zr == nil {
		p.zbuf, p.out = bufio.NewReader(run), make([]byte, 32<<10)
		p.zr, err = zlib.NewReader(p.zbuf)
	} else {
		p.zbuf.Reset(run)
		err = p.zr.(zlib.Resetter).Reset(p.zbuf, nil)
	}
	if err == nil {
		lines := hd.scanlines(w, ht)
		if _, err = io.CopyBuffer(lines, p.zr, p.out); err == nil && lines.more() {
			err = refuse(Corrupt, "the PNG image data is shorter than its header implies")
		}
	}
	if err == nil {
		// Reading on ends the run: its last CRCs are checked.
		if _, err = p.zbuf.ReadByte(); err == nil {
			err = refuse(Corrupt, "the PNG %s data goes on after its zlib stream ends", h.typ)
		} else if err == io.EOF {
			err = nil
		}
	}
	return streamError(err, "PNG "+h.typ+" data")
}

func inspectPNG(s *scanner, b *builder, opt Options) (w, h int, err error) {
	sig, err := s.read(len(pngMagic))
	if err != nil || string(sig) != pngMagic {
		return 0, 0, notFormat(formatPNG.MIME)
	}
	b.keep(0, int64(len(pngMagic)))
	p := &pngWalk{s: s, b: b, opt: opt, budget: frameBudget{opt: opt}}
	for first := true; !p.ended; first = false {
		c, err := p.head()
		if err != nil {
			return 0, 0, err
		}
		if err := p.checkPlace(c, first); err != nil {
			return 0, 0, err
		}
		if err := p.chunk(c); err != nil {
			return 0, 0, err
		}
	}
	return p.hd.width, p.hd.height, nil
}

// pngRule is one of the rules on a chunk's length and place, given what
// came before it: the spec's (section 5.6) and APNG's. A chunk that breaks
// it is refused with refusal.
type pngRule struct {
	broken  func(p *pngWalk, c pngChunkHead) bool
	refusal func(p *pngWalk, c pngChunkHead) error
}

// pngRules are the rules on each chunk type, checked in order.
var pngRules = map[string][]pngRule{
	"IHDR": {
		{func(p *pngWalk, c pngChunkHead) bool { return c.n != 13 }, pngBadLength},
	},
	"PLTE": {
		{func(p *pngWalk, c pngChunkHead) bool { return p.sawPLTE || p.sawTRNS || p.sawIDAT },
			pngOutOfPlace("a palette comes once, before tRNS and the image data")},
		{func(p *pngWalk, c pngChunkHead) bool { return p.hd.colour == 0 || p.hd.colour == 4 },
			pngOutOfPlaceColour("a grey image (colour type %d) has no palette")},
		{func(p *pngWalk, c pngChunkHead) bool {
			return c.n == 0 || c.n%3 != 0 || c.n/3 > 256 || p.hd.colour == 3 && c.n/3 > 1<<p.hd.depth
		}, pngBadLength},
	},
	"tRNS": {
		{func(p *pngWalk, c pngChunkHead) bool { return p.sawTRNS || p.sawIDAT || p.hd.colour == 3 && !p.sawPLTE },
			pngOutOfPlace("transparency comes once, after the palette and before the image data")},
		{func(p *pngWalk, c pngChunkHead) bool { return p.hd.colour == 4 || p.hd.colour == 6 },
			pngOutOfPlaceColour("an image with alpha (colour type %d) has no tRNS")},
		{func(p *pngWalk, c pngChunkHead) bool {
			return p.hd.colour == 0 && c.n != 2 || p.hd.colour == 2 && c.n != 6 || c.n > 256
		}, pngBadLength},
	},
	"IDAT": {
		{func(p *pngWalk, c pngChunkHead) bool { return p.sawIDAT },
			pngOutOfPlace("the IDAT chunks must be consecutive")},
		{func(p *pngWalk, c pngChunkHead) bool { return p.hd.colour == 3 && !p.sawPLTE },
			pngOutOfPlace("a palette image (colour type 3) needs a PLTE chunk before its image data")},
	},
	"IEND": {
		{func(p *pngWalk, c pngChunkHead) bool { return c.n != 0 }, pngBadLength},
		{func(p *pngWalk, c pngChunkHead) bool { return !p.sawIDAT },
			func(*pngWalk, pngChunkHead) error { return refuse(Corrupt, "the PNG has no image data") }},
		{func(p *pngWalk, c pngChunkHead) bool { return p.frame != nil },
			pngOutOfPlace("the last APNG frame has no image data")},
	},
	"fcTL": {
		{func(p *pngWalk, c pngChunkHead) bool { return c.n != 26 }, pngBadLength},
		{func(p *pngWalk, c pngChunkHead) bool { return p.frame != nil },
			pngOutOfPlace("the APNG frame before it has no image data")},
	},
	"fdAT": {
		{func(p *pngWalk, c pngChunkHead) bool { return !p.sawIDAT || p.frame == nil },
			pngOutOfPlace("APNG frame data follows the image data and its frame's fcTL")},
	},
}

func pngBadLength(_ *pngWalk, c pngChunkHead) error {
	return refuse(Corrupt, "the PNG %s chunk at offset %d has an invalid length of %d bytes", c.typ, c.start, c.n)
}

func pngOutOfPlace(why string) func(*pngWalk, pngChunkHead) error {
	return func(_ *pngWalk, c pngChunkHead) error {
		return refuse(Corrupt, "the PNG %s chunk at offset %d is out of place: %s", c.typ, c.start, why)
	}
}

// pngOutOfPlaceColour is pngOutOfPlace of a reason that names the colour
// type, its one verb.
func pngOutOfPlaceColour(format string) func(*pngWalk, pngChunkHead) error {
	return func(p *pngWalk, c pngChunkHead) error {
		return pngOutOfPlace(fmt.Sprintf(format, p.hd.colour))(p, c)
	}
}

// checkPlace checks chunk c, first or not, against the rules: IHDR first,
// no unknown critical chunk, and the rules of its type.
func (p *pngWalk) checkPlace(c pngChunkHead, first bool) error {
	if first != (c.typ == "IHDR") {
		return refuse(Corrupt, "the PNG must start with one IHDR chunk")
	}
	if isCritical(c.typ) && !pngCritical[c.typ] {
		return refuse(Corrupt, "the PNG has an unknown critical chunk %q", c.typ)
	}
	for _, r := range pngRules[c.typ] {
		if r.broken(p, c) {
			return r.refusal(p, c)
		}
	}
	return nil
}

// pngReadWhole are the chunks read into memory, up to a length: the
// headers, and EXIF for its orientation.
var pngReadWhole = map[string]int64{"IHDR": 13, "fcTL": 26, "eXIf": maxEXIFRead}

// pngDataChunks are the chunks holding image data, read as a zlib stream.
var pngDataChunks = map[string]bool{"IDAT": true, "fdAT": true}

// pngHandlers are what the walk does with a chunk of each type, once it is
// read and its CRC checked, before deciding whether to keep it; data is its
// content if pngReadWhole holds it.
var pngHandlers = map[string]func(p *pngWalk, data []byte) error{
	"IHDR": (*pngWalk).header,
	"PLTE": func(p *pngWalk, _ []byte) error { p.sawPLTE = true; return nil },
	"tRNS": func(p *pngWalk, _ []byte) error { p.sawTRNS = true; return nil },
	"fcTL": (*pngWalk).frameControl,
	"IEND": func(p *pngWalk, _ []byte) error { p.ended = true; return nil },
}

// chunk reads chunk c, whose header has been read, and plans it.
func (p *pngWalk) chunk(c pngChunkHead) error {
	if pngDataChunks[c.typ] {
		return p.imageData(c)
	}
	data, active, err := p.content(c)
	if err != nil {
		return err
	}
	if handle := pngHandlers[c.typ]; handle != nil {
		if err := handle(p, data); err != nil {
			return err
		}
	}
	return p.plan(c, data, active)
}

// content reads chunk c's data and its CRC. It returns the data if
// pngReadWhole holds it, and what the scan for active content found in
// the data read whole or in metadata that may be kept (the scan costs a
// copy).
func (p *pngWalk) content(c pngChunkHead) ([]byte, *activeScanner, error) {
	crc := crc32.NewIEEE()
	crc.Write([]byte(c.typ))
	var data []byte
	active := &activeScanner{}
	if most, ok := pngReadWhole[c.typ]; ok && c.n <= most {
		var err error
		if data, err = p.s.read(int(c.n)); err != nil {
			return nil, nil, err
		}
		crc.Write(data)
		active.Write(data)
	} else {
		var w io.Writer = crc
		if !p.opt.Strip && pngMetadata[c.typ] {
			w = io.MultiWriter(crc, active)
		}
		if err := p.s.copy(w, c.n); err != nil {
			return nil, nil, err
		}
	}
	return data, active, p.checkCRC(c, crc)
}

// header reads IHDR's content.
func (p *pngWalk) header(data []byte) error {
	var err error
	if p.hd, err = parseIHDR(data); err != nil {
		return err
	}
	return p.opt.checkDims(p.hd.width, p.hd.height)
}

// frameControl reads an fcTL's content: an APNG frame's size.
func (p *pngWalk) frameControl(data []byte) error {
	var err error
	if p.frame, err = parseFCTL(data, p.hd, p.sawIDAT); err != nil {
		return err
	}
	return p.budget.add(p.frame[0], p.frame[1])
}

// imageData reads the run of image data starting with chunk c: the image's
// (IDAT) or an APNG frame's (fdAT). The run keeps its chunks.
func (p *pngWalk) imageData(c pngChunkHead) error {
	w, h := p.hd.width, p.hd.height
	if c.typ == "fdAT" {
		w, h = p.frame[0], p.frame[1]
	}
	if err := p.inflate(c, p.hd, w, h); err != nil {
		return err
	}
	p.sawIDAT, p.frame = true, nil
	return nil
}

// plan keeps or drops chunk c, read: critical and kept ancillary chunks
// stay; metadata stays unless stripping, if free of active content; when
// stripping, EXIF leaves its orientation alone. Unknown and private chunks
// go, even when metadata is kept: nothing reads them, and they could carry
// anything.
func (p *pngWalk) plan(c pngChunkHead, data []byte, active *activeScanner) error {
	n := p.s.off - c.start
	switch {
	case isCritical(c.typ) || pngKept[c.typ]:
		p.b.keep(c.start, n)
	case p.opt.Strip && c.typ == "eXIf":
		if o := exifOrientation(data); o > 1 {
			p.b.orient(o)
			if minimal := orientationTIFF(o); bytes.Equal(data, minimal) {
				p.b.keep(c.start, n) // stripped already
			} else {
				p.b.literal(pngChunk("eXIf", minimal))
			}
		}
	case !p.opt.Strip && pngMetadata[c.typ]:
		if err := active.err("PNG " + c.typ + " chunk"); err != nil {
			return err
		}
		p.b.keep(c.start, n)
	}
	return nil
}

// parseFCTL checks an APNG frame control chunk: a frame inside the canvas,
// the same as the canvas if it is the default image (before IDAT), and
// valid dispose and blend operations. It returns the frame's size.
func parseFCTL(d []byte, hd pngHeader, sawIDAT bool) (*[2]int, error) {
	fw, fh := int64(binary.BigEndian.Uint32(d[4:])), int64(binary.BigEndian.Uint32(d[8:]))
	x, y := int64(binary.BigEndian.Uint32(d[12:])), int64(binary.BigEndian.Uint32(d[16:]))
	switch {
	case x+fw > int64(hd.width) || y+fh > int64(hd.height):
		return nil, refuse(Corrupt, "the APNG frame %dx%d at (%d, %d) is outside the %dx%d image", fw, fh, x, y, hd.width, hd.height)
	case !sawIDAT && (x != 0 || y != 0 || fw != int64(hd.width) || fh != int64(hd.height)):
		return nil, refuse(Corrupt, "the APNG default image's frame (%dx%d at (%d, %d)) is not the whole image", fw, fh, x, y)
	case d[24] > 2 || d[25] > 1:
		return nil, refuse(Corrupt, "the APNG frame has an invalid dispose (%d) or blend (%d) operation", d[24], d[25])
	}
	return &[2]int{int(fw), int(fh)}, nil
}

// isCritical reports whether chunk type t is critical: a reader that does
// not know it must refuse the image.
func isCritical(t string) bool { return t[0] >= 'A' && t[0] <= 'Z' }

func isChunkType(t string) bool {
	for i := range len(t) {
		if c := t[i]; !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z') {
			return false
		}
	}
	return true
}

func pngChunk(typ string, data []byte) []byte {
	c := binary.BigEndian.AppendUint32(nil, uint32(len(data)))
	c = append(c, typ...)
	c = append(c, data...)
	return binary.BigEndian.AppendUint32(c, crc32.ChecksumIEEE(c[4:]))
}
