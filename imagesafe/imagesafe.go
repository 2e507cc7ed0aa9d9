// Package imagesafe checks that uploaded bytes are one well-formed image of
// the declared type, and plans a safe copy of it: the container walked to its
// end marker (trailing bytes cut), dimensions read from the header and capped
// before anything is decoded, and, when stripping, every metadata block
// dropped except the ICC colour profile and the orientation. Pixels are never
// re-encoded: the plan copies the compressed data byte for byte.
//
// What is accepted decodes: every header is checked against its spec and
// against what Go's decoders (image/png, image/jpeg, image/gif,
// x/image/webp) require. PNG's zlib streams and GIF's LZW data are
// decompressed as they stream, with the standard library, and their output
// counted and dropped, never held; JPEG's entropy-coded scans and the WebP
// VP8 and VP8L bitstreams are checked up to their headers only.
//
// Inspect reads its input once, as a stream, holding at most one small
// header or metadata block and a decompressor's window in memory;
// Plan.Reader then produces the output from a seekable copy of the same
// input.
package imagesafe

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"

	"github.com/userimages/userimages/client/api"
)

// Reason says why an image is refused.
type Reason int

const (
	// NotFormat: the bytes are not of the declared format.
	NotFormat Reason = iota + 1
	// Corrupt: the structure is invalid (bad marker, chunk, checksum, size).
	Corrupt
	// Truncated: the input ends before the image does.
	Truncated
	// TooLarge: the dimensions exceed the caps.
	TooLarge
	// ActiveContent: markup, script, PDF or archive bytes in kept metadata.
	ActiveContent
)

// ReadError is the error of an input that could not be read: a fault of
// the reader (a cut connection, a failing disk), not of the image, so the
// same bytes may pass when read again. Inspect returns it, never a
// Refusal, for any error of its reader other than a clean io.EOF.
type ReadError struct{ Err error }

func (e *ReadError) Error() string { return "read image: " + e.Err.Error() }
func (e *ReadError) Unwrap() error { return e.Err }

// sourceReader marks its reader's errors as ReadErrors, so that an
// io.ErrUnexpectedEOF of the reader is not taken for a truncated image, and
// keeps the first one.
type sourceReader struct {
	r      io.Reader
	failed *ReadError
}

func (s *sourceReader) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	if err != nil && err != io.EOF {
		if s.failed == nil {
			s.failed = &ReadError{Err: err}
		}
		return n, s.failed
	}
	return n, err
}

// Refusal is the error of a refused image.
type Refusal struct {
	Reason Reason
	Detail string
}

func (r *Refusal) Error() string { return r.Detail }

func refuse(reason Reason, format string, args ...any) *Refusal {
	return &Refusal{Reason: reason, Detail: fmt.Sprintf(format, args...)}
}

// Defaults of Options.
const (
	DefaultMaxPixels = 50_000_000
	DefaultMaxSide   = 20_000
)

// Options tune Inspect. Zero fields take their defaults.
type Options struct {
	// Strip drops metadata (EXIF, XMP, IPTC, comments, text chunks), keeping
	// the ICC profile and a minimal EXIF orientation where one was set.
	Strip bool
	// MaxPixels caps width × height. Default DefaultMaxPixels.
	MaxPixels int64
	// MaxSide caps width and height each. Default DefaultMaxSide.
	MaxSide int
}

func (o Options) withDefaults() Options {
	if o.MaxPixels <= 0 {
		o.MaxPixels = DefaultMaxPixels
	}
	if o.MaxSide <= 0 {
		o.MaxSide = DefaultMaxSide
	}
	return o
}

// maxFramePixelsFactor: the frames of an animation may add up to this many
// times MaxPixels, so that a small file cannot make a viewer decode
// gigapixels frame after frame.
const maxFramePixelsFactor = 10

// frameBudget adds up the pixels of an animation's frames.
type frameBudget struct {
	opt    Options
	pixels int64
}

// add checks one frame of w×h against the caps and the running total.
func (f *frameBudget) add(w, h int) error {
	if err := f.opt.checkDims(w, h); err != nil {
		return err
	}
	f.pixels += int64(w) * int64(h)
	if limit := maxFramePixelsFactor * f.opt.MaxPixels; f.pixels > limit {
		return refuse(TooLarge, "the animation's frames add up to over %d pixels", limit)
	}
	return nil
}

func (o Options) checkDims(w, h int) error {
	switch {
	case w <= 0 || h <= 0:
		return refuse(Corrupt, "the image has no pixels (%dx%d)", w, h)
	case w > o.MaxSide || h > o.MaxSide:
		return refuse(TooLarge, "the image is %dx%d; each side may be at most %d pixels", w, h, o.MaxSide)
	case int64(w)*int64(h) > o.MaxPixels:
		return refuse(TooLarge, "the image is %dx%d, over the limit of %d pixels", w, h, o.MaxPixels)
	}
	return nil
}

