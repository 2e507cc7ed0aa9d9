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

func inspectGIF(s *scanner, b *builder, opt Options) (w, h int, err error) {
	if m := string(s.peek(6)); m != gif87 && m != gif89 {
		return 0, 0, notFormat(formatGIF.MIME)
	}
	head, err := s.read(13)
	if err != nil {
		return 0, 0, err
	}
	w, h, _ = gifHeadDims(head)
	if err := opt.checkDims(w, h); err != nil {
		return 0, 0, err
	}
	globalColours := 0
	if head[10]&0x80 != 0 {
		globalColours = 2 << (head[10] & 7)
		if err := s.copy(io.Discard, int64(3*globalColours)); err != nil {
			return 0, 0, err
		}
	}
	b.keep(0, s.off)
	frames := 0
	budget := frameBudget{opt: opt}
	transparent := -1 // the transparent index of the graphic control before an image
	var pixels []byte // reused by each image's LZW data
	for {
		start := s.off
		intro, err := s.byte()
		if err != nil {
			return 0, 0, err
		}
		switch intro {
		case 0x3B: // trailer
			if frames == 0 {
				return 0, 0, refuse(Corrupt, "the GIF has no image")
			}
			b.keep(start, 1)
			return w, h, nil
		case 0x2C: // image descriptor
			desc, err := s.read(9)
			if err != nil {
				return 0, 0, err
			}
			x, y := int(binary.LittleEndian.Uint16(desc)), int(binary.LittleEndian.Uint16(desc[2:]))
			fw, fh := int(binary.LittleEndian.Uint16(desc[4:])), int(binary.LittleEndian.Uint16(desc[6:]))
			if err := budget.add(max(fw, 1), max(fh, 1)); err != nil {
				return 0, 0, err
			}
			if x+fw > w || y+fh > h {
				return 0, 0, refuse(Corrupt, "the GIF image %dx%d at (%d, %d) is outside the %dx%d logical screen", fw, fh, x, y, w, h)
			}
			colours := globalColours
			if desc[8]&0x80 != 0 {
				colours = 2 << (desc[8] & 7)
				if err := s.copy(io.Discard, int64(3*colours)); err != nil {
					return 0, 0, err
				}
			}
			if colours == 0 {
				return 0, 0, refuse(Corrupt, "the GIF image at offset %d has no colour table", start)
			}
			// Go's decoder, like browsers, widens the palette to a
			// transparent index past its end.
			colours = max(colours, transparent+1)
			transparent = -1
			litWidth, err := s.byte()
			if err != nil {
				return 0, 0, err
			}
			if litWidth < 2 || litWidth > 8 {
				return 0, 0, refuse(Corrupt, "the GIF has an invalid LZW code size %d at offset %d", litWidth, start)
			}
			if pixels == nil {
				pixels = make([]byte, 4096)
			}
			if err := s.gifImageData(int(litWidth), int64(fw)*int64(fh), colours, pixels); err != nil {
				return 0, 0, err
			}
			frames++
			b.keep(start, s.off-start)
		case 0x21: // extension
			label, err := s.byte()
			if err != nil {
				return 0, 0, err
			}
			var app []byte
			switch label {
			case 0xF9: // graphic control: one 4-byte block, as Go's decoder requires
				gce, err := s.read(6)
				if err != nil {
					return 0, 0, err
				}
				if gce[0] != 4 || gce[5] != 0 {
					return 0, 0, refuse(Corrupt, "the GIF graphic control extension at offset %d is malformed", start)
				}
				if gce[1]&1 != 0 {
					transparent = int(gce[4])
				}
				b.keep(start, s.off-start)
				continue
			case 0xFF: // application
				app = s.peek(12)
			case 0x01: // plain text: its header is one 12-byte block
				if hd := s.peek(1); len(hd) == 1 && hd[0] != 12 {
					return 0, 0, refuse(Corrupt, "the GIF plain text extension at offset %d is malformed", start)
				}
			case 0xFE: // comment
			default:
				return 0, 0, refuse(Corrupt, "the GIF has the unknown extension 0x%02X at offset %d", label, start)
			}
			// Scan the data as a reader of the extension sees it and the raw
			// bytes as a sniffing browser would: length bytes can split a
			// pattern in one view and complete it in the other.
			var data, raw activeScanner
			if err := s.subBlocks(&data, &raw); err != nil {
				return 0, 0, err
			}
			kept := label == 0xFF && len(app) == 12 && app[0] == 11 && gifKeptApps[string(app[1:])]
			if !opt.Strip || kept {
				for _, a := range []*activeScanner{&data, &raw} {
					if err := a.err("GIF extension"); err != nil {
						return 0, 0, err
					}
				}
				b.keep(start, s.off-start)
			}
		default:
			return 0, 0, refuse(Corrupt, "the GIF has an invalid block 0x%02X at offset %d", intro, start)
		}
	}
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
