package e2e

import (
	"bytes"
	"errors"
	"image"
	"image/jpeg"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/image/draw"

	"userimages/internal/testkit/testphoto"
)

// TestBlockingByResemblance: once a moderator takes a photo down with
// block, its re-encoded (JPEG quality 50), half-size, 5 %-brighter,
// 1 %-cropped, rotated and mirrored copies are refused at the PUT with
// 422 BlockedContent, saying it resembles a blocked picture, while other
// photos, and every valid picture of Go's and x/image's test corpora, are
// accepted; a hash list imported with the command line (the hash
// `userimages hash` printed) refuses a re-encoded copy of its picture on
// the running server, until it is removed.
func TestBlockingByResemblance(t *testing.T) {
	data := t.TempDir()
	const admin, adminPW = "mod@example.com", "moderator-password"
	runCLI(t, adminPW+"\n", "user", "add", "--admin", "--data", data, "--email", admin, "--password-stdin")
	srv := startServer(t, data, "--blocklist-poll", "200ms", "--rate-limit-create", "off", "--rate-limit-put", "off", "--rate-limit-claim", "off")
	c := http.DefaultClient

	photo := testphoto.Natural(1024, 768, 7)
	original := jpegBytes(t, photo, 90)
	path := publish(t, c, srv.base, original, "image/jpeg")
	id := strings.TrimSuffix(strings.TrimPrefix(path, "/hc/user_images/"), ".jpeg")
	res, body, err := do(c, http.MethodDelete, srv.base+"/api/v2/guide/user_images/"+id+"?block=true&reason=abuse", basicAuth(admin, adminPW), nil, nil)
	if err != nil || res.StatusCode != http.StatusNoContent {
		t.Fatalf("DELETE ?block=true: got %v %s, want 204", err, body)
	}

	b := photo.Bounds()
	w, h := b.Dx(), b.Dy()
	copies := map[string][]byte{
		"re-encoded at quality 50":  jpegBytes(t, photo, 50),
		"half size":                 jpegBytes(t, scaled(photo, w/2, h/2), 90),
		"5 % brighter":              jpegBytes(t, brightened(photo, 1.05), 90),
		"1 % cropped off each side": jpegBytes(t, cropped(photo, image.Rect(w/100, h/100, w-w/100, h-h/100)), 90),
		"rotated 90°":               jpegBytes(t, turned(photo, true), 90),
		"mirrored":                  jpegBytes(t, turned(photo, false), 90),
	}
	for name, body := range copies {
		err := put(c, srv.base, body, "image/jpeg")
		var e *errStatus
		if !errors.As(err, &e) || e.status != http.StatusUnprocessableEntity || errorCode(e.body) != "BlockedContent" || !bytes.Contains(e.body, []byte("resembles")) {
			t.Errorf("%s: got %v, want 422 BlockedContent saying it resembles a blocked picture", name, err)
		}
	}
	for seed := range uint64(3) {
		if err := put(c, srv.base, jpegBytes(t, testphoto.Natural(1024, 768, 100+seed), 90), "image/jpeg"); err != nil {
			t.Errorf("another photo (seed %d): got %v, want it accepted", 100+seed, err)
		}
	}
	checked := 0
	for _, file := range corpusFiles(t) {
		body, err := os.ReadFile(file.path)
		if err != nil {
			t.Fatal(err)
		}
		var e *errStatus
		if err := put(c, srv.base, body, file.contentType); errors.As(err, &e) && errorCode(e.body) == "BlockedContent" {
			t.Errorf("%s: refused as BlockedContent: %s", file.path, e.body)
		}
		checked++
	}
	if checked < 100 {
		t.Errorf("%d corpus pictures uploaded, want 100 or more", checked)
	}

	// A hash list, as `userimages hash` prints it, imported while the
	// server runs.
	listed := testphoto.Natural(800, 600, 9)
	dir := t.TempDir()
	file := filepath.Join(dir, "listed.jpg")
	if err := os.WriteFile(file, jpegBytes(t, listed, 95), 0o600); err != nil {
		t.Fatal(err)
	}
	line := runCLI(t, "", "hash", file)
	list := filepath.Join(dir, "partner.csv")
	if err := os.WriteFile(list, []byte("# from a partner\n"+line), 0o600); err != nil {
		t.Fatal(err)
	}
	if out := runCLI(t, "", "blocklist", "import", "--data", data, "--reason", "test", list); !strings.Contains(out, `imported 1 hashes as list "partner"`) {
		t.Errorf("blocklist import: got %q", out)
	}
	if out := runCLI(t, "", "blocklist", "ls", "--data", data); !strings.Contains(out, "partner") || !strings.Contains(out, "takedowns") {
		t.Errorf("blocklist ls: got %q, want the partner and takedowns lists", out)
	}
	if out := runCLI(t, "", "blocklist", "export", "--data", data, "--list", "partner"); !strings.Contains(out, line[:64]) {
		t.Errorf("blocklist export: got %q, want the imported hash", out)
	}
	reencoded := jpegBytes(t, listed, 50)
	waitFor(t, "the imported list to refuse a re-encoded copy", func() bool {
		var e *errStatus
		return errors.As(put(c, srv.base, reencoded, "image/jpeg"), &e) && errorCode(e.body) == "BlockedContent"
	})
	runCLI(t, "", "blocklist", "rm", "--data", data, "--reason", "test over", "partner")
	waitFor(t, "the removed list to let the copy through", func() bool { return put(c, srv.base, reencoded, "image/jpeg") == nil })

	// A malformed list imports nothing, naming its line.
	bad := filepath.Join(dir, "bad.csv")
	if err := os.WriteFile(bad, []byte(line+"not a hash\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if r := runCommand(t, "", nil, "blocklist", "import", "--data", data, bad); r.exit == 0 || !strings.Contains(r.stderr, "line 2") {
		t.Errorf("malformed list: got exit %d, stderr %q; want a failure naming line 2", r.exit, r.stderr)
	}
}

// put creates an upload of body and PUTs it.
func put(c *http.Client, base string, body []byte, contentType string) error {
	up, err := createUpload(c, base, "", contentType, len(body))
	if err != nil {
		return err
	}
	return putUpload(c, up, body)
}

// publish uploads and claims body, and returns its path.
func publish(t *testing.T, c *http.Client, base string, body []byte, contentType string) string {
	t.Helper()
	up, err := createUpload(c, base, "", contentType, len(body))
	if err != nil {
		t.Fatal(err)
	}
	if err := putUpload(c, up, body); err != nil {
		t.Fatal(err)
	}
	img, err := claim(c, base, "", up.Upload.Token, brandID)
	if err != nil {
		t.Fatal(err)
	}
	return img.UserImage.Path
}

func jpegBytes(t *testing.T, m image.Image, q int) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := jpeg.Encode(&b, m, &jpeg.Options{Quality: q}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func scaled(m image.Image, w, h int) image.Image {
	out := image.NewRGBA(image.Rect(0, 0, w, h))
	draw.CatmullRom.Scale(out, out.Bounds(), m, m.Bounds(), draw.Src, nil)
	return out
}

func brightened(m *image.RGBA, f float64) image.Image {
	out := image.NewRGBA(m.Bounds())
	for i, v := range m.Pix {
		out.Pix[i] = uint8(min(255, float64(v)*f+0.5))
		if i%4 == 3 {
			out.Pix[i] = v
		}
	}
	return out
}

func cropped(m image.Image, r image.Rectangle) image.Image {
	out := image.NewRGBA(image.Rect(0, 0, r.Dx(), r.Dy()))
	draw.Draw(out, out.Bounds(), m, r.Min, draw.Src)
	return out
}

// turned returns m rotated 90° clockwise, or mirrored left to right.
func turned(m *image.RGBA, rotate bool) image.Image {
	b := m.Bounds()
	w, h := b.Dx(), b.Dy()
	if !rotate {
		out := image.NewRGBA(b)
		for y := range h {
			for x := range w {
				out.Set(w-1-x, y, m.At(x, y))
			}
		}
		return out
	}
	out := image.NewRGBA(image.Rect(0, 0, h, w))
	for y := range h {
		for x := range w {
			out.Set(h-1-y, x, m.At(x, y))
		}
	}
	return out
}

// corpusFile is a picture of Go's or x/image's test data.
type corpusFile struct{ path, contentType string }

// corpusFiles lists the valid pictures of Go's image test data (PngSuite
// among them) and x/image's: those not damaged on purpose.
func corpusFiles(t *testing.T) []corpusFile {
	t.Helper()
	goroot, err := exec.Command("go", "env", "GOROOT").Output()
	if err != nil {
		t.Fatalf("go env GOROOT: %v", err)
	}
	ximage, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "golang.org/x/image").Output()
	if err != nil {
		t.Fatalf("go list -m golang.org/x/image: %v", err)
	}
	src := filepath.Join(strings.TrimSpace(string(goroot)), "src", "image")
	types := map[string]string{".png": "image/png", ".jpeg": "image/jpeg", ".jpg": "image/jpeg", ".gif": "image/gif", ".webp": "image/webp"}
	var files []corpusFile
	for _, dir := range []string{filepath.Join(src, "testdata"), filepath.Join(src, "png", "testdata"), filepath.Join(src, "png", "testdata", "pngsuite"),
		filepath.Join(strings.TrimSpace(string(ximage)), "testdata")} {
		entries, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			ct, ok := types[filepath.Ext(e.Name())]
			if !ok || strings.HasPrefix(e.Name(), "invalid-") || strings.Contains(e.Name(), "truncated") {
				continue
			}
			files = append(files, corpusFile{filepath.Join(dir, e.Name()), ct})
		}
	}
	return files
}