// The formats this package understands, as the API declares them. The
// format walkers (png.go, …) name theirs through these.
var (
	formatJPEG = api.JPEG
	formatPNG  = api.PNG
	formatGIF  = api.GIF
	formatWebP = api.WebP
)

// format is one entry of formats.
type format struct {
	api.Format
	// inspect walks the whole image (see Inspect).
	inspect func(*scanner, *builder, Options) (w, h int, err error)
	// headDims reads the dimensions from the first bytes, where the format
	// keeps them there; nil for JPEG, whose frame header may come late.
	headDims func(head []byte) (w, h int, ok bool)
}

// formats is the one table of the formats this package understands.
var formats = []format{
	{formatJPEG, inspectJPEG, nil},
	{formatPNG, inspectPNG, pngHeadDims},
	{formatGIF, inspectGIF, gifHeadDims},
	{formatWebP, inspectWebP, webpHeadDims},
}

// formatOf returns the entry of formats of a content type.
func formatOf(contentType string) (format, bool) {
	for _, f := range formats {
		if f.MIME == contentType {
			return f, true
		}
	}
	return format{}, false
}

// Plan is the safe copy of an inspected image.
type Plan struct {
	// Width and Height are the pixels' size, before any orientation.
	Width, Height int
	// Orientation is the copy's EXIF orientation (1 to 8; 1 without one),
	// read when stripping (Options.Strip); 0 when metadata is kept as it
	// is, which is not read for it.
	Orientation int
	pieces      []piece
	inputSize   int64
}

// piece is a literal or a range of the input.
type piece struct {
	lit    []byte
	off, n int64
}

// Upright returns the size the copy is shown at: Width and Height swapped
// when its orientation turns it a quarter (5 to 8).
func (p *Plan) Upright() (w, h int) {
	if p.Orientation >= 5 {
		return p.Height, p.Width
	}
	return p.Width, p.Height
}

// Size is the size of the planned output.
func (p *Plan) Size() int64 {
	var n int64
	for _, pc := range p.pieces {
		if pc.lit != nil {
			n += int64(len(pc.lit))
		} else {
			n += pc.n
		}
	}
	return n
}

// Unchanged reports whether the output equals the whole input.
func (p *Plan) Unchanged() bool {
	return len(p.pieces) == 1 && p.pieces[0].lit == nil && p.pieces[0].off == 0 && p.pieces[0].n == p.inputSize
}

// Reader returns the planned output, read from src, the input Inspect read.
func (p *Plan) Reader(src io.ReadSeeker) io.Reader {
	return &planReader{src: src, pieces: p.pieces}
}

type planReader struct {
	src    io.ReadSeeker
	pieces []piece
	cur    io.Reader
}

func (r *planReader) Read(b []byte) (int, error) {
	for {
		if r.cur != nil {
			n, err := r.cur.Read(b)
			if err == io.EOF {
				r.cur, err = nil, nil
				if n == 0 {
					continue
				}
			}
			return n, err
		}
		if len(r.pieces) == 0 {
			return 0, io.EOF
		}
		pc := r.pieces[0]
		r.pieces = r.pieces[1:]
		if pc.lit != nil {
			r.cur = bytes.NewReader(pc.lit)
			continue
		}
		if _, err := r.src.Seek(pc.off, io.SeekStart); err != nil {
			return 0, err
		}
		r.cur = &exact{r: io.LimitReader(r.src, pc.n), n: pc.n}
	}
}

// ExactReader reads the n bytes r holds and fails with io.ErrUnexpectedEOF
// if it ends before them: a store that says an object has n bytes and ends
// early has failed, and Inspect reports that as a *ReadError, not as a
// truncated image.
func ExactReader(r io.Reader, n int64) io.Reader {
	return &exact{r: io.LimitReader(r, n), n: n}
}

// exact fails if its reader ends early: the input changed under the plan,
// or its store failed.
type exact struct {
	r io.Reader
	n int64
}

func (e *exact) Read(b []byte) (int, error) {
	n, err := e.r.Read(b)
	e.n -= int64(n)
	if err == io.EOF && e.n > 0 {
		return n, io.ErrUnexpectedEOF
	}
	return n, err
}

// builder collects a plan's pieces, merging adjacent ranges, and the
// EXIF orientation the copy keeps.
type builder struct {
	pieces      []piece
	orientation int // the first kept, 0 for none
}

// orient records o, the orientation of an EXIF structure the copy keeps,
// unless an earlier one was: viewers follow the first.
func (b *builder) orient(o int) {
	if b.orientation == 0 {
		b.orientation = o
	}
}

func (b *builder) keep(off, n int64) {
	if n == 0 {
		return
	}
	if k := len(b.pieces); k > 0 && b.pieces[k-1].lit == nil && b.pieces[k-1].off+b.pieces[k-1].n == off {
		b.pieces[k-1].n += n
		return
	}
	b.pieces = append(b.pieces, piece{off: off, n: n})
}

