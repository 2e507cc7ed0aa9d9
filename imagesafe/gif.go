package imagesafe

import (
	"compress/lzw"
	"encoding/binary"
	"io"
)

const (
	gif87 = "GIF87a"
	gif89 = "GIF89a"
)

func gifHeadDims(head []byte) (w, h int, ok bool) {
	if len(head) < 10 {
		return 0, 0, false
	}
	return int(binary.LittleEndian.Uint16(head[6:])), int(binary.LittleEndian.Uint16(head[8:])), true
}

// gifKeptApps are the application extensions kept when stripping: the
// animation loop count.
var gifKeptApps = map[string]bool{"NETSCAPE2.0": true, "ANIMEXTS1.0": true}

// gifWalk is the state of a walk through a GIF's blocks.
type gifWalk struct {
	s             *scanner
	b             *builder
	opt           Options
	w, h          int // the logical screen's
	globalColours int
	frames        int
	budget        frameBudget
	transparent   int    // the transparent index of the graphic control before an image, or -1
	pixels        []byte // reused by each image's LZW data
	ended         bool   // the trailer read
}

// gifBlockKinds are what reads each kind of block, by its introducer.
var gifBlockKinds = map[byte]func(g *gifWalk, start int64) error{
	0x3B: (*gifWalk).trailer,
	0x2C: (*gifWalk).image,
	0x21: (*gifWalk).extension,
}

// gifExtensions are what reads each kind of extension, by its label.
var gifExtensions = map[byte]func(g *gifWalk, start int64) error{
	0xF9: (*gifWalk).graphicControl,
	0xFF: (*gifWalk).application,
	0x01: (*gifWalk).plainText,
	0xFE: (*gifWalk).comment,
}

func inspectGIF(s *scanner, b *builder, opt Options) (w, h int, err error) {
	if m := string(s.peek(6)); m != gif87 && m != gif89 {
		return 0, 0, notFormat(formatGIF.MIME)
	}
	g := &gifWalk{s: s, b: b, opt: opt, budget: frameBudget{opt: opt}, transparent: -1}
	if err := g.screen(); err != nil {
		return 0, 0, err
	}
	for !g.ended {
		start := s.off
		intro, err := s.byte()
		if err != nil {
			return 0, 0, err
		}
		read, ok := gifBlockKinds[intro]
		if !ok {
			return 0, 0, refuse(Corrupt, "the GIF has an invalid block 0x%02X at offset %d", intro, start)
		}
		if err := read(g, start); err != nil {
			return 0, 0, err
		}
	}
	return g.w, g.h, nil
}

// screen reads the header, the logical screen descriptor and the global
// colour table.
func (g *gifWalk) screen() error {
	head, err := g.s.read(13)
	if err != nil {
		return err
	}
	g.w, g.h, _ = gifHeadDims(head)
	if err := g.opt.checkDims(g.w, g.h); err != nil {
		return err
	}
	if head[10]&0x80 != 0 {
		g.globalColours = 2 << (head[10] & 7)
		if err := g.s.copy(io.Discard, int64(3*g.globalColours)); err != nil {
			return err
		}
	}
	g.b.keep(0, g.s.off)
	return nil
}

// trailer ends the GIF.
func (g *gifWalk) trailer(start int64) error {
	if g.frames == 0 {
		return refuse(Corrupt, "the GIF has no image")
	}
	g.b.keep(start, 1)
	g.ended = true
	return nil
}

// image reads an image: its descriptor, within the logical screen and the
// caps, its colour table, and its LZW data.
func (g *gifWalk) image(start int64) error {
	desc, err := g.s.read(9)
	if err != nil {
		return err
	}
	x, y := int(binary.LittleEndian.Uint16(desc)), int(binary.LittleEndian.Uint16(desc[2:]))
	fw, fh := int(binary.LittleEndian.Uint16(desc[4:])), int(binary.LittleEndian.Uint16(desc[6:]))
	if err := g.budget.add(max(fw, 1), max(fh, 1)); err != nil {
		return err
	}
	if x+fw > g.w || y+fh > g.h {
		return refuse(Corrupt, "the GIF image %dx%d at (%d, %d) is outside the %dx%d logical screen", fw, fh, x, y, g.w, g.h)
	}
	colours, err := g.colourTable(desc[8], start)
	if err != nil {
		return err
	}
	litWidth, err := g.s.byte()
	if err != nil {
		return err
	}
	if litWidth < 2 || litWidth > 8 {
		return refuse(Corrupt, "the GIF has an invalid LZW code size %d at offset %d", litWidth, start)
	}
	if g.pixels == nil {
		g.pixels = make([]byte, 4096)
	}
	if err := g.s.gifImageData(int(litWidth), int64(fw)*int64(fh), colours, g.pixels); err != nil {
		return err
	}
	g.frames++
	g.b.keep(start, g.s.off-start)
	return nil
}

// colourTable reads the local colour table that the image descriptor's
// flags announce, and returns the size of the image's palette, local or
// global.
func (g *gifWalk) colourTable(flags byte, start int64) (int, error) {
	colours := g.globalColours
	if flags&0x80 != 0 {
		colours = 2 << (flags & 7)
		if err := g.s.copy(io.Discard, int64(3*colours)); err != nil {
			return 0, err
		}
	}
	if colours == 0 {
		return 0, refuse(Corrupt, "the GIF image at offset %d has no colour table", start)
	}
	// Go's decoder, like browsers, widens the palette to a transparent
	// index past its end.
	colours = max(colours, g.transparent+1)
	g.transparent = -1
	return colours, nil
}

