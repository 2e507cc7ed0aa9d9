package imagesafe

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
	"testing/iotest"
)

// TestPlanIndependentOfReads: how the input arrives (a network delivers it
// in pieces of any size) does not change what Inspect concludes: the same
// plan, or the same refusal, whether it is read whole, a byte at a time or
// half a read at a time. (An animated GIF's loop count was dropped, when
// stripping, if its extension's name was read in small pieces.)
func TestPlanIndependentOfReads(t *testing.T) {
	inputs := map[string]struct {
		data []byte
		ct   string
	}{
		"animated GIF":  {animatedGIF(t, 2), "image/gif"},
		"APNG":          {apng(t, 3), "image/png"},
		"animated WebP": {animatedWebP(2), "image/webp"},
		"JPEG":          {withComment(encodeJPEG(t, 8, 8), "a comment"), "image/jpeg"},
		"truncated GIF": {animatedGIF(t, 2)[:60], "image/gif"},
	}
	files, _ := filepath.Glob("testdata/*")
	for _, name := range files {
		if ct, ok := corpusTypes[filepath.Ext(name)]; ok {
			data, err := os.ReadFile(name)
			if err != nil {
				t.Fatal(err)
			}
			inputs[filepath.Base(name)] = struct {
				data []byte
				ct   string
			}{data, ct}
		}
	}
	// conclusion is what Inspect concludes of data, read through r.
	conclusion := func(r io.Reader, data []byte, ct string, opt Options) string {
		plan, err := Inspect(r, ct, opt)
		if err != nil {
			return "refused: " + err.Error()
		}
		out, err := io.ReadAll(plan.Reader(bytes.NewReader(data)))
		if err != nil {
			t.Fatal(err)
		}
		return fmt.Sprintf("%dx%d %q", plan.Width, plan.Height, out)
	}
	readers := map[string]func(io.Reader) io.Reader{
		"a byte at a time": iotest.OneByteReader,
		"half reads":       iotest.HalfReader,
	}
	for name, in := range inputs {
		for _, opt := range []Options{{Strip: true}, {}} {
			want := conclusion(bytes.NewReader(in.data), in.data, in.ct, opt)
			for how, reader := range readers {
				if got := conclusion(reader(bytes.NewReader(in.data)), in.data, in.ct, opt); got != want {
					t.Errorf("%s read %s (strip %v): got %.200s, want %.200s", name, how, opt.Strip, got, want)
				}
			}
		}
	}
}