func (b *builder) literal(lit []byte) {
	if len(lit) > 0 {
		b.pieces = append(b.pieces, piece{lit: lit})
	}
}

// Inspect reads r, an image declared as contentType, to the end of the
// image, and returns the plan of its safe copy or a *Refusal. Errors of r
// other than EOF are returned as they are.
func Inspect(r io.Reader, contentType string, opt Options) (*Plan, error) {
	opt = opt.withDefaults()
	src := &sourceReader{r: r}
	s := &scanner{br: bufio.NewReaderSize(src, 32<<10)}
	var b builder
	f, ok := formatOf(contentType)
	if !ok {
		return nil, refuse(NotFormat, "%s is not a supported image type", contentType)
	}
	w, h, err := f.inspect(s, &b, opt)
	if src.failed != nil {
		// Whatever was concluded from bytes cut short by a failing reader
		// (such as "not this format" from a short peek) is not the image's
		// fault.
		return nil, src.failed
	}
	if err != nil {
		return nil, err
	}
	// Count the input to its end, so Unchanged knows of trailing bytes.
	rest, err := io.Copy(io.Discard, s.br)
	if err != nil {
		return nil, err
	}
	o := b.orientation
	if o == 0 && opt.Strip {
		o = 1
	}
	return &Plan{Width: w, Height: h, Orientation: o, pieces: b.pieces, inputSize: s.off + rest}, nil
}

// Sniff checks the first bytes of an upload before the rest arrives: the
// declared format's magic, and the dimensions where the header holds them
// (PNG, GIF, WebP). It returns a *Refusal or nil; a head too short to tell
// is not refused.
func Sniff(head []byte, contentType string, opt Options) error {
	opt = opt.withDefaults()
	f, ok := formatOf(contentType)
	if !ok || f.Match(head) == api.MatchNo {
		return notFormat(contentType)
	}
	if f.headDims == nil {
		return nil
	}
	w, h, ok := f.headDims(head)
	if !ok {
		return nil
	}
	return opt.checkDims(w, h)
}

func notFormat(contentType string) *Refusal {
	return refuse(NotFormat, "the bytes are not %s", contentType)
}

// hasMagic reports whether head starts with magic, or is a prefix of it
// (too short to tell yet).
func hasMagic(head []byte, magic string) bool {
	n := min(len(head), len(magic))
	return string(head[:n]) == magic[:n]
}

// scanner reads the input, counting offsets and mapping EOF to Truncated.
type scanner struct {
	br  *bufio.Reader
	off int64
	buf []byte // reused by copy
}

// truncated maps the end of the input to a Truncated refusal; a reader's
// failure stays a *ReadError.
func truncated(err error) error {
	var re *ReadError
	if errors.As(err, &re) {
		return err
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return refuse(Truncated, "the image ends early: the file is truncated")
	}
	return err
}

// streamError maps an error of a decompressor reading image data (zlib,
// LZW): the walk's own errors, a refusal or the reader's failure, stay as
// they are; the decompressor's mean the data is corrupt.
func streamError(err error, what string) error {
	var r *Refusal
	var re *ReadError
	switch {
	case err == nil, errors.As(err, &r), errors.As(err, &re):
		return err
	case errors.Is(err, io.ErrUnexpectedEOF):
		return refuse(Corrupt, "the %s ends before its compressed stream does", what)
	}
	return refuse(Corrupt, "the %s is not a valid compressed stream (%v)", what, err)
}

// maxRead bounds what one header or metadata block may take in memory;
// every format's blocks read whole are far smaller.
const maxRead = 1 << 17

func (s *scanner) read(n int) ([]byte, error) {
	if n < 0 || n > maxRead {
		return nil, refuse(Corrupt, "the image has a block of %d bytes where a small header belongs", n)
	}
	b := make([]byte, n)
	return b, s.readInto(b)
}

// readInto fills b from the input.
func (s *scanner) readInto(b []byte) error {
	k, err := io.ReadFull(s.br, b)
	s.off += int64(k)
	return truncated(err)
}

func (s *scanner) byte() (byte, error) {
	c, err := s.br.ReadByte()
	if err != nil {
		return 0, truncated(err)
	}
	s.off++
	return c, nil
}

// copy passes the next n bytes to w (io.Discard to skip them).
func (s *scanner) copy(w io.Writer, n int64) error {
	if s.buf == nil {
		s.buf = make([]byte, 32<<10)
	}
	k, err := io.CopyBuffer(w, io.LimitReader(s.br, n), s.buf)
	if err == nil && k < n {
		err = io.ErrUnexpectedEOF
	}
	s.off += k
	if err != nil {
		return truncated(err)
	}
	return nil
}

// peek returns up to n next bytes without consuming them.
func (s *scanner) peek(n int) []byte {
	b, _ := s.br.Peek(n)
	return b
}
