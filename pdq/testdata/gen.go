//go:build ignore

// Gen writes the test pictures of package pdq (see README.md):
// go run ./pdq/testdata/gen.go (from the repository's root).
package main

import (
	"bytes"
	"image"
	"image/color"
	"image/color/palette"
	"image/draw"
	"image/gif"
	"image/jpeg"
	"image/png"
	"math"
	"os"

	"github.com/gen2brain/webp"

	"userimages/internal/testkit/testphoto"
)

func main() {
	write("photo-1024x768.jpg", testphoto.JPEG(1024, 768, 1, 1))
	for _, o := range []int{3, 5, 6, 8} {
		write("photo-o"+string(rune('0'+o))+".jpg", testphoto.JPEG(480, 320, 2, o))
	}
	write("grey-640x480.jpg", enc(func(b *bytes.Buffer) error {
		c := testphoto.Image(640, 480, 3)
		g := &image.Gray{Pix: c.Y, Stride: c.YStride, Rect: c.Rect}
		return jpeg.Encode(b, g, &jpeg.Options{Quality: 85})
	}))
	shapes := drawing(700, 520)
	write("shapes-700x520.png", enc(func(b *bytes.Buffer) error { return png.Encode(b, shapes) }))
	write("shapes-300x200.png", enc(func(b *bytes.Buffer) error { return png.Encode(b, drawing(300, 200)) }))
	write("photo-320x240.png", enc(func(b *bytes.Buffer) error { // 8 bits a sample: the reference misreads 16
		src := testphoto.Image(320, 240, 4)
		m := image.NewNRGBA(src.Bounds())
		draw.Draw(m, m.Bounds(), src, image.Point{}, draw.Src)
		return png.Encode(b, m)
	}))
	write("photo-640x480.webp", enc(func(b *bytes.Buffer) error {
		return webp.Encode(b, testphoto.Image(640, 480, 5), webp.Options{Quality: 80})
	}))
	write("shapes-300x200.webp", enc(func(b *bytes.Buffer) error {
		return webp.Encode(b, drawing(300, 200), webp.Options{Lossless: true})
	}))
	write("photo-400x300.gif", enc(func(b *bytes.Buffer) error {
		src := testphoto.Image(400, 300, 6)
		frame := image.NewPaletted(src.Bounds(), palette.Plan9)
		draw.FloydSteinberg.Draw(frame, src.Bounds(), src, image.Point{})
		second := image.NewPaletted(src.Bounds(), palette.Plan9) // black: only the first frame is hashed
		return gif.EncodeAll(b, &gif.GIF{Image: []*image.Paletted{frame, second}, Delay: []int{10, 10}})
	}))
	write("gradient-400x300.png", enc(func(b *bytes.Buffer) error { // flat: low quality
		m := image.NewGray(image.Rect(0, 0, 400, 300))
		for y := range 300 {
			for x := range 400 {
				m.Pix[y*m.Stride+x] = uint8(100 + x/20 + y/30)
			}
		}
		return png.Encode(b, m)
	}))
	write("tiny-4x4.png", enc(func(b *bytes.Buffer) error { return png.Encode(b, drawing(4, 4)) }))
}

// drawing is a w×h picture of overlapping discs and bars on a gradient.
func drawing(w, h int) *image.NRGBA {
	m := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			c := color.NRGBA{uint8(60 + 120*x/w), uint8(90 + 100*y/h), 170, 255}
			for i, d := range [][3]float64{{0.3, 0.35, 0.2}, {0.7, 0.6, 0.25}, {0.5, 0.8, 0.12}} {
				if math.Hypot(float64(x)/float64(w)-d[0], float64(y)/float64(h)-d[1]) < d[2] {
					c = color.NRGBA{uint8(250 - 90*i), uint8(40 + 80*i), uint8(30 * i), 255}
				}
			}
			if x%97 < 12 && y > h/4 {
				c = color.NRGBA{20, 20, 20, 255}
			}
			m.SetNRGBA(x, y, c)
		}
	}
	return m
}

func enc(f func(*bytes.Buffer) error) []byte {
	var b bytes.Buffer
	if err := f(&b); err != nil {
		panic(err)
	}
	return b.Bytes()
}

func write(name string, data []byte) {
	if err := os.WriteFile("pdq/testdata/"+name, data, 0o644); err != nil {
		panic(err)
	}
}
