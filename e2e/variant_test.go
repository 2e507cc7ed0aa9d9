package e2e

import (
	"bytes"
	"fmt"
	"image"
	"image/jpeg"
	"image/png"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/userimages/userimages/client/api"
	"golang.org/x/image/webp"

	"userimages/internal/testkit/testphoto"
)

// decodeVariant decodes a variant's bytes with Go's decoder of its
// Content-Type.
func decodeVariant(contentType string, b []byte) (image.Image, error) {
	switch contentType {
	case api.JPEG.MIME:
		return jpeg.Decode(bytes.NewReader(b))
	case api.PNG.MIME:
		return png.Decode(bytes.NewReader(b))
	case api.WebP.MIME:
		return webp.Decode(bytes.NewReader(b))
	}
	return nil, fmt.Errorf("content type %q is no variant format", contentType)
}

// getVariant GETs path?query with header and decodes the variant.
func getVariant(t *testing.T, base, path, query string, header map[string]string) (*http.Response, []byte, image.Image) {
	t.Helper()
	res, body, err := do(http.DefaultClient, http.MethodGet, base+path+"?"+query, "", header, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET %s?%s: got status %d, want 200; body %s", path, query, res.StatusCode, body)
	}
	m, err := decodeVariant(res.Header.Get("Content-Type"), body)
	if err != nil {
		t.Fatalf("GET %s?%s: %v", path, query, err)
	}
	return res, body, m
}

// redAt reports whether a variant's pixel at x, y is red-dominated, as
// testphoto's top-left quarter is.
func redAt(m image.Image, x, y int) bool {
	r, _, b, _ := m.At(x, y).RGBA()
	return r > 2*b
}

