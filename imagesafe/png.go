package imagesafe

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"io"
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

func inspectPNG(s *scanner, b *builder, opt Options) (w, h int, err error) {
	sig, err := s.read(len(pngMagic))
	if err != nil || string(sig) != pngMagic {
		return 0, 0, notFormat(formatPNG.MIME)
	}
	b.keep(0, int64(len(pngMagic)))
	sawData := false
	budget := frameBudget{opt: opt}
	for first := true; ; first = false {
		start := s.off
		hdr, err := s.read(8)
		if err != nil {
			return 0, 0, err
		}
		n := int64(binary.BigEndian.Uint32(hdr))
		typ := string(hdr[4:])
		if n > 1<<31-1 || !isChunkType(typ) {
			return 0, 0, refuse(Corrupt, "the PNG has an invalid chunk at offset %d", start)
		}
		if first != (typ == "IHDR") {
			return 0, 0, refuse(Corrupt, "the PNG must start with one IHDR chunk")
		}
		if typ == "IHDR" && n != 13 {
			return 0, 0, refuse(Corrupt, "the PNG header has the wrong length")
		}
		critical := typ[0] >= 'A' && typ[0] <= 'Z'
		if critical && !pngCritical[typ] {
			return 0, 0, refuse(Corrupt, "the PNG has an unknown critical chunk %q", typ)
		}
		crc := crc32.NewIEEE()
		crc.Write(hdr[4:])
		var data []byte // read into memory: IHDR, and eXIf up to maxEXIFRead
		var active activeScanner
		switch {
		case typ == "IHDR" || typ == "fcTL" && n == 26 || typ == "eXIf" && n <= maxEXIFRead:
			if data, err = s.read(int(n)); err != nil {
				return 0, 0, err
			}
			crc.Write(data)
			active.Write(data)
		default:
			// Only metadata that may be kept is scanned: pixel data is most
			// of the file, and the scan costs a copy.
			var w io.Writer = crc
			if !opt.Strip && pngMetadata[typ] {
				w = io.MultiWriter(crc, &active)
			}
			if err := s.copy(w, n); err != nil {
				return 0, 0, err
			}
		}
		sum, err := s.read(4)
		if err != nil {
			return 0, 0, err
		}
		if binary.BigEndian.Uint32(sum) != crc.Sum32() {
			return 0, 0, refuse(Corrupt, "the PNG chunk %q at offset %d fails its checksum", typ, start)
		}
		end := s.off
		switch {
		case typ == "IHDR":
			if len(data) != 13 {
				return 0, 0, refuse(Corrupt, "the PNG header has the wrong length")
			}
			w, h = int(binary.BigEndian.Uint32(data)), int(binary.BigEndian.Uint32(data[4:]))
			if err := opt.checkDims(w, h); err != nil {
				return 0, 0, err
			}
		case typ == "fcTL": // an APNG frame
			if err := budget.add(int(binary.BigEndian.Uint32(data[4:])), int(binary.BigEndian.Uint32(data[8:]))); err != nil {
				return 0, 0, err
			}
		case typ == "IDAT":
			sawData = true
		case typ == "IEND":
			if !sawData {
				return 0, 0, refuse(Corrupt, "the PNG has no image data")
			}
			b.keep(start, end-start)
			return w, h, nil
		}
		switch {
		case critical || pngKept[typ] && opt.Strip:
			b.keep(start, end-start)
		case opt.Strip && typ == "eXIf":
			if o := exifOrientation(data); o > 1 {
				if minimal := orientationTIFF(o); bytes.Equal(data, minimal) {
					b.keep(start, end-start) // stripped already
				} else {
					b.literal(pngChunk("eXIf", minimal))
				}
			}
		case !opt.Strip && pngMetadata[typ]:
			if err := active.err("PNG " + typ + " chunk"); err != nil {
				return 0, 0, err
			}
			b.keep(start, end-start)
		case !opt.Strip && pngKept[typ]:
			b.keep(start, end-start)
			// Unknown and private chunks go, even when metadata is kept:
			// nothing reads them, and they could carry anything.
		}
	}
}

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
