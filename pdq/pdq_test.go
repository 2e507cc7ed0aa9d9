package pdq

import (
	"bufio"
	"image"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/userimages/userimages/client/api"
)

// golden is one line of testdata/goldens.csv: what the reference gives a
// picture.
type golden struct {
	name     string
	dihedral [8]Hash
	quality  int
}

func readGoldens(t *testing.T) []golden {
	t.Helper()
	f, err := os.Open("testdata/goldens.csv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var gs []golden
	s := bufio.NewScanner(f)
	for s.Scan() {
		if strings.HasPrefix(s.Text(), "#") {
			continue
		}
		fields := strings.SplitN(s.Text(), ",", 10)
		if len(fields) != 10 {
			t.Fatalf("goldens.csv: %q: want 10 fields", s.Text())
		}
		g := golden{name: fields[9]}
		for i := range g.dihedral {
			if g.dihedral[i], err = ParseHash(fields[i]); err != nil {
				t.Fatal(err)
			}
		}
		if g.quality, err = strconv.Atoi(fields[8]); err != nil {
			t.Fatal(err)
		}
		gs = append(gs, g)
	}
	return gs
}

// corpusRoots are where the goldens' GOROOT/ and XIMAGE/ files are: Go's
// and x/image's test pictures, found at test time. When they cannot be
// found the test is skipped, or fails when $CI is set.
var corpusRoots = sync.OnceValues(func() (map[string]string, error) {
	goroot, err := exec.Command("go", "env", "GOROOT").Output()
	if err != nil {
		return nil, err
	}
	ximage, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "golang.org/x/image").Output()
	if err != nil {
		return nil, err
	}
	return map[string]string{
		"GOROOT/": strings.TrimSpace(string(goroot)) + "/",
		"XIMAGE/": strings.TrimSpace(string(ximage)) + "/",
	}, nil
})

func goldenPath(t *testing.T, name string) string {
	t.Helper()
	for prefix := range map[string]bool{"GOROOT/": true, "XIMAGE/": true} {
		if rest, ok := strings.CutPrefix(name, prefix); ok {
			roots, err := corpusRoots()
			if err != nil {
				corpusUnavailable(t, err)
			}
			return roots[prefix] + rest
		}
	}
	return name
}

func corpusUnavailable(t *testing.T, err error) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatalf("the image corpus is unavailable: %v", err)
	}
	t.Skipf("the image corpus is unavailable: %v", err)
}

func hashFile(t *testing.T, path string) Digest {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		corpusUnavailable(t, err)
	}
	f, ok := api.Detect(data)
	if !ok {
		t.Fatalf("%s: not an image", path)
	}
	d, err := File(data, f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return d
}

// lossy reports whether a golden's picture is lossily compressed, so that
// its decoders (ImageMagick's for the reference, Go's here) may differ.
func lossy(name string) bool {
	ext := filepath.Ext(name)
	return ext == ".jpg" || ext == ".jpeg" || ext == ".webp" && !strings.Contains(name, "lossless")
}