// TestVariants: widths and formats decode to the right size and format;
// the original's width is never exceeded; auto=format follows Accept and
// says Vary: Accept; an Orientation=6 photo's variant is upright; other
// widths and parameters are 400 InvalidVariant; variants answer Range,
// ETag and 304 as originals do, and go with a takedown.
func TestVariants(t *testing.T) {
	data := t.TempDir()
	srv := startServer(t, data, "--variant-pregenerate", "320.webp")
	photo := sampleFlow(t, srv, "", api.JPEG.MIME, testphoto.JPEG(1600, 1200, 1, 0))
	var pngBuf bytes.Buffer
	if err := png.Encode(&pngBuf, testphoto.Image(800, 600, 2)); err != nil {
		t.Fatal(err)
	}
	pngPath := sampleFlow(t, srv, "", api.PNG.MIME, pngBuf.Bytes())
	acceptWebP := map[string]string{"Accept": "image/avif,image/webp,image/*;q=0.8"}

	for _, tc := range []struct {
		path, query  string
		header       map[string]string
		wantType     string
		wantW, wantH int
		wantVary     bool
	}{
		{photo, "w=640", nil, api.JPEG.MIME, 640, 480, false},
		{photo, "w=640&fm=webp", nil, api.WebP.MIME, 640, 480, false},
		{photo, "w=160&fm=png", nil, api.PNG.MIME, 160, 120, false},
		{photo, "w=320&fm=jpg", nil, api.JPEG.MIME, 320, 240, false},
		{photo, "w=1920", nil, api.JPEG.MIME, 1600, 1200, false},
		{photo, "w=960&auto=format", acceptWebP, api.WebP.MIME, 960, 720, true},
		{photo, "w=960&auto=format", map[string]string{"Accept": "image/webp;q=0, */*"}, api.JPEG.MIME, 960, 720, true},
		{photo, "w=960&auto=format&fm=png", acceptWebP, api.PNG.MIME, 960, 720, false},
		{pngPath, "w=320", nil, api.PNG.MIME, 320, 240, false},
		{pngPath, "w=320&auto=format", acceptWebP, api.WebP.MIME, 320, 240, true},
		// A format without a width: the picture at its own size (imgix's
		// ?auto=format alone).
		{photo, "fm=webp", nil, api.WebP.MIME, 1600, 1200, false},
		{photo, "auto=format", acceptWebP, api.WebP.MIME, 1600, 1200, true},
		{photo, "auto=format", nil, api.JPEG.MIME, 1600, 1200, true},
		{pngPath, "fm=jpg", nil, api.JPEG.MIME, 800, 600, false},
	} {
		t.Run(tc.query, func(t *testing.T) {
			res, _, m := getVariant(t, srv.base, tc.path, tc.query, tc.header)
			if got := res.Header.Get("Content-Type"); got != tc.wantType {
				t.Errorf("got Content-Type %s, want %s", got, tc.wantType)
			}
			if got := m.Bounds().Size(); got != image.Pt(tc.wantW, tc.wantH) {
				t.Errorf("got %v, want %dx%d", got, tc.wantW, tc.wantH)
			}
			if got := res.Header.Get("Vary") == "Accept"; got != tc.wantVary {
				t.Errorf("got Vary %q, want Accept: %v", res.Header.Get("Vary"), tc.wantVary)
			}
		})
	}

	t.Run("--variant-pregenerate makes 320.webp at claim", func(t *testing.T) {
		id := strings.TrimSuffix(strings.TrimPrefix(photo, "/hc/user_images/"), ".jpeg")
		deadline := time.Now().Add(20 * time.Second)
		for !stored(t, data, id, "320-webp") {
			if time.Now().After(deadline) {
				t.Fatal("no 320-webp variant stored 20 s after the claim")
			}
			time.Sleep(50 * time.Millisecond)
		}
	})

	t.Run("orientation 6 is applied", func(t *testing.T) {
		// Stored 1200×800 with red top left; a viewer turns it 90° clockwise:
		// 800×1200, red top right.
		turned := sampleFlow(t, srv, "", api.JPEG.MIME, testphoto.JPEG(1200, 800, 3, 6))
		_, _, m := getVariant(t, srv.base, turned, "w=320", nil)
		if got := m.Bounds().Size(); got != image.Pt(320, 480) {
			t.Errorf("got %v, want 320x480", got)
		}
		if !redAt(m, 300, 20) || redAt(m, 20, 20) {
			t.Errorf("the red quarter is not top right: the variant is not upright")
		}
	})

	t.Run("400 InvalidVariant", func(t *testing.T) {
		for _, q := range []string{"w=641", "w=640&fm=gif", "w=640&q=80", "v=2", "fm=gif", "w=&fm=webp", "w=640&w=320", "w=640&auto=compress", "auto=compress", "w=abc"} {
			res, body, err := do(http.DefaultClient, http.MethodGet, srv.base+photo+"?"+q, "", nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			if res.StatusCode != http.StatusBadRequest || errorCode(body) != string(api.CodeInvalidVariant) || !strings.Contains(string(body), "160|320|640|960|1280|1920") {
				t.Errorf("GET ?%s: got %d %s, want 400 InvalidVariant naming the widths", q, res.StatusCode, body)
			}
			// The format names the README lists.
			if !strings.Contains(string(body), "fm=jpeg|jpg|png|webp") {
				t.Errorf("GET ?%s: got %s, want the formats jpeg|jpg|png|webp named", q, body)
			}
		}
	})

	t.Run("served as originals are", func(t *testing.T) {
		_, body, _ := getVariant(t, srv.base, photo, "w=640&fm=webp", nil)
		checkServed(t, srv, photo+"?w=640&fm=webp", api.WebP.MIME, body)
		_, body, _ = getVariant(t, srv.base, photo, "fm=webp", nil)
		checkServed(t, srv, photo+"?fm=webp", api.WebP.MIME, body)
	})

	t.Run("CORS as originals", func(t *testing.T) {
		corsOf := func(query string) http.Header {
			res, body, err := do(http.DefaultClient, http.MethodGet, srv.base+photo+query, "", map[string]string{"Origin": "https://help.example.com"}, nil)
			if err != nil || res.StatusCode != http.StatusOK {
				t.Fatalf("GET %s: got %v %s %.200s, want 200", query, err, statusCode(res), body)
			}
			h := http.Header{}
			for k, v := range res.Header {
				if strings.HasPrefix(k, "Access-Control-") {
					h[k] = v
				}
			}
			return h
		}
		want := corsOf("")
		if want.Get("Access-Control-Expose-Headers") == "" || want.Get("Access-Control-Allow-Origin") == "" {
			t.Fatalf("the original answers CORS headers %v: want Allow-Origin and Expose-Headers", want)
		}
		for _, q := range []string{"?w=640", "?w=640&fm=webp", "?fm=webp", "?auto=format"} {
			if got := corsOf(q); !reflect.DeepEqual(got, want) {
				t.Errorf("GET %s: got CORS headers %v, want the original's %v", q, got, want)
			}
		}
	})

	t.Run("the CLI prints a srcset of variant URLs", func(t *testing.T) {
		file := clientFile(t, t.TempDir(), "photo.jpeg", testphoto.JPEG(1000, 750, 5, 0))
		out := runCLI(t, "", "upload", "--server", srv.base, "--brand", brandID, "--srcset", "320,640", file)
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if len(lines) != 2 {
			t.Fatalf("upload --srcset: got %q, want the path and the srcset", out)
		}
		// The narrower copies, then the picture itself at its width (the
		// claim's X-Image-Width), as the composer writes it.
		want := fmt.Sprintf("%[1]s%[2]s?w=320&auto=format 320w, %[1]s%[2]s?w=640&auto=format 640w, %[1]s%[2]s 1000w", srv.base, lines[0])
		if lines[1] != want {
			t.Fatalf("got srcset %q, want %q", lines[1], want)
		}
		for _, w := range []int{320, 640} {
			_, _, m := getVariant(t, srv.base, lines[0], fmt.Sprintf("w=%d&auto=format", w), nil)
			if m.Bounds().Dx() != w {
				t.Errorf("the srcset's %dw URL: got width %d", w, m.Bounds().Dx())
			}
		}
	})

	t.Run("takedown removes the variants", func(t *testing.T) {
		runCLI(t, "", "images", "rm", "--data", data, "--reason", "test", photo)
		for _, q := range []string{"w=640", "w=640&fm=webp", "w=1920"} {
			if _, err := fetch(http.DefaultClient, srv.base, photo+"?"+q); statusOf(err) != http.StatusNotFound {
				t.Errorf("GET ?%s after the takedown: got %v, want 404", q, err)
			}
		}
	})
}

// TestVariantTakedownScaleOut: on two instances sharing PostgreSQL and a
// bucket, a variant made by one is served by the other, and a takedown
// on one makes the variant 404 at once on both and deletes it from the
// bucket.
func TestVariantTakedownScaleOut(t *testing.T) {
	d := newScaleOut(t)
	a, b := d.start(t), d.start(t)
	path := sampleFlow(t, a, "", api.JPEG.MIME, testphoto.JPEG(1280, 960, 4, 0))
	_, made, _ := getVariant(t, a.base, path, "w=640&fm=webp", nil)
	_, served, _ := getVariant(t, b.base, path, "w=640&fm=webp", nil)
	if !bytes.Equal(made, served) {
		t.Errorf("B served %d bytes, A made %d: want the stored variant", len(served), len(made))
	}
	t.Run("redirect mode redirects to the stored variant", func(t *testing.T) {
		r := d.start(t, "--serve-mode", "redirect")
		noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		res, body, err := do(noFollow, http.MethodGet, r.base+path+"?w=640&fm=webp", "", nil, nil)
		if err != nil || res.StatusCode != http.StatusFound {
			t.Fatalf("got %v %s %s, want 302", err, statusCode(res), body)
		}
		got, err := fetch(http.DefaultClient, "", res.Header.Get("Location"))
		if err != nil || !bytes.Equal(got, made) {
			t.Errorf("GET the redirect's target: got %d bytes, %v; want the %d of the stored variant", len(got), err, len(made))
		}
	})
	bucket := d.openBlobs(t)
	variants := func() []string {
		var keys []string
		if err := bucket.List(t.Context(), "variants/", func(k string, _ time.Time) error { keys = append(keys, k); return nil }); err != nil {
			t.Fatal(err)
		}
		return keys
	}
	if got := variants(); len(got) != 1 {
		t.Errorf("got variants %v in the bucket, want the one made", got)
	}
	d.cli(t, "", "images", "rm", "--reason", "test", path)
	for _, srv := range []*server{a, b} {
		if _, err := fetch(http.DefaultClient, srv.base, path+"?w=640&fm=webp"); statusOf(err) != http.StatusNotFound {
			t.Errorf("GET the variant from %s after the takedown: got %v, want 404", srv.base, err)
		}
	}
	if got := variants(); len(got) != 0 {
		t.Errorf("variants left in the bucket after the takedown: %v", got)
	}
}

// TestVariantMemory: 32 concurrent cold requests of distinct 12 MP
// photos keep the server's peak RSS (VmHWM) within --variant-memory + 64
// MiB. The budget is 128 MiB here, so that it, not the machine, is what
// bounds; requests over it wait, or get 503 and Retry-After, and retry.
func TestVariantMemory(t *testing.T) {
	const budget, slack = 128 << 20, 64 << 20
	srv := startServer(t, t.TempDir(), "--variant-memory", "128MiB", "--max-file-size", "10000000", "--rate-limit-create", "off",
		"--rate-limit-put", "off", "--rate-limit-claim", "off",
		"--max-concurrent-variants-per-client", "64") // one client here: the memory budget is what is measured, not fairness
	const n = 32
	photos := make([][]byte, n)
	var wg sync.WaitGroup
	for i := range photos {
		wg.Go(func() { photos[i] = testphoto.JPEG(4000, 3000, uint64(100+i), 0) })
		if i%2 == 1 {
			wg.Wait()
		}
	}
	wg.Wait()
	paths := make([]string, n)
	for i, p := range photos {
		paths[i] = sampleFlow(t, srv, "", api.JPEG.MIME, p)
	}
	before := vmHWM(t, srv.cmd.Process.Pid)
	start := time.Now()
	errs := make([]error, n)
	refused := make([]int, n)
	for i, p := range paths {
		wg.Go(func() {
			for time.Since(start) < 3*time.Minute {
				res, body, err := do(http.DefaultClient, http.MethodGet, srv.base+p+"?w=640&fm=webp", "", nil, nil)
				if err != nil {
					errs[i] = err
					return
				}
				if res.StatusCode == http.StatusServiceUnavailable {
					refused[i]++
					secs, _ := strconv.Atoi(res.Header.Get("Retry-After"))
					time.Sleep(time.Duration(max(secs, 1)) * time.Second)
					continue
				}
				m, err := decodeVariant(res.Header.Get("Content-Type"), body)
				if err == nil && m.Bounds().Dx() != 640 {
					err = fmt.Errorf("got width %d, want 640", m.Bounds().Dx())
				}
				errs[i] = err
				return
			}
			errs[i] = fmt.Errorf("still refused after 3 minutes")
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("variant %d: %v", i, err)
		}
	}
	peak := vmHWM(t, srv.cmd.Process.Pid)
	total := 0
	for _, r := range refused {
		total += r
	}
	t.Logf("32 cold 12 MP → 640 px WebP in %s; peak RSS %d MiB (%d MiB before the GETs), budget %d MiB + %d MiB; %d answers were 503",
		time.Since(start).Round(time.Millisecond), peak>>20, before>>20, budget>>20, slack>>20, total)
	if peak > budget+slack {
		t.Errorf("got peak RSS %d MiB, want at most %d MiB", peak>>20, (budget+slack)>>20)
	}
}

// stored reports whether the embedded blob store under dataDir holds
// image id's variant file name (its keys are sharded into directories).
func stored(t *testing.T, dataDir, id, name string) bool {
	t.Helper()
	found := false
	filepath.WalkDir(filepath.Join(dataDir, "blobs", "variants"), func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && d.Name() == name && strings.Contains(p, id) {
			found = true
		}
		return nil
	})
	return found
}

// vmHWM reads the peak resident set size of process pid, in bytes.
func vmHWM(t *testing.T, pid int) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return kb << 10
		}
	}
	t.Fatal("no VmHWM in /proc/PID/status")
	return 0
}
