package imagesafe

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"image"
	"image/gif"
	"image/jpeg"
	"image/png"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"golang.org/x/image/webp"
)

// corpusTypes are the content types of the corpus files, by extension.
var corpusTypes = map[string]string{".png": "image/png", ".jpeg": "image/jpeg", ".jpg": "image/jpeg", ".gif": "image/gif", ".webp": "image/webp"}

// corpusDirs are the directories of real images nobody here wrote: Go's
// image testdata (PngSuite among them) and x/image's, where its WebP files
// are. They are found at test time; a missing one is a skip, or a failure
// when $CI is set.
var corpusDirs = sync.OnceValues(func() ([]string, error) {
	goroot, err := exec.Command("go", "env", "GOROOT").Output()
	if err != nil {
		return nil, fmt.Errorf("go env GOROOT: %v", err)
	}
	xImage, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "golang.org/x/image").Output()
	if err != nil {
		return nil, fmt.Errorf("go list -m golang.org/x/image: %v", err)
	}
	src := filepath.Join(strings.TrimSpace(string(goroot)), "src", "image")
	return []string{
		filepath.Join(src, "testdata"),
		filepath.Join(src, "png", "testdata"),
		filepath.Join(src, "png", "testdata", "pngsuite"),
		filepath.Join(strings.TrimSpace(string(xImage)), "testdata"),
	}, nil
})

// corpusUnavailable skips t for a reason the image corpus cannot be
// read, or fails it when $CI is set.
func corpusUnavailable(t testing.TB, err error) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatalf("the image corpus is unavailable: %v", err)
	}
	t.Skipf("the image corpus is unavailable: %v", err)
}

// corpus returns the corpus files, path to content type.
func corpus(t testing.TB) map[string]string {
	t.Helper()
	dirs, err := corpusDirs()
	if err != nil {
		corpusUnavailable(t, err)
	}
	files := map[string]string{}
	for _, dir := range dirs {
		entries, err := os.ReadDir(dir)
		if err != nil {
			corpusUnavailable(t, err)
		}
		for _, e := range entries {
			if ct, ok := corpusTypes[filepath.Ext(e.Name())]; ok {
				files[filepath.Join(dir, e.Name())] = ct
			}
		}
	}
	return files
}

// broken reports whether a corpus file is damaged on purpose, so that it
// need not be accepted.
func broken(path string) bool {
	name := filepath.Base(path)
	return strings.HasPrefix(name, "invalid-") || strings.Contains(name, "truncated")
}

// errAnimatedWebP: x/image/webp decodes still images only.
var errAnimatedWebP = errors.New("x/image/webp does not decode animations")

// goDecode decodes data with Go's decoder of ct: every frame of a GIF, and
// its logical screen's size.
func goDecode(data []byte, ct string) ([]image.Image, image.Point, error) {
	r := bytes.NewReader(data)
	var m image.Image
	var err error
	switch ct {
	case "image/png":
		m, err = png.Decode(r)
	case "image/jpeg":
		m, err = jpeg.Decode(r)
	case "image/gif":
		all, err := gif.DecodeAll(r)
		if err != nil {
			return nil, image.Point{}, err
		}
		frames := make([]image.Image, len(all.Image))
		for i, m := range all.Image {
			frames[i] = m
		}
		return frames, image.Pt(all.Config.Width, all.Config.Height), nil
	default:
		if len(data) > 20 && string(data[12:16]) == "VP8X" && data[20]&webpFlagAnimation != 0 {
			return nil, image.Point{}, errAnimatedWebP
		}
		m, err = webp.Decode(r)
	}
	if err != nil {
		return nil, image.Point{}, err
	}
	return []image.Image{m}, m.Bounds().Size(), nil
}

// undecodedData reports whether err, a decoding error, is in compressed
// pixel data that imagesafe does not decode by design: JPEG's entropy-coded
// scans, and the VP8 and VP8L bitstreams past their headers. (PNG's zlib
// stream and GIF's LZW data are checked whole: none of their errors is.)
func undecodedData(err error, ct string) bool {
	msg := err.Error()
	switch ct {
	case "image/jpeg":
		for _, s := range []string{"Huffman", "too many coefficients", "excessive DC component", "RST marker", "0xff00"} {
			if strings.Contains(msg, s) {
				return true
			}
		}
	case "image/webp":
		return errors.Is(err, errAnimatedWebP) || errors.Is(err, io.ErrUnexpectedEOF) ||
			strings.HasPrefix(msg, "vp8") && !strings.Contains(msg, "header") && !strings.Contains(msg, "version")
	}
	return false
}