// TestGoldens compares the hashes, the eight dihedral ones, and the
// quality with the reference's: within 4 bits for lossless pictures,
// within 12 (median at most 6) for JPEG and lossy WebP, whose decoders
// differ; the quality within 10.
func TestGoldens(t *testing.T) {
	gs := readGoldens(t)
	if len(gs) < 100 {
		t.Fatalf("%d goldens, want the 102 reference.sh wrote", len(gs))
	}
	var lossyDistances []int
	farthest := map[bool]int{}
	for _, g := range gs {
		d := hashFile(t, goldenPath(t, g.name))
		limit := 4
		if lossy(g.name) {
			limit = 12
		}
		for i, h := range d.Dihedral() {
			dist := Distance(h, g.dihedral[i])
			farthest[lossy(g.name)] = max(farthest[lossy(g.name)], dist)
			if dist > limit {
				t.Errorf("%s: form %d: got %s, %d bits from the reference's %s, want at most %d", g.name, i, h, dist, g.dihedral[i], limit)
			}
			if i == 0 && lossy(g.name) {
				lossyDistances = append(lossyDistances, dist)
			}
		}
		if got := d.Hash(); got != d.Dihedral()[0] {
			t.Errorf("%s: Hash %s, Dihedral()[0] %s", g.name, got, d.Dihedral()[0])
		}
		if diff := d.Quality - g.quality; diff > 10 || diff < -10 {
			t.Errorf("%s: quality %d, reference %d", g.name, d.Quality, g.quality)
		}
	}
	slices.Sort(lossyDistances)
	t.Logf("%d pictures: at most %d bits from the reference's hashes when lossless, %d when lossy (median %d)",
		len(gs), farthest[false], farthest[true], lossyDistances[len(lossyDistances)/2])
	if len(lossyDistances) < 20 {
		t.Fatalf("%d lossy goldens, want 20 or more", len(lossyDistances))
	}
	if m := lossyDistances[len(lossyDistances)/2]; m > 6 {
		t.Errorf("median distance to the reference on lossy pictures: %d bits, want at most 6", m)
	}
}

// TestDihedralForms checks that each dihedral hash is that of the picture
// turned or mirrored as Dihedral documents: within the matching distance
// (31), and nearer than any other form. They are not equal, as the
// filter is not quite symmetric: the reference's own dihedral hashes of
// its test photo (pdq/data/reg-test-input/dih) are 8 to 18 bits from the
// hashes of the turned photos.
func TestDihedralForms(t *testing.T) {
	for _, name := range []string{"photo-320x240.png", "shapes-700x520.png"} {
		f, err := os.Open("testdata/" + name)
		if err != nil {
			t.Fatal(err)
		}
		m, err := png.Decode(f)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		d := FromImage(m, 1)
		forms := d.Dihedral()
		for i, tr := range dihedralTransforms {
			td := FromImage(transform(m, tr), 1)
			got := td.Hash()
			dist := Distance(got, forms[i])
			if dist > 31 {
				t.Errorf("%s: form %d: the transformed picture hashes %d bits from Dihedral()[%d], want at most 31", name, i, dist, i)
			}
			for j, other := range forms {
				if j != i && Distance(got, other) <= dist {
					t.Errorf("%s: form %d: the transformed picture is %d bits from form %d, as near as from its own (%d)", name, i, Distance(got, other), j, dist)
				}
			}
		}
	}
}

// dihedralTransforms map a w×h picture's (x, y) to (X, Y) in the
// transformed picture, in Dihedral's order: as it is, rotated 90°, 180°,
// 270° counter-clockwise, upside down, mirrored left to right, transposed
// (about the main diagonal), about the other diagonal.
var dihedralTransforms = []func(w, h, x, y int) (int, int){
	func(w, h, x, y int) (int, int) { return x, y },
	func(w, h, x, y int) (int, int) { return y, w - 1 - x },
	func(w, h, x, y int) (int, int) { return w - 1 - x, h - 1 - y },
	func(w, h, x, y int) (int, int) { return h - 1 - y, x },
	func(w, h, x, y int) (int, int) { return x, h - 1 - y },
	func(w, h, x, y int) (int, int) { return w - 1 - x, y },
	func(w, h, x, y int) (int, int) { return y, x },
	func(w, h, x, y int) (int, int) { return h - 1 - y, w - 1 - x },
}

func transform(m image.Image, tr func(w, h, x, y int) (int, int)) *image.NRGBA {
	b := m.Bounds()
	w, h := b.Dx(), b.Dy()
	X, Y := tr(w, h, w-1, h-1)
	X0, Y0 := tr(w, h, 0, 0)
	out := image.NewNRGBA(image.Rect(0, 0, max(X, X0)+1, max(Y, Y0)+1))
	for y := range h {
		for x := range w {
			X, Y := tr(w, h, x, y)
			out.Set(X, Y, m.At(b.Min.X+x, b.Min.Y+y))
		}
	}
	return out
}

