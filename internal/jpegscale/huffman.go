// Copyright 2009 The Go Authors. All rights reserved.
// Use of this source code is governed by a BSD-style
// license that can be found in the LICENSE file.

package jpegscale

import (
	"io"
)

// maxCodeLength is the maximum (inclusive) number of bits in a Huffman code.
const maxCodeLength = 16

// maxNCodes is the maximum (inclusive) number of codes in a Huffman tree.
const maxNCodes = 256

// lutSize is the log-2 size of the Huffman decoder's look-up table
// (changed from image/jpeg's 8: most AC codes of photos are 9 or 10 bits
// long, so more of them are found in one look-up).
const lutSize = 10

// lutMask masks the lutSize bits a look-up is made with.
const lutMask = 1<<lutSize - 1

// huffman is a Huffman decoder, specified in section C.
type huffman struct {
	// length is the number of codes in the tree.
	nCodes int32
	// lut is the look-up table for the next lutSize bits in the bit-stream.
	// The high 8 bits of the uint16 are the encoded value. The low 8 bits
	// are 1 plus the code length, or 0 if the code is longer than lutSize
	// bits.
	lut [1 << lutSize]uint16
	// fastAC is, for an AC table (changed from image/jpeg), the look-up
	// table of a symbol and its extra bits at once: for the next lutSize
	// bits, when they hold a whole code of a non-zero coefficient and its
	// extra bits, the coefficient<<16 | its run of zeroes<<8 | the bits
	// both take; 0 otherwise (see decodeAC).
	fastAC [1 << lutSize]int32
	// vals are the decoded values, sorted by their encoding.
	vals [maxNCodes]uint8
	// minCodes[i] is the minimum code of length i, or -1 if there are no
	// codes of that length.
	minCodes [maxCodeLength]int32
	// maxCodes[i] is the maximum code of length i, or -1 if there are no
	// codes of that length.
	maxCodes [maxCodeLength]int32
	// valsIndices[i] is the index into vals of minCodes[i].
	valsIndices [maxCodeLength]int32
}

// errShortHuffmanData means that an unexpected EOF occurred while decoding
// Huffman data.
var errShortHuffmanData = FormatError("short Huffman data")

// ensureNBits reads bytes from the byte buffer to ensure that d.bits.n is at
// least n. For best performance (avoiding function calls inside hot loops),
// the caller is the one responsible for first checking that d.bits.n < n.
func (d *decoder) ensureNBits(n int32) error {
	// Changed from image/jpeg: first take whole bytes straight from the
	// buffer (refill), then, if that was not enough, a byte at a time.
	if d.bits.n < n && d.bytes.i+2 <= d.bytes.j {
		d.refill()
		if d.bits.n >= n {
			return nil
		}
	}
	for {
		c, err := d.readByteStuffedByte()
		if err != nil {
			if err == io.ErrUnexpectedEOF {
				return errShortHuffmanData
			}
			return err
		}
		d.bits.a = d.bits.a<<8 | uint64(c)
		d.bits.n += 8
		if d.bits.n >= n {
			break
		}
	}
	return nil
}

// refill takes whole bytes straight from the byte buffer into the 64-bit
// bit buffer, up to 57 bits or more, unstuffing 0xff 0x00, and stops
// before a marker (0xff then anything else) and the buffer's last byte
// (both left to readByteStuffedByte). Changed from image/jpeg, whose
// 32-bit buffer took a byte at a time. Entropy decoding then refills
// once every few symbols. No byte of a marker is taken, so no byte taken
// needs giving back: nUnreadable is cleared when any was taken.
func (d *decoder) refill() {
	a, n, i, j := d.bits.a, d.bits.n, d.bytes.i, d.bytes.j
	for n <= 56 && i+2 <= j {
		x := d.bytes.buf[i]
		if x == 0xff {
			if d.bytes.buf[i+1] != 0x00 {
				break
			}
			i++
		}
		i++
		a = a<<8 | uint64(x)
		n += 8
	}
	if i != d.bytes.i {
		d.bytes.nUnreadable = 0
	}
	d.bits.a, d.bits.n, d.bytes.i = a, n, i
}

// receiveExtend is the composition of RECEIVE and EXTEND, specified in section
// F.2.2.1.
func (d *decoder) receiveExtend(t uint8) (int32, error) {
	if d.bits.n < int32(t) {
		if err := d.ensureNBits(int32(t)); err != nil {
			return 0, err
		}
	}
	d.bits.n -= int32(t)
	return extend(d.bits.a>>uint8(d.bits.n), t), nil
}

// extend is the EXTEND procedure of figure F.12: the t low bits of v
// (t ≤ 16) as the signed value they code.
func extend(v uint64, t uint8) int32 {
	s := int32(1) << t
	x := int32(v) & (s - 1)
	if x < s>>1 {
		x += 1 - s
	}
	return x
}

