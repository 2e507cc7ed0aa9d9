package imagesafe

import (
	"bytes"
	"encoding/binary"
)

// activePatterns are byte strings that make content executable or
// dangerous when a browser or other program sniffs it, lower-cased.
var activePatterns = [][]byte{
	[]byte("<script"), []byte("<html"), []byte("<body"), []byte("<iframe"), []byte("<svg"),
	[]byte("<object"), []byte("<embed"), []byte("<!doctype"), []byte("javascript:"),
	[]byte("%pdf-"), []byte("pk\x03\x04"),
}

const maxPatternLen = 11

// activeScanner is a writer that remembers whether any active pattern
// appeared in what was written, across write boundaries.
type activeScanner struct {
	tail  []byte
	found []byte
}

func (a *activeScanner) Write(p []byte) (int, error) {
	if a.found != nil {
		return len(p), nil
	}
	buf := bytes.ToLower(append(a.tail, p...))
	for _, pat := range activePatterns {
		if bytes.Contains(buf, pat) {
			a.found = pat
			return len(p), nil
		}
	}
	keep := min(len(buf), maxPatternLen-1)
	a.tail = append(a.tail[:0], buf[len(buf)-keep:]...)
	return len(p), nil
}

func (a *activeScanner) err(where string) error {
	if a.found == nil {
		return nil
	}
	return refuse(ActiveContent, "the %s holds %q: markup, script, PDF or archive content is not allowed in images", where, a.found)
}

// exifOrientation returns the Orientation (tag 0x0112) of IFD0 in a TIFF
// structure (the body of an EXIF block), or 0 if there is none or the
// structure is malformed.
func exifOrientation(tiff []byte) int {
	if len(tiff) < 8 {
		return 0
	}
	var bo binary.ByteOrder
	switch string(tiff[:4]) {
	case "II*\x00":
		bo = binary.LittleEndian
	case "MM\x00*":
		bo = binary.BigEndian
	default:
		return 0
	}
	ifd := int64(bo.Uint32(tiff[4:8]))
	if ifd < 8 || ifd+2 > int64(len(tiff)) {
		return 0
	}
	n := int64(bo.Uint16(tiff[ifd:]))
	for i := range n {
		e := ifd + 2 + 12*i
		if e+12 > int64(len(tiff)) {
			return 0
		}
		if bo.Uint16(tiff[e:]) == 0x0112 && bo.Uint16(tiff[e+2:]) == 3 { // SHORT
			if o := int(bo.Uint16(tiff[e+8:])); o >= 1 && o <= 8 {
				return o
			}
			return 0
		}
	}
	return 0
}

// orientationTIFF is a minimal TIFF structure holding only an Orientation.
func orientationTIFF(o int) []byte {
	b := []byte("MM\x00*\x00\x00\x00\x08") // big-endian, IFD0 at 8
	b = binary.BigEndian.AppendUint16(b, 1)
	b = binary.BigEndian.AppendUint16(b, 0x0112)
	b = binary.BigEndian.AppendUint16(b, 3) // SHORT
	b = binary.BigEndian.AppendUint32(b, 1)
	b = binary.BigEndian.AppendUint16(b, uint16(o))
	b = append(b, 0, 0)                        // value padding
	return binary.BigEndian.AppendUint32(b, 0) // no next IFD
}

// ExifOrientation returns the Orientation (1 to 8) of the TIFF structure
// of an EXIF block (after its "Exif\0\0" header), or 0 if it has none.
func ExifOrientation(tiff []byte) int { return exifOrientation(tiff) }
