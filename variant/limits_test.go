package variant

import (
	"bytes"
	"encoding/binary"
	"image"
	"image/color"
	"image/gif"
	"image/png"
	"testing"

	"github.com/gen2brain/webp"
	"github.com/userimages/userimages/client/api"
)

// TestTallWebP: a picture taller than WebP's longest side gets a WebP
// variant scaled down to fit it, not an error.
func TestTallWebP(t *testing.T) {
	var b bytes.Buffer
	if err := png.Encode(&b, image.NewGray(image.Rect(0, 0, 1000, 20000))); err != nil {
		t.Fatal(err)
	}
	src, err := Inspect(b.Bytes(), api.PNG)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := Render(&out, b.Bytes(), src, 960, api.WebP); err != nil {
		t.Fatalf("render a 960 px WebP of a 1000×20000 PNG: %v", err)
	}
	cfg, err := webp.DecodeConfig(&out)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Height != maxWebPSide || cfg.Width != 960*maxWebPSide/19200 {
		t.Errorf("got %d×%d, want %d×%d", cfg.Width, cfg.Height, 960*maxWebPSide/19200, maxWebPSide)
	}
}

// TestGIFFrameOnCanvas: a first frame smaller than the GIF's screen, and
// offset in it, stays where browsers draw it, on transparency.
func TestGIFFrameOnCanvas(t *testing.T) {
	pal := color.Palette{color.Transparent, color.RGBA{255, 0, 0, 255}}
	frame := image.NewPaletted(image.Rect(300, 300, 400, 400), pal)
	for i := range frame.Pix {
		frame.Pix[i] = 1
	}
	var b bytes.Buffer
	if err := gif.EncodeAll(&b, &gif.GIF{Image: []*image.Paletted{frame}, Delay: []int{0},
		Config: image.Config{Width: 400, Height: 400, ColorModel: pal}}); err != nil {
		t.Fatal(err)
	}
	src, err := Inspect(b.Bytes(), api.GIF)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := Render(&out, b.Bytes(), src, 200, api.PNG); err != nil {
		t.Fatal(err)
	}
	m, err := png.Decode(&out)
	if err != nil {
		t.Fatal(err)
	}
	if got := m.Bounds().Size(); got != image.Pt(200, 200) {
		t.Errorf("size: got %v, want 200×200", got)
	}
	if _, _, _, a := m.At(10, 10).RGBA(); a != 0 {
		t.Errorf("pixel (10,10), outside the frame: got alpha %d, want transparent", a)
	}
	if r, _, _, a := m.At(190, 190).RGBA(); r>>8 < 250 || a>>8 < 250 {
		t.Errorf("pixel (190,190), inside the frame: got %v, want red", m.At(190, 190))
	}
}

// TestAnimatedWebPCost: an animated WebP is charged for libwebp's
// full-size canvases, however small its frames.
func TestAnimatedWebPCost(t *testing.T) {
	data := animatedWebP(t, 3000, 2000)
	src, err := Inspect(data, api.WebP)
	if err != nil {
		t.Fatal(err)
	}
	if !src.Animated {
		t.Fatalf("Inspect: got %+v, want Animated", src)
	}
	if got, min := src.Cost(320, api.JPEG), int64(24*3000*2000); got < min {
		t.Errorf("cost: got %d, want at least %d", got, min)
	}
}

// animatedWebP is a w×h canvas with two 16×16 lossless frames.
func animatedWebP(t *testing.T, w, h int) []byte {
	t.Helper()
	frame := image.NewNRGBA(image.Rect(0, 0, 16, 16))
	for i := range frame.Pix {
		frame.Pix[i] = byte(i)
	}
	var enc bytes.Buffer
	if err := webp.Encode(&enc, frame, webp.Options{Lossless: true}); err != nil {
		t.Fatal(err)
	}
	i := bytes.Index(enc.Bytes(), []byte("VP8L"))
	n := int(binary.LittleEndian.Uint32(enc.Bytes()[i+4:]))
	vp8l := enc.Bytes()[i : i+8+n+n&1]
	u24 := func(v int) []byte { return []byte{byte(v), byte(v >> 8), byte(v >> 16)} }
	chunk := func(fourcc string, data []byte) []byte {
		c := binary.LittleEndian.AppendUint32([]byte(fourcc), uint32(len(data)))
		c = append(c, data...)
		if len(data)%2 == 1 {
			c = append(c, 0)
		}
		return c
	}
	body := chunk("VP8X", append([]byte{0x02 | 0x10, 0, 0, 0}, append(u24(w-1), u24(h-1)...)...))
	body = append(body, chunk("ANIM", make([]byte, 6))...)
	for f := range 2 {
		anmf := append(append(u24(f), u24(0)...), append(u24(15), u24(15)...)...)
		anmf = append(append(anmf, append(u24(100), 0)...), vp8l...)
		body = append(body, chunk("ANMF", anmf)...)
	}
	out := binary.LittleEndian.AppendUint32([]byte("RIFF"), uint32(4+len(body)))
	return append(append(out, "WEBP"...), body...)
}