// processDHT processes a Define Huffman Table marker, and initializes a huffman
// struct from its contents. Specified in section B.2.4.2.
func (d *decoder) processDHT(n int) error {
	for n > 0 {
		if n < 17 {
			return FormatError("DHT has wrong length")
		}
		if err := d.readFull(d.tmp[:17]); err != nil {
			return err
		}
		tc := d.tmp[0] >> 4
		if tc > maxTc {
			return FormatError("bad Tc value")
		}
		th := d.tmp[0] & 0x0f
		// The baseline th <= 1 restriction is specified in table B.5.
		if th > maxTh || (d.baseline && th > 1) {
			return FormatError("bad Th value")
		}
		h := &d.huff[tc][th]

		// Read nCodes and h.vals (and derive h.nCodes).
		// nCodes[i] is the number of codes with code length i.
		// h.nCodes is the total number of codes.
		h.nCodes = 0
		var nCodes [maxCodeLength]int32
		for i := range nCodes {
			nCodes[i] = int32(d.tmp[i+1])
			h.nCodes += nCodes[i]
		}
		if h.nCodes == 0 {
			return FormatError("Huffman table has zero length")
		}
		if h.nCodes > maxNCodes {
			return FormatError("Huffman table has excessive length")
		}
		n -= int(h.nCodes) + 17
		if n < 0 {
			return FormatError("DHT has wrong length")
		}
		if err := d.readFull(h.vals[:h.nCodes]); err != nil {
			return err
		}

		// Derive the look-up table.
		clear(h.lut[:])
		var x, code uint32
		for i := uint32(0); i < lutSize; i++ {
			code <<= 1
			for j := int32(0); j < nCodes[i]; j++ {
				// The codeLength is 1+i, so shift code by lutSize-(1+i)
				// to calculate the high bits for every lutSize-bit
				// sequence whose codeLength's high bits matches code
				// (masked: a malformed table may overflow).
				// The high 8 bits of lutValue are the encoded value.
				// The low 8 bits are 1 plus the codeLength.
				base := code << (lutSize - 1 - i)
				lutValue := uint16(h.vals[x])<<8 | uint16(2+i)
				for k := uint32(0); k < 1<<(lutSize-1-i); k++ {
					h.lut[(base|k)&lutMask] = lutValue
				}
				code++
				x++
			}
		}

		h.fastAC = [1 << lutSize]int32{}
		if tc == acTable {
			h.deriveFastAC()
		}

		// Derive minCodes, maxCodes, and valsIndices.
		var c, index int32
		for i, n := range nCodes {
			if n == 0 {
				h.minCodes[i] = -1
				h.maxCodes[i] = -1
				h.valsIndices[i] = -1
			} else {
				h.minCodes[i] = c
				h.maxCodes[i] = c + n - 1
				h.valsIndices[i] = index
				c += n
				index += n
			}
			c <<= 1
		}
	}
	return nil
}

// deriveFastAC fills h.fastAC from h.lut.
func (h *huffman) deriveFastAC() {
	for i, v := range h.lut {
		if v == 0 {
			continue
		}
		codeLen, rs := int32(v&0xff)-1, v>>8
		size := int32(rs & 0x0f)
		if size == 0 || codeLen+size > lutSize {
			continue
		}
		x := extend(uint64(i>>(lutSize-codeLen-size)), uint8(size))
		h.fastAC[i] = x<<16 | int32(rs>>4)<<8 | (codeLen + size)
	}
}

// decodeHuffman returns the next Huffman-coded value from the bit-stream,
// decoded according to h.
func (d *decoder) decodeHuffman(h *huffman) (uint8, error) {
	if h.nCodes == 0 {
		return 0, FormatError("uninitialized Huffman table")
	}

	if d.bits.n < lutSize {
		if err := d.ensureNBits(lutSize); err != nil {
			if err != errMissingFF00 && err != errShortHuffmanData {
				return 0, err
			}
			// There are no more bytes of data in this segment, but we may still
			// be able to read the next symbol out of the previously read bits.
			// First, undo the readByte that the ensureNBits call made.
			// Changed from image/jpeg: only the bytes are given back. The
			// read that failed put no bits in d.bits, which may hold 8
			// or more bits of earlier reads now that lutSize exceeds 8.
			d.bytes.i -= d.bytes.nUnreadable
			d.bytes.nUnreadable = 0
			goto slowPath
		}
	}
	if v := h.lut[(d.bits.a>>uint32(d.bits.n-lutSize))&lutMask]; v != 0 {
		d.bits.n -= int32(v&0xff) - 1
		return uint8(v >> 8), nil
	}

slowPath:
	for i, code := 0, int32(0); i < maxCodeLength; i++ {
		if d.bits.n == 0 {
			if err := d.ensureNBits(1); err != nil {
				return 0, err
			}
		}
		d.bits.n--
		if d.bits.a>>uint32(d.bits.n)&1 != 0 {
			code |= 1
		}
		if code <= h.maxCodes[i] {
			return h.vals[h.valsIndices[i]+code-h.minCodes[i]], nil
		}
		code <<= 1
	}
	return 0, FormatError("bad Huffman code")
}

func (d *decoder) decodeBit() (bool, error) {
	if d.bits.n == 0 {
		if err := d.ensureNBits(1); err != nil {
			return false, err
		}
	}
	d.bits.n--
	return d.bits.a>>uint32(d.bits.n)&1 != 0, nil
}

func (d *decoder) decodeBits(n int32) (uint32, error) {
	if d.bits.n < n {
		if err := d.ensureNBits(n); err != nil {
			return 0, err
		}
	}
	ret := uint32(d.bits.a >> uint32(d.bits.n-n))
	ret &= (1 << uint32(n)) - 1
	d.bits.n -= n
	return ret, nil
}
