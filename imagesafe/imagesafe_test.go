package imagesafe

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"errors"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"golang.org/x/image/webp"
)

var contentTypes = map[string]string{".jpg": "image/jpeg", ".png": "image/png", ".gif": "image/gif", ".webp": "image/webp"}

// run inspects data and returns the planned output.
func run(t testing.TB, data []byte, contentType string, opt Options) ([]byte, *Plan, error) {
	t.Helper()
	plan, err := Inspect(bytes.NewReader(data), contentType, opt)
	if err != nil {
		return nil, nil, err
	}
	out, err := io.ReadAll(plan.Reader(bytes.NewReader(data)))
	if err != nil {
		t.Fatalf("plan reader: %v", err)
	}
	if int64(len(out)) != plan.Size() {
		t.Fatalf("plan size: got %d bytes, Size() says %d", len(out), plan.Size())
	}
	return out, plan, nil
}

func decode(t *testing.T, data []byte, contentType string) image.Image {
	t.Helper()
	var m image.Image
	var err error
	if contentType == "image/webp" {
		m, err = webp.Decode(bytes.NewReader(data))
	} else {
		m, _, err = image.Decode(bytes.NewReader(data))
	}
	if err != nil {
		t.Fatalf("decode %s: %v", contentType, err)
	}
	return m
}

func samePixels(a, b image.Image) bool {
	if a.Bounds() != b.Bounds() {
		return false
	}
	for y := a.Bounds().Min.Y; y < a.Bounds().Max.Y; y++ {
		for x := a.Bounds().Min.X; x < a.Bounds().Max.X; x++ {
			r1, g1, b1, a1 := a.At(x, y).RGBA()
			r2, g2, b2, a2 := b.At(x, y).RGBA()
			if r1 != r2 || g1 != g2 || b1 != b2 || a1 != a2 {
				return false
			}
		}
	}
	return true
}

func fixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestFixtures strips real files made by ImageMagick, exiftool and webpmux
// (see testdata/README.md): the metadata is gone, the ICC profile and the
// orientation stay, and the pixels are untouched.
func TestFixtures(t *testing.T) {
	tests := []struct {
		file        string
		gone        []string // strings that must not survive stripping
		kept        []string // strings that must survive
		orientation int      // EXIF orientation expected in the output
	}{
		{"gps_rotated.jpg", []string{"CAM123456", "Jane Secret", "private", "Canon", "GPS", "http://ns.adobe.com"}, []string{"Artifex Software sRGB"}, 6},
		{"text.png", []string{"Jane Secret", "private", "Author", "XML:com.adobe.xmp"}, nil, 6},
		{"meta.webp", []string{"Jane Secret", "http://ns.adobe.com", "XMP ", "GPS"}, []string{"ICCP"}, 6},
		{"plain.webp", nil, nil, 0},
		{"progressive.jpg", nil, nil, 0},
		{"cmyk.jpg", nil, []string{"Adobe"}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			in := fixture(t, tt.file)
			ct := contentTypes[filepath.Ext(tt.file)]
			out, plan, err := run(t, in, ct, Options{Strip: true})
			if err != nil {
				t.Fatalf("Inspect: %v", err)
			}
			for _, s := range tt.gone {
				if bytes.Contains(out, []byte(s)) {
					t.Errorf("stripped output still contains %q", s)
				}
			}
			for _, s := range tt.kept {
				if !bytes.Contains(out, []byte(s)) {
					t.Errorf("stripped output lost %q", s)
				}
			}
			if got := outputOrientation(t, out, ct); got != tt.orientation {
				t.Errorf("orientation: got %d, want %d", got, tt.orientation)
			}
			// The plan says the orientation kept (1 for none) and the size
			// shown: a quarter turn (6) swaps width and height.
			if want := max(tt.orientation, 1); plan.Orientation != want {
				t.Errorf("Plan.Orientation: got %d, want %d", plan.Orientation, want)
			}
			if w, h := plan.Upright(); tt.orientation == 6 && (w != plan.Height || h != plan.Width) || tt.orientation == 0 && (w != plan.Width || h != plan.Height) {
				t.Errorf("Plan.Upright: got %dx%d of %dx%d at orientation %d", w, h, plan.Width, plan.Height, tt.orientation)
			}
			if ct == "image/webp" && len(out) > 20 && string(out[12:16]) == "VP8X" {
				// The flags must announce exactly the chunks left.
				flags := out[20]
				if hasXMP := flags&webpFlagXMP != 0; hasXMP != bytes.Contains(out, []byte("XMP ")) {
					t.Errorf("VP8X XMP flag %v disagrees with the chunks", hasXMP)
				}
				if hasEXIF := flags&webpFlagEXIF != 0; hasEXIF != bytes.Contains(out, []byte("EXIF")) {
					t.Errorf("VP8X EXIF flag %v disagrees with the chunks", hasEXIF)
				}
			}
			if !samePixels(decode(t, in, ct), decode(t, out, ct)) {
				t.Error("stripping changed the pixels")
			}
			if b := decode(t, out, ct).Bounds(); b.Dx() != plan.Width || b.Dy() != plan.Height {
				t.Errorf("plan dimensions: got %dx%d, decoded %dx%d", plan.Width, plan.Height, b.Dx(), b.Dy())
			}
			again, plan2, err := run(t, out, ct, Options{Strip: true})
			if err != nil || !plan2.Unchanged() || !bytes.Equal(again, out) {
				t.Errorf("stripping the stripped output: got err %v, unchanged %v; want it unchanged", err, plan2 != nil && plan2.Unchanged())
			}
			if _, plan, err := run(t, in, ct, Options{}); err != nil || !plan.Unchanged() {
				t.Errorf("without stripping: got err %v, want the input unchanged", err)
			}
		})
	}
}

