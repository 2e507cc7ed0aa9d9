// Package variant renders the resized copies of a published image that
// GET <path>?w=W serves: decoded with Go's image packages (and
// golang.org/x/image/webp; a JPEG by Go's decoder changed to decode at
// 1/2, 1/4 or 1/8 of the size, internal/jpegscale), shrunk by an integer
// box filter straight from the decoded planes, resized the rest of the way with Catmull-Rom
// (golang.org/x/image/draw), turned upright by the EXIF orientation, and
// encoded with the standard library (JPEG, PNG) or libwebp compiled to
// WebAssembly (github.com/gen2brain/webp). A WebP of a YCbCr JPEG is made
// from its Y, Cb and Cr planes, never converted to RGB (planes.go).
// Variants carry no metadata.
//
// Limits: the ICC profile of the original is not applied (pixels are
// taken as sRGB, which phone photos in Display P3 are not quite); an
// animation's variant is its first frame.
package variant

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/gif"
	"image/jpeg"
	"image/png"
	"io"

	"github.com/gen2brain/webp"
	"github.com/userimages/userimages/client/api"
	xwebp "golang.org/x/image/webp"

	"userimages/internal/jpegscale"
)

// Qualities of the lossy encoders: what imgix and libvips default to.
const (
	JPEGQuality = 80
	WebPQuality = 80
)

// Prefix is the object key prefix of every variant of image id; Key is
// below it, so that a takedown deletes them all by listing it.
func Prefix(id string) string { return "variants/" + id + "/" }

// Key is the object key of image id's variant of width w in format f
// (variants/ID/640-webp: keys have no dots; variants/ID/full-webp for w
// 0, the original's own width).
func Key(id string, w int, f api.Format) string {
	if w <= 0 {
		return fmt.Sprintf("%sfull-%s", Prefix(id), f.Ext)
	}
	return fmt.Sprintf("%s%d-%s", Prefix(id), w, f.Ext)
}

// Source is an original's header, read before any pixel is decoded.
type Source struct {
	Format        api.Format
	Width, Height int // as stored, before orientation
	Orientation   int // EXIF orientation 1..8 (1: upright)
	// Progressive is a progressive JPEG, whose decoding holds every DCT
	// coefficient of the image at once.
	Progressive bool
	// CMYK is a 4-component (CMYK or YCCK) JPEG: a fourth plane, and a
	// CMYK image from it.
	CMYK bool
	// Animated is an animated WebP, which libwebp decodes onto canvases of
	// the full size.
	Animated bool
}

// maxWebPSide is the longest side WebP can encode.
const maxWebPSide = 16383

// ErrUnsupported: the original cannot be decoded here.
var ErrUnsupported = errors.New("variant: cannot decode this image")

// Inspect reads what Cost and Render need of an original of format f:
// give it the whole file, as a PNG's or WebP's EXIF may follow its pixels.
func Inspect(data []byte, f api.Format) (Source, error) {
	s := Source{Format: f, Orientation: 1}
	var cfg image.Config
	var err error
	switch f.MIME {
	case api.JPEG.MIME:
		cfg, err = jpeg.DecodeConfig(bytes.NewReader(data))
		s.Orientation, s.Progressive = jpegHeader(data)
	case api.PNG.MIME:
		cfg, err = png.DecodeConfig(bytes.NewReader(data))
		s.Orientation = pngOrientation(data)
	case api.GIF.MIME:
		cfg, err = gif.DecodeConfig(bytes.NewReader(data))
	case api.WebP.MIME:
		cfg, err = webpConfig(data)
		s.Orientation = webpOrientation(data)
		// VP8X's flags byte: bit 1 is the animation flag.
		s.Animated = len(data) > 20 && string(data[12:16]) == "VP8X" && data[20]&0x02 != 0
	default:
		return s, ErrUnsupported
	}
	if err != nil {
		return s, fmt.Errorf("%w: %v", ErrUnsupported, err)
	}
	s.Width, s.Height = cfg.Width, cfg.Height
	s.CMYK = f.MIME == api.JPEG.MIME && cfg.ColorModel == color.CMYKModel
	return s, nil
}