// checkServed is the differential property. If Inspect accepts data as ct
// under caps, stripping or not, Go's decoder decodes the served copy without error, to
// the pixels of data's own decode and the plan's dimensions. It reports
// whether data was accepted.
func checkServed(t testing.TB, data []byte, ct string, caps Options) (accepted bool) {
	t.Helper()
	var want []image.Image // data's own decode, made once
	for _, strip := range []bool{true, false} {
		opt := caps
		opt.Strip = strip
		plan, err := Inspect(bytes.NewReader(data), ct, opt)
		if err != nil {
			if r := (*Refusal)(nil); !errors.As(err, &r) {
				t.Fatalf("Inspect: got a %T error %v, want a *Refusal", err, err)
			}
			continue
		}
		accepted = true
		out, err := io.ReadAll(plan.Reader(bytes.NewReader(data)))
		if err != nil {
			t.Fatalf("plan reader: %v", err)
		}
		got, size, err := goDecode(out, ct)
		if err != nil {
			if undecodedData(err, ct) {
				t.Logf("accepted; Go's decoder fails in pixel data imagesafe does not decode: %v", err)
				continue
			}
			t.Fatalf("accepted (strip %v), but Go's decoder fails on the served copy: %v", strip, err)
		}
		if size != image.Pt(plan.Width, plan.Height) {
			t.Fatalf("plan dimensions: got %dx%d, decoded %dx%d", plan.Width, plan.Height, size.X, size.Y)
		}
		if want == nil {
			if bytes.Equal(out, data) {
				want = got
			} else if want, _, err = goDecode(data, ct); err != nil {
				t.Fatalf("the served copy decodes, but the original does not: %v", err)
			}
		}
		if len(got) != len(want) {
			t.Fatalf("served copy: got %d frames, want %d", len(got), len(want))
		}
		for i := range got {
			if !samePixels(want[i], got[i]) {
				t.Fatalf("served copy (strip %v): frame %d's pixels differ from the original's", strip, i)
			}
		}
	}
	return accepted
}

// TestCorpusServedDecodes: every valid file of the corpus is accepted, and
// every file accepted (valid or not) is served decodable, pixel-identical.
func TestCorpusServedDecodes(t *testing.T) {
	for path, ct := range corpus(t) {
		t.Run(filepath.Base(path), func(t *testing.T) {
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if accepted := checkServed(t, data, ct, Options{}); !accepted && !broken(path) {
				_, err := Inspect(bytes.NewReader(data), ct, Options{})
				t.Errorf("a valid file is refused: %v", err)
			}
		})
	}
}

// block is a structural unit of a file: a PNG or RIFF chunk, a JPEG
// marker segment, a GIF descriptor; off and n span it whole, data and
// dataN its payload.
type block struct {
	kind             string
	off, n, data, dN int
}

// blocks splits a file into its blocks, as far as they parse; enough to
// aim mutations, not a validator.
func blocks(b []byte, ct string) []block {
	var out []block
	switch ct {
	case "image/png":
		for off := 8; off+12 <= len(b); {
			n := int(binary.BigEndian.Uint32(b[off:]))
			if n < 0 || off+12+n > len(b) {
				break
			}
			out = append(out, block{string(b[off+4 : off+8]), off, 12 + n, off + 8, n})
			off += 12 + n
		}
	case "image/webp":
		for off := 12; off+8 <= len(b); {
			n := int(binary.LittleEndian.Uint32(b[off+4:]))
			if n < 0 || off+8+n > len(b) {
				break
			}
			out = append(out, block{string(b[off : off+4]), off, 8 + n + n&1, off + 8, n})
			off += 8 + n + n&1
		}
	case "image/jpeg":
		for off := 2; off+4 <= len(b) && b[off] == 0xFF && b[off+1] != mSOS; {
			n := int(binary.BigEndian.Uint16(b[off+2:]))
			if off+2+n > len(b) {
				break
			}
			out = append(out, block{fmt.Sprintf("%02X", b[off+1]), off, 2 + n, off + 4, n - 2})
			off += 2 + n
		}
		if i := bytes.Index(b, []byte{0xFF, mSOS}); i > 0 && i+4 <= len(b) {
			out = append(out, block{"DA", i, 2 + int(binary.BigEndian.Uint16(b[i+2:])), i + 4, int(binary.BigEndian.Uint16(b[i+2:])) - 2})
		}
	case "image/gif":
		out = append(out, block{"screen", 6, 7, 6, 7})
		if i := bytes.IndexByte(b[13:], 0x2C); i >= 0 && 13+i+11 <= len(b) {
			out = append(out, block{"image", 13 + i, 11, 13 + i + 1, 10}) // descriptor and LZW code size
		}
	}
	return out
}

// fixPNGCRC recomputes the CRC of the PNG chunk blk in b.
func fixPNGCRC(b []byte, blk block) {
	binary.BigEndian.PutUint32(b[blk.data+blk.dN:], crc32.ChecksumIEEE(b[blk.off+4:blk.data+blk.dN]))
}