// outputOrientation finds the EXIF orientation in a JPEG APP1 or PNG eXIf.
func outputOrientation(t *testing.T, data []byte, contentType string) int {
	t.Helper()
	switch contentType {
	case "image/jpeg":
		if i := bytes.Index(data, []byte("Exif\x00\x00")); i >= 0 {
			return exifOrientation(data[i+6:])
		}
	case "image/png":
		if i := bytes.Index(data, []byte("eXIf")); i >= 4 {
			n := binary.BigEndian.Uint32(data[i-4:])
			return exifOrientation(data[i+4 : i+4+int(n)])
		}
	case "image/webp":
		if i := bytes.Index(data, []byte("EXIF")); i >= 0 {
			n := binary.LittleEndian.Uint32(data[i+4:])
			return exifOrientation(bytes.TrimPrefix(data[i+8:i+8+int(n)], []byte("Exif\x00\x00")))
		}
	}
	return 0
}

func encodeJPEG(t testing.TB, w, h int) []byte {
	t.Helper()
	m := image.NewRGBA(image.Rect(0, 0, w, h))
	for x := range w {
		for y := range h {
			m.Set(x, y, color.RGBA{uint8(x * 7), uint8(y * 5), 80, 255})
		}
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, m, nil); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func encodePNG(t testing.TB, w, h int) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := png.Encode(&buf, image.NewGray(image.Rect(0, 0, w, h))); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func encodeGIF(t testing.TB, w, h int) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := gif.Encode(&buf, image.NewPaletted(image.Rect(0, 0, w, h), color.Palette{color.Black, color.White}), nil); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// withComment inserts a JPEG COM segment after SOI.
func withComment(jpg []byte, comment string) []byte {
	return append(append(append([]byte{}, jpg[:2]...), jpegSegment(mCOM, []byte(comment))...), jpg[2:]...)
}

// gifWithComment inserts a comment extension before the first image.
func gifWithComment(g []byte, comment string) []byte {
	i := bytes.IndexByte(g[13+6:], 0x2C) + 13 + 6 // after header and the 2-colour table
	ext := append([]byte{0x21, 0xFE, byte(len(comment))}, comment...)
	ext = append(ext, 0)
	return append(append(append([]byte{}, g[:i]...), ext...), g[i:]...)
}

// gifWithRawExtension inserts ext, a whole extension block, before the
// first image.
func gifWithRawExtension(g, ext []byte) []byte {
	i := bytes.IndexByte(g[13+6:], 0x2C) + 13 + 6
	return append(append(append([]byte{}, g[:i]...), ext...), g[i:]...)
}

// pngWith inserts a chunk after IHDR.
func pngWith(p []byte, typ string, data []byte) []byte {
	const afterIHDR = 8 + 25
	return append(append(append([]byte{}, p[:afterIHDR]...), pngChunk(typ, data)...), p[afterIHDR:]...)
}

func TestHostile(t *testing.T) {
	jpg, pngb, gifb := encodeJPEG(t, 32, 24), encodePNG(t, 32, 24), encodeGIF(t, 32, 24)
	webpb := fixture(t, "plain.webp")
	html := []byte("<!DOCTYPE html><html><script>alert(document.cookie)</script></html>")
	zip := append([]byte("PK\x03\x04"), bytes.Repeat([]byte{1}, 40)...)
	badCRC := append([]byte{}, pngb...)
	badCRC[8+8+13] ^= 0xFF // IHDR checksum

	tests := []struct {
		name, contentType string
		data              []byte
		strip             bool
		want              Reason // 0: accepted
		wantSize          int    // accepted: the output size, 0 to skip
	}{
		{"svg declared png", "image/png", []byte(`<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>`), true, NotFormat, 0},
		{"html declared jpeg", "image/jpeg", html, true, NotFormat, 0},
		{"pdf declared gif", "image/gif", []byte("%PDF-1.7\n1 0 obj"), true, NotFormat, 0},
		{"zip declared webp", "image/webp", zip, true, NotFormat, 0},
		{"xml declared png", "image/png", []byte(`<?xml version="1.0"?><x/>`), true, NotFormat, 0},
		{"png declared jpeg", "image/jpeg", pngb, true, NotFormat, 0},
		{"jpeg declared png", "image/png", jpg, true, NotFormat, 0},
		{"gif declared webp", "image/webp", gifb, true, NotFormat, 0},
		{"webp declared gif", "image/gif", webpb, true, NotFormat, 0},
		{"empty", "image/jpeg", nil, true, NotFormat, 0},
		{"jpeg+html polyglot is cut", "image/jpeg", append(append([]byte{}, jpg...), html...), true, 0, len(jpg)},
		{"jpeg+html polyglot is cut without stripping", "image/jpeg", append(append([]byte{}, jpg...), html...), false, 0, len(jpg)},
		{"png+zip polyglot is cut", "image/png", append(append([]byte{}, pngb...), zip...), true, 0, len(pngb)},
		{"gif+js polyglot is cut", "image/gif", append(append([]byte{}, gifb...), "*/=alert(1)//"...), true, 0, len(gifb)},
		{"webp trailing bytes are cut", "image/webp", append(append([]byte{}, webpb...), html...), true, 0, len(webpb)},
		{"jpeg comment script is stripped", "image/jpeg", withComment(jpg, "<script>alert(1)</script>"), true, 0, len(jpg)},
		{"jpeg comment script refused when kept", "image/jpeg", withComment(jpg, "<script>alert(1)</script>"), false, ActiveContent, 0},
		{"jpeg harmless comment kept when not stripping", "image/jpeg", withComment(jpg, "made with love"), false, 0, len(jpg) + 18},
		{"gif comment js is stripped", "image/gif", gifWithComment(gifb, "<script>alert(1)</script>"), true, 0, len(gifb)},
		{"gif comment js refused when kept", "image/gif", gifWithComment(gifb, "javascript:alert(1)"), false, ActiveContent, 0},
		{"png text html is stripped", "image/png", pngWith(pngb, "tEXt", []byte("Comment\x00<html><body>hi</body></html>")), true, 0, len(pngb)},
		{"png text html refused when kept", "image/png", pngWith(pngb, "tEXt", []byte("Comment\x00<html>")), false, ActiveContent, 0},
		{"png private chunk with zip is stripped", "image/png", pngWith(pngb, "zzZz", zip), true, 0, len(pngb)},
		{"png private chunk dropped even when keeping metadata", "image/png", pngWith(pngb, "prVt", html), false, 0, len(pngb)},
		{"gif script split by a sub-block length refused when kept", "image/gif", gifWithRawExtension(gifb, append(append([]byte("\x21\xfe\x04<scr\x69pt>"), bytes.Repeat([]byte{'.'}, 0x69-3)...), 0)), false, ActiveContent, 0},
		{"gif script split in the raw bytes refused when kept", "image/gif", gifWithRawExtension(gifb, []byte("\x21\xfe\x04<scr\x04ipt>\x00")), false, ActiveContent, 0},
		{"png unknown critical chunk", "image/png", pngWith(pngb, "ABCD", nil), true, Corrupt, 0},
		{"png bad checksum", "image/png", badCRC, true, Corrupt, 0},
		{"png header claiming 2 GiB", "image/png", append([]byte(pngMagic+"\x7f\xff\xff\xffIHDR\x00\x00\x00\x01\x00\x00\x00\x01"), make([]byte, 200)...), true, Corrupt, 0},
		{"jpeg APP1 too short for its Exif prefix", "image/jpeg", []byte("\xff\xd8\xff\xe1\x00\x02Exif\x00\x00\xff\xd9\x00\x00"), true, Corrupt, 0},
		{"jpeg truncated in scan", "image/jpeg", jpg[:len(jpg)-40], true, Truncated, 0},
		{"jpeg truncated in header", "image/jpeg", jpg[:30], true, Truncated, 0},
		{"jpeg without EOI", "image/jpeg", jpg[:len(jpg)-2], true, Truncated, 0},
		{"png truncated", "image/png", pngb[:len(pngb)-12], true, Truncated, 0},
		{"gif truncated", "image/gif", gifb[:len(gifb)-1], true, Truncated, 0},
		{"webp truncated", "image/webp", webpb[:len(webpb)-10], true, Truncated, 0},
		{"jpeg stray bytes between segments", "image/jpeg", append(append(append([]byte{}, jpg[:2]...), 0x00, 0x01), jpg[2:]...), true, Corrupt, 0},
		{"png too wide", "image/png", encodePNG(t, DefaultMaxSide+1, 1), true, TooLarge, 0},
		{"gif too tall", "image/gif", encodeGIF(t, 1, DefaultMaxSide+1), true, TooLarge, 0},
		{"png over the pixel cap, sides under theirs", "image/png", pngBomb(t, 10000, 6000), true, TooLarge, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, _, err := run(t, tt.data, tt.contentType, Options{Strip: tt.strip})
			var r *Refusal
			switch {
			case tt.want == 0 && err != nil:
				t.Fatalf("Inspect: got %v, want accepted", err)
			case tt.want != 0 && (!errors.As(err, &r) || r.Reason != tt.want):
				t.Fatalf("Inspect: got %v, want refusal %d", err, tt.want)
			case tt.want == 0 && tt.wantSize != 0 && len(out) != tt.wantSize:
				t.Errorf("output size: got %d, want %d", len(out), tt.wantSize)
			}
			if tt.want == 0 {
				decode(t, out, tt.contentType)
				for _, bad := range [][]byte{[]byte("<script"), []byte("<html"), []byte("PK\x03\x04"), []byte("alert(")} {
					if bytes.Contains(out, bad) {
						t.Errorf("output contains %q", bad)
					}
				}
			}
		})
	}
}

