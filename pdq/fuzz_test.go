package pdq

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/userimages/userimages/client/api"

	"userimages/variant"
)

// maxFuzzPixels bounds the pictures the fuzzer decodes, as the PUT's
// checks (imagesafe) bound them before anything is hashed.
const maxFuzzPixels = 4 << 20

// FuzzFile: any bytes are hashed or refused, never a panic, in time
// bounded by the picture's size; the dihedral forms of a hash are
// consistent with it.
func FuzzFile(f *testing.F) {
	files, _ := filepath.Glob("testdata/*[gp]")
	for _, name := range files {
		if data, err := os.ReadFile(name); err == nil && len(data) < 64<<10 {
			f.Add(data)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		format, ok := api.Detect(data)
		if !ok {
			return
		}
		s, err := variant.Inspect(data, format)
		if err != nil || int64(s.Width)*int64(s.Height) > maxFuzzPixels {
			return
		}
		d, err := File(data, format)
		if err != nil {
			return
		}
		if d.Quality < 0 || d.Quality > 100 {
			t.Fatalf("quality %d", d.Quality)
		}
		if forms := d.Dihedral(); forms[0] != d.Hash() {
			t.Fatalf("Dihedral()[0] %s, Hash %s", forms[0], d.Hash())
		}
	})
}

// FuzzFromLuma: any luminance of any small size hashes without a panic.
func FuzzFromLuma(f *testing.F) {
	f.Add(uint16(64), uint16(64), uint64(1))
	f.Add(uint16(5), uint16(700), uint64(2))
	f.Add(uint16(4), uint16(4), uint64(3))
	f.Fuzz(func(t *testing.T, rows, cols uint16, seed uint64) {
		r, c := int(rows%1100), int(cols%1100)
		rng := rand.New(rand.NewPCG(seed, seed))
		luma := make([]float32, r*c)
		for i := range luma {
			luma[i] = float32(rng.IntN(256))
		}
		d := FromLuma(luma, make([]float32, r*c), r, c)
		if (r < minSide || c < minSide) && (d.Hash() != Hash{} || d.Quality != 0) {
			t.Fatalf("%d×%d: got %s quality %d, want the zero hash", r, c, d.Hash(), d.Quality)
		}
	})
}