// Upright returns the width and height the image is shown at.
func (s Source) Upright() (w, h int) {
	if s.Orientation >= 5 {
		return s.Height, s.Width
	}
	return s.Width, s.Height
}

// Fit returns the upright size of the variant asked at width w: never
// wider than the original (whose own size w 0 asks for), the height by
// the aspect ratio, at least 1.
func (s Source) Fit(w int) (int, int) {
	uw, uh := s.Upright()
	if w <= 0 || w >= uw {
		return uw, uh
	}
	return w, max(1, (uh*w+uw/2)/uw)
}

// Size returns the size (upright) of the variant at width w in format out
// of a picture shown at uw×uh: Fit's, within the longest side WebP can
// encode.
func Size(uw, uh, w int, out api.Format) (int, int) {
	return Source{Width: uw, Height: uh, Orientation: 1}.target(w, out)
}

// Cost is an upper bound of the bytes a variant of width w of s holds in
// memory while it is made: the decoded original (with a progressive
// JPEG's coefficients), the box-shrunk and resampled pixels and the
// encoder's working copy. It is what the pixel budget (--variant-memory)
// counts.
func (s Source) Cost(w int, out api.Format) int64 {
	tw, th := s.target(w, out)
	px := int64(s.Width) * int64(s.Height)
	dw, dh := int64(s.Width), int64(s.Height) // as decoded
	var decoded int64
	switch s.Format.MIME {
	case api.JPEG.MIME:
		n := int64(s.jpegScale(tw, th))
		dw, dh = (dw*n+7)/8, (dh*n+7)/8
		decoded = 3 * (dw + 32) * (dh + 32) // YCbCr, 4:4:4 at most, in whole blocks
		coefficients := int64(12)           // an int32 each, of 3 full components at most
		if s.CMYK {
			decoded = 8 * (dw + 32) * (dh + 32) // 4 planes, then a CMYK image
			coefficients = 16
		}
		if s.Progressive {
			decoded += coefficients * px
		}
	case api.PNG.MIME:
		decoded = 8*px + dw*16 // 16-bit RGBA at most, two rows of filtering
	case api.GIF.MIME:
		decoded = 5 * px // the first frame, drawn on a canvas of the full size
	default: // WebP: YCbCr + alpha, or NRGBA for lossless
		decoded = 4 * px
		if s.Animated {
			decoded = 24 * px // libwebp's canvases and output, in linear memory that grows by copying (measured)
		}
	}
	f := int64(max(1, shrinkFactor(int(dw), int(dh), tw, th)))
	mw, mh := (dw+f-1)/f, (dh+f-1)/f
	small := 4 * int64(tw) * int64(th)
	// The shrunk (or converted) image, resample's buffer, the output, the
	// WebP encoder's linear memory (9.5 × its input for a 640 px photo,
	// measured; it grows by doubling) and the encoded bytes' buffer.
	return decoded + 4*mw*mh + 4*int64(tw)*mh + small + 12*small + small
}

// jpegScale is the n of jpegscale.DecodeScaled for a variant resized to
// tw×th: the smallest that leaves the decoded image at least as large.
func (s Source) jpegScale(tw, th int) int {
	for _, n := range []int{1, 2, 4} {
		if (s.Width*n+7)/8 >= tw && (s.Height*n+7)/8 >= th {
			return n
		}
	}
	return 8
}

// target is the size, before orientation, that the variant of width w
// in format out is resized to: a WebP is scaled down further, when it
// must, to fit WebP's longest side.
func (s Source) target(w int, out api.Format) (int, int) {
	uw, uh := s.Fit(w)
	if long := max(uw, uh); out.MIME == api.WebP.MIME && long > maxWebPSide {
		uw, uh = max(1, uw*maxWebPSide/long), max(1, uh*maxWebPSide/long)
	}
	if s.Orientation >= 5 {
		return uh, uw
	}
	return uw, uh
}