// pngBomb is a valid w×h grey PNG of zero pixels: tiny compressed, huge
// decoded.
func pngBomb(t testing.TB, w, h int) []byte {
	t.Helper()
	var idat bytes.Buffer
	zw, _ := zlib.NewWriterLevel(&idat, zlib.BestSpeed)
	row := make([]byte, 1+w) // filter byte + w grey pixels
	for range h {
		zw.Write(row)
	}
	zw.Close()
	ihdr := binary.BigEndian.AppendUint32(nil, uint32(w))
	ihdr = binary.BigEndian.AppendUint32(ihdr, uint32(h))
	ihdr = append(ihdr, 8, 0, 0, 0, 0) // 8-bit grey
	b := []byte(pngMagic)
	b = append(b, pngChunk("IHDR", ihdr)...)
	b = append(b, pngChunk("IDAT", idat.Bytes())...)
	return append(b, pngChunk("IEND", nil)...)
}

// TestDecompressionBomb refuses a 30,000 × 30,000 PNG of under 2 MB from its
// header, allocating almost nothing.
func TestDecompressionBomb(t *testing.T) {
	bomb := pngBomb(t, 30000, 30000)
	if len(bomb) > 2_000_000 {
		t.Fatalf("bomb is %d bytes, want under 2 MB", len(bomb))
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	_, err := Inspect(bytes.NewReader(bomb), "image/png", Options{Strip: true})
	runtime.ReadMemStats(&after)
	var r *Refusal
	if !errors.As(err, &r) || r.Reason != TooLarge {
		t.Fatalf("Inspect(bomb): got %v, want TooLarge", err)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 1<<20 {
		t.Errorf("Inspect(bomb) allocated %d bytes, want under 1 MiB", alloc)
	}
	if err := Sniff(bomb[:64], "image/png", Options{}); !errors.As(err, &r) || r.Reason != TooLarge {
		t.Errorf("Sniff(bomb head): got %v, want TooLarge", err)
	}
}

// TestImageDataMemoryBounded: a valid 4000 × 4000 PNG inflating to 16 MB
// is checked whole, its data inflated as it streams, in memory that does
// not grow with the image.
func TestImageDataMemoryBounded(t *testing.T) {
	png16MB := pngBomb(t, 4000, 4000)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	_, err := Inspect(bytes.NewReader(png16MB), "image/png", Options{Strip: true})
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Fatalf("Inspect: got %v, want accepted", err)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 1<<20 {
		t.Errorf("Inspect allocated %d bytes, want under 1 MiB", alloc)
	}
}

func TestSniff(t *testing.T) {
	pngb, gifb, webpb := encodePNG(t, 10, 10), encodeGIF(t, 10, 10), fixture(t, "plain.webp")
	tests := []struct {
		name, contentType string
		head              []byte
		want              Reason
	}{
		{"jpeg", "image/jpeg", encodeJPEG(t, 8, 8)[:64], 0},
		{"png", "image/png", pngb[:64], 0},
		{"gif", "image/gif", gifb[:20], 0},
		{"webp", "image/webp", webpb[:40], 0},
		{"too short to tell", "image/png", pngb[:3], 0},
		{"html as jpeg", "image/jpeg", []byte("<html>"), NotFormat},
		{"png as gif", "image/gif", pngb[:64], NotFormat},
		{"wide gif", "image/gif", encodeGIF(t, DefaultMaxSide+1, 1)[:20], TooLarge},
		{"svg as webp", "image/webp", []byte("<svg "), NotFormat},
		{"unknown type", "image/bmp", []byte("BM"), NotFormat},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Sniff(tt.head, tt.contentType, Options{})
			var r *Refusal
			if tt.want == 0 && err != nil || tt.want != 0 && (!errors.As(err, &r) || r.Reason != tt.want) {
				t.Fatalf("Sniff: got %v, want reason %d", err, tt.want)
			}
		})
	}
}

