package imagesafe

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// FuzzInspect feeds arbitrary bytes to every format. Whatever the input: no
// panic, a refusal or a plan; a planned output is accepted again, unchanged,
// and is never larger than the input plus the few bytes of a rebuilt header.
func FuzzInspect(f *testing.F) {
	files, _ := filepath.Glob("testdata/*")
	for _, name := range files {
		if b, err := os.ReadFile(name); err == nil {
			f.Add(b, uint8(0), true)
		}
	}
	f.Add(encodeJPEG(f, 8, 8), uint8(0), true)
	f.Add(encodePNG(f, 8, 8), uint8(1), false)
	f.Add(encodeGIF(f, 8, 8), uint8(2), true)
	f.Add(withComment(encodeJPEG(f, 4, 4), "<script>"), uint8(0), false)
	f.Add([]byte("\xff\xd8\xff\xe1\x00\x02Exif\x00\x00\xff\xd9"), uint8(0), true)
	f.Add([]byte(pngMagic+"\x7f\xff\xff\xffIHDR\x00\x00\x00\x01"), uint8(1), true)
	f.Fuzz(func(t *testing.T, data []byte, format uint8, strip bool) {
		ct := formats[int(format)%len(formats)].MIME
		opt := Options{Strip: strip}
		plan, err := Inspect(bytes.NewReader(data), ct, opt)
		if err != nil {
			var r *Refusal
			if !errors.As(err, &r) {
				t.Fatalf("Inspect: got a %T error %v, want a *Refusal", err, err)
			}
			return
		}
		out, err := io.ReadAll(plan.Reader(bytes.NewReader(data)))
		if err != nil {
			t.Fatalf("plan reader: %v", err)
		}
		if len(out) > len(data)+64 {
			t.Fatalf("output %d bytes from %d of input", len(out), len(data))
		}
		again, err := Inspect(bytes.NewReader(out), ct, opt)
		if err != nil {
			t.Fatalf("the output is refused: %v", err)
		}
		if again.Width != plan.Width || again.Height != plan.Height {
			t.Fatalf("dimensions changed: %dx%d then %dx%d", plan.Width, plan.Height, again.Width, again.Height)
		}
	})
}