// headerSize is how many bytes of a block's payload are header fields, by
// the block's kind: flipping bits past them changes pixels, not structure.
var headerSize = map[string]int{
	"IHDR": 13, "fcTL": 26, "tRNS": 2, // PNG
	"VP8X": 10, "VP8 ": 10, "VP8L": 5, "ALPH": 1, "ANMF": 16, "ANIM": 6, // WebP
	"C0": 18, "C1": 18, "C2": 18, "DA": 12, "DD": 2, "C4": 17, "DB": 1, // JPEG: SOFn, SOS, DRI, DHT, DQT
	"screen": 7, "image": 10, // GIF
}

// mutants are copies of data, a valid file, each with one structural fault
// that a checksum does not catch: bit flips in the headers (IHDR, VP8X and
// the bitstream headers, SOF, DHT, SOS, the GIF descriptors), adjacent
// blocks swapped, the zlib stream cut, garbled or followed by more data
// (PNG CRCs recomputed).
func mutants(data []byte, ct string) map[string][]byte {
	out := map[string][]byte{}
	bs := blocks(data, ct)
	flip := func(blk block, bytes int) {
		for i := range min(bytes, blk.dN) {
			for bit := range 8 {
				m := slices.Clone(data)
				m[blk.data+i] ^= 1 << bit
				if ct == "image/png" {
					fixPNGCRC(m, blk)
				}
				out[fmt.Sprintf("flip %s byte %d bit %d", blk.kind, i, bit)] = m
			}
		}
	}
	for i, blk := range bs {
		if n := headerSize[blk.kind]; n > 0 {
			flip(blk, n)
		}
		switch blk.kind {
		case "IDAT":
			cut := slices.Concat(data[:blk.off], pngChunk("IDAT", data[blk.data:blk.data+blk.dN/2]), data[blk.off+blk.n:])
			out[fmt.Sprintf("IDAT %d cut", i)] = cut
			more := slices.Concat(data[:blk.off], pngChunk("IDAT", append(slices.Clone(data[blk.data:blk.data+blk.dN]), 0)), data[blk.off+blk.n:])
			out[fmt.Sprintf("IDAT %d extended", i)] = more
			if blk.dN > 2 {
				garbled := slices.Clone(data)
				garbled[blk.data+blk.dN/2] ^= 0x55
				fixPNGCRC(garbled, blk)
				out[fmt.Sprintf("IDAT %d garbled", i)] = garbled
			}
		}
		if i+1 < len(bs) && ct != "image/gif" {
			next := bs[i+1]
			if next.off == blk.off+blk.n {
				out[fmt.Sprintf("swap %s %s", blk.kind, next.kind)] = slices.Concat(data[:blk.off], data[next.off:next.off+next.n], data[blk.off:next.off], data[next.off+next.n:])
			}
		}
	}
	return out
}

// TestMutantsServedDecode: header faults in the corpus files are refused,
// or what is accepted is served decodable, pixel-identical.
func TestMutantsServedDecode(t *testing.T) {
	refused, total := 0, 0
	// Every mutant normally; a sample under -short, and a smaller one
	// under the race detector (CI), which the fuzz target complements.
	sample := 1
	switch {
	case raceEnabled:
		sample = 16
	case testing.Short():
		sample = 4
	}
	for path, ct := range corpus(t) {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if broken(path) {
			continue
		}
		for name, m := range mutants(data, ct) {
			if total++; total%sample != 0 {
				continue
			}
			t.Run(filepath.Base(path)+"/"+name, func(t *testing.T) {
				if !checkServed(t, m, ct, Options{}) {
					refused++
				}
			})
		}
	}
	t.Logf("%d mutants, %d refused", total, refused)
}

// FuzzServedDecodes is the differential property on any input, seeded with
// the corpus files (go test runs them) up to maxSeed bytes: the larger ones
// slow the fuzzer's mutations to a few a second, and TestCorpusServedDecodes
// runs them.
func FuzzServedDecodes(f *testing.F) {
	const maxSeed = 64 << 10
	var types []string // the content types of the format table, in its order
	for _, ft := range formats {
		types = append(types, ft.MIME)
	}
	for path, ct := range corpus(f) {
		if data, err := os.ReadFile(path); err == nil && len(data) <= maxSeed {
			f.Add(data, uint8(slices.Index(types, ct)))
		}
	}
	f.Fuzz(func(t *testing.T, data []byte, format uint8) {
		// Small caps: a JPEG or WebP header mutated to claim a large
		// image is accepted, and Go's decoder would spend seconds on it.
		checkServed(t, data, types[int(format)%len(types)], Options{MaxPixels: 1 << 20, MaxSide: 4096})
	})
}