func TestOrientationTIFFRoundTrip(t *testing.T) {
	for o := 1; o <= 8; o++ {
		if got := exifOrientation(orientationTIFF(o)); got != o {
			t.Errorf("orientation %d: got %d back", o, got)
		}
	}
	for _, bad := range [][]byte{nil, []byte("MM\x00*"), []byte("II*\x00\xff\xff\xff\xff"), []byte("XX\x00*\x00\x00\x00\x08")} {
		if got := exifOrientation(bad); got != 0 {
			t.Errorf("exifOrientation(%q): got %d, want 0", bad, got)
		}
	}
}

// failingReader yields the first n bytes of data, then fails with err.
type failingReader struct {
	data []byte
	n    int
	err  error
}

func (f *failingReader) Read(p []byte) (int, error) {
	if f.n == 0 {
		return 0, f.err
	}
	k := copy(p[:min(len(p), f.n)], f.data)
	f.data, f.n = f.data[k:], f.n-k
	return k, nil
}

// A reader that fails part way, even with io.ErrUnexpectedEOF (as an HTTP
// body cut short does), is a ReadError, never a refusal of the image: the
// same bytes may pass when read again.
func TestInspectReaderFailureIsNotARefusal(t *testing.T) {
	for _, name := range []string{"gps_rotated.jpg", "text.png", "plain.webp"} {
		data, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		ct := contentTypes[filepath.Ext(name)]
		for _, cause := range []error{io.ErrUnexpectedEOF, errors.New("connection reset by peer")} {
			// len-100: inside the image data (PNG IDAT, JPEG scan, WebP bitstream).
			for _, at := range []int{0, 1, 20, len(data) / 2, len(data) - 100, len(data) - 1} {
				_, err := Inspect(&failingReader{data: data, n: at, err: cause}, ct, Options{Strip: true})
				var re *ReadError
				if !errors.As(err, &re) || !errors.Is(err, cause) {
					t.Errorf("%s cut at %d by %v: got %v (%T), want a *ReadError wrapping it", name, at, cause, err, err)
				}
				var r *Refusal
				if errors.As(err, &r) {
					t.Errorf("%s cut at %d: got refusal %v", name, at, r)
				}
			}
		}
		// The same bytes ending cleanly early are still a truncated image.
		_, err = Inspect(bytes.NewReader(data[:len(data)/2]), ct, Options{Strip: true})
		if r := (*Refusal)(nil); !errors.As(err, &r) || r.Reason != Truncated {
			t.Errorf("%s ending at half: got %v, want a Truncated refusal", name, err)
		}
	}
}