// extension reads an extension, by its label.
func (g *gifWalk) extension(start int64) error {
	label, err := g.s.byte()
	if err != nil {
		return err
	}
	read, ok := gifExtensions[label]
	if !ok {
		return refuse(Corrupt, "the GIF has the unknown extension 0x%02X at offset %d", label, start)
	}
	return read(g, start)
}

// graphicControl reads a graphic control extension: one 4-byte block, as
// Go's decoder requires.
func (g *gifWalk) graphicControl(start int64) error {
	gce, err := g.s.read(6)
	if err != nil {
		return err
	}
	if gce[0] != 4 || gce[5] != 0 {
		return refuse(Corrupt, "the GIF graphic control extension at offset %d is malformed", start)
	}
	if gce[1]&1 != 0 {
		g.transparent = int(gce[4])
	}
	g.b.keep(start, g.s.off-start)
	return nil
}

// application reads an application extension: kept when stripping if it
// is the animation's loop count (gifKeptApps). Its name is looked at
// before the sub-blocks are read: a peek holds only until the next read.
func (g *gifWalk) application(start int64) error {
	app := g.s.peek(12)
	loop := len(app) == 12 && app[0] == 11 && gifKeptApps[string(app[1:])]
	return g.data(start, loop)
}

// plainText reads a plain text extension, whose header is one 12-byte
// block.
func (g *gifWalk) plainText(start int64) error {
	if hd := g.s.peek(1); len(hd) == 1 && hd[0] != 12 {
		return refuse(Corrupt, "the GIF plain text extension at offset %d is malformed", start)
	}
	return g.data(start, false)
}

// comment reads a comment extension.
func (g *gifWalk) comment(start int64) error { return g.data(start, false) }

// data reads the sub-blocks of an extension, metadata: kept, when free of
// active content, unless stripping drops it (it is not kept even then).
func (g *gifWalk) data(start int64, kept bool) error {
	// Scan the data as a reader of the extension sees it and the raw bytes
	// as a sniffing browser would: length bytes can split a pattern in one
	// view and complete it in the other.
	var data, raw activeScanner
	if err := g.s.subBlocks(&data, &raw); err != nil {
		return err
	}
	if g.opt.Strip && !kept {
		return nil
	}
	for _, a := range []*activeScanner{&data, &raw} {
		if err := a.err("GIF extension"); err != nil {
			return err
		}
	}
	g.b.keep(start, g.s.off-start)
	return nil
}

// subBlocks passes a GIF data sub-block sequence's data to data, and its
// raw bytes, length bytes included, to raw.
func (s *scanner) subBlocks(data, raw io.Writer) error {
	for {
		n, err := s.byte()
		if err != nil || n == 0 {
			return err
		}
		raw.Write([]byte{n})
		if err := s.copy(io.MultiWriter(data, raw), int64(n)); err != nil {
			return err
		}
	}
}

// gifImageData checks an image's LZW data, the sub-blocks after its code
// size, as Go's decoder reads it: exactly the image's pixels, each in its
// palette of colours entries, then the end of the stream, with at most a
// spare byte before the block terminator. The pixels are checked and
// dropped as they stream, through buf.
func (s *scanner) gifImageData(litWidth int, pixels int64, colours int, buf []byte) error {
	blocks := &gifBlocks{s: s}
	lr := lzw.NewReader(blocks, lzw.LSB, litWidth)
	defer lr.Close()
	for pixels > 0 {
		n, err := lr.Read(buf[:min(int64(len(buf)), pixels)])
		if colours < 256 {
			for _, p := range buf[:n] {
				if int(p) >= colours {
					return refuse(Corrupt, "the GIF image data has the colour index %d, past its palette of %d", p, colours)
				}
			}
		}
		pixels -= int64(n)
		if err != nil && pixels > 0 {
			return streamError(err, "GIF image data")
		}
	}
	// The stream ends here, with or without its end code (giflib, and Go,
	// allow a stream cut at the block terminator).
	if n, err := lr.Read(buf[:1]); n != 0 || err != io.EOF && err != io.ErrUnexpectedEOF {
		if err = streamError(err, "GIF image data"); err == nil {
			err = refuse(Corrupt, "the GIF image data holds more pixels than its image")
		}
		return err
	}
	return blocks.finish()
}

// gifBlocks reads a GIF data sub-block sequence as one stream, to io.EOF at
// its terminator.
type gifBlocks struct {
	s    *scanner
	buf  [255]byte
	i, j int // the current sub-block's unread bytes
	end  bool
}

func (b *gifBlocks) fill() error {
	if b.end {
		return io.EOF
	}
	n, err := b.s.byte()
	if err != nil {
		return err
	}
	if n == 0 {
		b.end = true
		return io.EOF
	}
	b.i, b.j = 0, int(n)
	return b.s.readInto(b.buf[:n])
}

// ReadByte is what the LZW reader reads with, so that it takes no byte
// past its stream.
func (b *gifBlocks) ReadByte() (byte, error) {
	if b.i == b.j {
		if err := b.fill(); err != nil {
			return 0, err
		}
	}
	b.i++
	return b.buf[b.i-1], nil
}

func (b *gifBlocks) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	c, err := b.ReadByte()
	if err != nil {
		return 0, err
	}
	p[0] = c
	return 1, nil
}

// finish reads to the terminator once the LZW stream has ended: Go's
// decoder allows the rest of the current sub-block, or else one spare
// byte, and nothing more.
func (b *gifBlocks) finish() error {
	spareAllowed := b.i == b.j
	err := b.fill()
	if err == nil && spareAllowed && b.j == 1 {
		err = b.fill()
	}
	switch err {
	case io.EOF:
		return nil
	case nil:
		return refuse(Corrupt, "the GIF image data goes on after its LZW stream ends")
	}
	return err
}
