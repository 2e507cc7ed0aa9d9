package imagesafe

import (
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
	if head[10]&0x80 != 0 {
		if err := s.copy(io.Discard, 3<<(head[10]&7+1)); err != nil {
			return 0, 0, err
		}
	}
	b.keep(0, s.off)
	frames := 0
	budget := frameBudget{opt: opt}
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
			fw, fh := int(binary.LittleEndian.Uint16(desc[4:])), int(binary.LittleEndian.Uint16(desc[6:]))
			if err := budget.add(max(fw, 1), max(fh, 1)); err != nil {
				return 0, 0, err
			}
			if desc[8]&0x80 != 0 {
				if err := s.copy(io.Discard, 3<<(desc[8]&7+1)); err != nil {
					return 0, 0, err
				}
			}
			if lzw, err := s.byte(); err != nil {
				return 0, 0, err
			} else if lzw < 1 || lzw > 11 {
				return 0, 0, refuse(Corrupt, "the GIF has an invalid code size at offset %d", start)
			}
			if err := s.subBlocks(io.Discard, io.Discard); err != nil {
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
			if label == 0xFF {
				app = s.peek(12)
			}
			// Scan the data as a reader of the extension sees it and the raw
			// bytes as a sniffing browser would: length bytes can split a
			// pattern in one view and complete it in the other.
			var data, raw activeScanner
			if err := s.subBlocks(&data, &raw); err != nil {
				return 0, 0, err
			}
			kept := label == 0xF9 || label == 0xFF && len(app) == 12 && app[0] == 11 && gifKeptApps[string(app[1:])]
			if !opt.Strip || kept {
				if label != 0xF9 {
					for _, a := range []*activeScanner{&data, &raw} {
						if err := a.err("GIF extension"); err != nil {
							return 0, 0, err
						}
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