func TestSmallPictures(t *testing.T) {
	for _, size := range []image.Point{{4, 100}, {100, 4}, {0, 0}} {
		d := FromImage(image.NewGray(image.Rectangle{Max: size}), 1)
		if d.Hash() != (Hash{}) || d.Quality != 0 {
			t.Errorf("%v: got %s quality %d, want the zero hash, quality 0", size, d.Hash(), d.Quality)
		}
	}
}

func TestParseHash(t *testing.T) {
	const s = "d8f8f0cee0f4a84f0637022a078f67f0b36e2ed596621e1d33e6339c4e9c9b22"
	h, err := ParseHash(strings.ToUpper(s))
	if err != nil {
		t.Fatal(err)
	}
	if h.String() != s {
		t.Errorf("got %s want %s", h, s)
	}
	for _, bad := range []string{"", s[:63], s + "0", "g" + s[1:], " " + s[1:]} {
		if _, err := ParseHash(bad); err == nil {
			t.Errorf("ParseHash(%q): no error", bad)
		}
	}
}

func TestDistance(t *testing.T) {
	var a, b Hash
	if got := Distance(a, b); got != 0 {
		t.Errorf("got %d want 0", got)
	}
	b.setBit(0)
	b.setBit(255)
	b.setBit(100)
	if got := Distance(a, b); got != 3 {
		t.Errorf("got %d want 3", got)
	}
	if b.String()[:1] != "8" || b.String()[63:] != "1" {
		t.Errorf("bit 255 is printed first, bit 0 last: got %s", b)
	}
	for i := range a {
		a[i] = 0xff
	}
	if got := Distance(a, Hash{}); got != 256 {
		t.Errorf("got %d want 256", got)
	}
}

// TestSampleYCbCr: the sampling of decoded JPEGs (sampleYCbCr) gives the
// values of the general path (lumaAt) for every chroma subsampling, a
// picture not at the origin (a sub-image), and both sizes: as it is, and
// resized to 512×512.
func TestSampleYCbCr(t *testing.T) {
	ratios := []image.YCbCrSubsampleRatio{image.YCbCrSubsampleRatio444, image.YCbCrSubsampleRatio422, image.YCbCrSubsampleRatio420,
		image.YCbCrSubsampleRatio440, image.YCbCrSubsampleRatio411, image.YCbCrSubsampleRatio410}
	for _, ratio := range ratios {
		for _, r := range []image.Rectangle{image.Rect(3, 5, 203, 155), image.Rect(1, 2, 1100, 700)} {
			m := image.NewYCbCr(r, ratio)
			for i := range m.Y {
				m.Y[i] = byte(i * 7)
			}
			for i := range m.Cb {
				m.Cb[i], m.Cr[i] = byte(i*13), byte(255-i*3)
			}
			sub := m.SubImage(image.Rect(r.Min.X+1, r.Min.Y+3, r.Max.X, r.Max.Y)).(*image.YCbCr)
			for _, p := range []*image.YCbCr{m, sub} {
				got, rows, cols := sample(p)
				b := p.Bounds()
				xs, ys := identity(b.Dx()), identity(b.Dy())
				if cols != b.Dx() {
					xs, ys = nearest(b.Dx()), nearest(b.Dy())
				}
				at := ycbcrLuma(p)
				for i, y := range ys {
					for j, x := range xs {
						if want := at(b.Min.X+x, b.Min.Y+y); got[i*cols+j] != want {
							t.Fatalf("%v %v: luma at (%d, %d) of %d×%d: got %v, want %v", ratio, b, j, i, cols, rows, got[i*cols+j], want)
						}
					}
				}
			}
		}
	}
}