// Decode decodes an original of header s for a picture of at least tw×th
// (before orientation, which it does not apply): the first frame of an
// animation; a JPEG at the smallest reduced size that is still that large
// (jpegScale). Variants and perceptual hashes (package pdq) decode by it.
func Decode(data []byte, s Source, tw, th int) (image.Image, error) {
	r := bytes.NewReader(data)
	var m image.Image
	var err error
	switch f := s.Format; f.MIME {
	case api.JPEG.MIME:
		m, err = jpegscale.DecodeScaled(r, s.jpegScale(tw, th))
	case api.PNG.MIME:
		m, err = png.Decode(r)
	case api.GIF.MIME:
		m, err = gif.Decode(r) // the first frame
		if full := image.Rect(0, 0, s.Width, s.Height); err == nil && m.Bounds() != full {
			// A frame smaller than the screen, or offset in it, is drawn
			// where browsers draw it, on a transparent canvas.
			canvas := image.NewRGBA(full)
			draw.Draw(canvas, m.Bounds(), m, m.Bounds().Min, draw.Src)
			m = canvas
		}
	case api.WebP.MIME:
		m, err = xwebp.Decode(r)
		if err != nil {
			// x/image/webp reads no animation: libwebp's first frame.
			m, err = webp.Decode(bytes.NewReader(data))
		}
	default:
		return nil, ErrUnsupported
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUnsupported, err)
	}
	return m, nil
}

func webpConfig(data []byte) (image.Config, error) {
	cfg, err := xwebp.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		return webp.DecodeConfig(bytes.NewReader(data))
	}
	return cfg, nil
}

// Render makes the variant of width w (upright, never upscaled) of the
// original data, whose header is s, encoded as out, and writes it to dst.
func Render(dst io.Writer, data []byte, s Source, w int, out api.Format) error {
	tw, th := s.target(w, out)
	m, err := Decode(data, s, tw, th)
	if err != nil {
		return err
	}
	if y, ok := m.(*image.YCbCr); ok && out.MIME == api.WebP.MIME && y.Rect.Min == (image.Point{}) {
		if err := renderYCbCrWebP(dst, y, tw, th, s.Orientation); err != nil {
			return fmt.Errorf("encode %s: %w", out.Name, err)
		}
		return nil
	}
	small := Resize(m, tw, th)
	m = nil
	small = orient(small, s.Orientation)
	return encode(dst, small, out)
}

func encode(dst io.Writer, m *image.RGBA, f api.Format) error {
	var err error
	switch f.MIME {
	case api.JPEG.MIME:
		err = jpeg.Encode(dst, m, &jpeg.Options{Quality: JPEGQuality})
	case api.PNG.MIME:
		err = (&png.Encoder{CompressionLevel: png.DefaultCompression}).Encode(dst, m)
	case api.WebP.MIME:
		err = webp.Encode(dst, m, webp.Options{Quality: WebPQuality, Method: webpMethod})
	default:
		return fmt.Errorf("variant: cannot encode %s", f.Name)
	}
	if err != nil {
		return fmt.Errorf("encode %s: %w", f.Name, err)
	}
	return nil
}

// webpMethod is libwebp's speed/size trade-off (0 fastest … 6 smallest).
// cwebp and libvips default to 4, but libwebp in WebAssembly takes 160 ms
// at 4 for a 640 px photo, 43 ms at 1 and 32 ms at 0; 0 makes files 0.3 %
// larger than 1 and 3 % larger than 4, as close to the resized picture
// (the same mean error within 0.01 level; BENCHMARKS.md, "Variants").
const webpMethod = 0

// Warm compiles the WebP encoder's WebAssembly module (about 0.3 s), so
// that the first request does not pay for it.
func Warm() error {
	var b bytes.Buffer
	return encode(&b, image.NewRGBA(image.Rect(0, 0, 8, 8)), api.WebP)
}

// WebPEngine says which libwebp encodes WebP: the one compiled to
// WebAssembly inside the binary, or, when the binary is dynamically linked
// and the system has libwebp.so (Debian's libwebp-dev), the system's,
// which gen2brain/webp then loads instead.
func WebPEngine() string {
	if webp.Dynamic() == nil {
		return "system libwebp.so"
	}
	return "libwebp in WebAssembly"
}

// Encodable reports whether variants can be encoded as f (GIF cannot).
func Encodable(f api.Format) bool {
	return f.MIME == api.JPEG.MIME || f.MIME == api.PNG.MIME || f.MIME == api.WebP.MIME
}
