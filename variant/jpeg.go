package variant

import (
	"bytes"
	"encoding/binary"

	"userimages/imagesafe"
)

// jpegHeader returns the EXIF orientation (1 when none) of a JPEG and
// whether it is progressive, from its markers before the first scan.
func jpegHeader(b []byte) (orientation int, progressive bool) {
	orientation = 1
	if len(b) < 2 || b[0] != 0xFF || b[1] != 0xD8 {
		return orientation, false
	}
	for i := 2; i+4 <= len(b); {
		if b[i] != 0xFF {
			return orientation, progressive
		}
		m := b[i+1]
		if m == 0xFF { // fill byte
			i++
			continue
		}
		if m == 0xD8 || m >= 0xD0 && m <= 0xD7 || m == 0x01 {
			i += 2
			continue
		}
		n := int(binary.BigEndian.Uint16(b[i+2:]))
		if n < 2 || i+2+n > len(b) {
			return orientation, progressive
		}
		seg := b[i+4 : i+2+n]
		switch {
		case m == 0xE1 && bytes.HasPrefix(seg, []byte("Exif\x00\x00")):
			if o := imagesafe.ExifOrientation(seg[6:]); o >= 1 {
				orientation = o
			}
		case m == 0xC2 || m == 0xC6 || m == 0xCA || m == 0xCE:
			progressive = true
		case m == 0xDA || m == 0xD9: // start of scan: the header is over
			return orientation, progressive
		}
		i += 2 + n
	}
	return orientation, progressive
}

// pngOrientation returns the EXIF orientation of a PNG's eXIf chunk, 1
// when it has none.
func pngOrientation(b []byte) int {
	const sig = 8
	for i := sig; i+12 <= len(b); {
		n := int(binary.BigEndian.Uint32(b[i:]))
		if n < 0 || i+12+n > len(b) {
			break
		}
		if string(b[i+4:i+8]) == "eXIf" {
			if o := imagesafe.ExifOrientation(b[i+8 : i+8+n]); o >= 1 {
				return o
			}
		}
		i += 12 + n
	}
	return 1
}

// webpOrientation returns the EXIF orientation of a WebP's EXIF chunk, 1
// when it has none.
func webpOrientation(b []byte) int {
	for i := 12; i+8 <= len(b); {
		n := int(binary.LittleEndian.Uint32(b[i+4:]))
		if n < 0 || i+8+n > len(b) {
			break
		}
		if string(b[i:i+4]) == "EXIF" {
			tiff := bytes.TrimPrefix(b[i+8:i+8+n], []byte("Exif\x00\x00"))
			if o := imagesafe.ExifOrientation(tiff); o >= 1 {
				return o
			}
		}
		i += 8 + n + n&1
	}
	return 1
}
