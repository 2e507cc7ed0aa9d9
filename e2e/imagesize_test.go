package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/userimages/userimages/client"
	"github.com/userimages/userimages/client/api"
)

// srcsetWidths returns the widths a srcset lists ("… 320w, …").
func srcsetWidths(t *testing.T, srcset string) []int {
	t.Helper()
	var ws []int
	for _, m := range regexp.MustCompile(` (\d+)w(?:,|$)`).FindAllStringSubmatch(srcset, -1) {
		n, _ := strconv.Atoi(m[1])
		ws = append(ws, n)
	}
	return ws
}

// TestSrcsetPictureWidth: a 500 px wide picture, uploaded with the Go
// client and with `userimages upload`, gets a srcset listing no width
// over 500 (the client reads the size the server says with the claim, or
// with a HEAD: Client.Measure); GET and HEAD of the original and of a
// variant say the size in X-Image-Width and X-Image-Height, exposed to
// pages of other origins, as a fetch from one in Chromium reads them.
func TestSrcsetPictureWidth(t *testing.T) {
	srv := startServer(t, t.TempDir())
	rng := newRand(t)
	data := encodeJPEG(t, rng, 500, 375)
	c, err := client.New(srv.base)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	img, err := c.Upload(ctx, strings.NewReader(string(data)), api.JPEG.MIME, int64(len(data)), brandID, nil)
	if err != nil {
		t.Fatal(err)
	}
	if img.Width != 500 || img.Height != 375 {
		t.Errorf("Upload: got %d×%d, want the picture's 500×375", img.Width, img.Height)
	}
	srcset := img.Srcset(api.DefaultVariantWidths)
	if got := srcsetWidths(t, srcset); !slices.Equal(got, []int{160, 320, 500}) || !strings.HasSuffix(srcset, ", "+img.URL+" 500w") {
		t.Errorf("Srcset(%v): got %q (widths %v), want 160 and 320 and the picture at 500", api.DefaultVariantWidths, srcset, got)
	}
	measured, err := c.Measure(ctx, client.Image{URL: img.URL})
	if err != nil || measured.Width != 500 || measured.Height != 375 {
		t.Errorf("Measure: got %d×%d, %v, want 500×375", measured.Width, measured.Height, err)
	}

	// The headers, on GET and HEAD, with CORS exposing them.
	hc := &http.Client{}
	for _, tt := range []struct{ query, w, h string }{{"", "500", "375"}, {"?w=320&auto=format", "320", "240"}, {"?w=1280", "500", "375"}} {
		for _, method := range []string{http.MethodGet, http.MethodHead} {
			req, _ := http.NewRequest(method, img.URL+tt.query, nil)
			req.Header.Set("Origin", "https://help.example.com")
			res, err := hc.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			what := method + " " + img.Path + tt.query
			if res.StatusCode != http.StatusOK || res.Header.Get(api.ImageWidthHeader) != tt.w || res.Header.Get(api.ImageHeightHeader) != tt.h {
				t.Errorf("%s: got %d, %s × %s, want 200, %s × %s", what, res.StatusCode, res.Header.Get(api.ImageWidthHeader), res.Header.Get(api.ImageHeightHeader), tt.w, tt.h)
			}
			exposed := strings.ToLower(res.Header.Get("Access-Control-Expose-Headers"))
			if !strings.Contains(exposed, "x-image-width") || !strings.Contains(exposed, "x-image-height") {
				t.Errorf("%s: Access-Control-Expose-Headers %q: want X-Image-Width and X-Image-Height", what, exposed)
			}
		}
	}

	// The CLI prints the size with --json, and a srcset within it.
	file := clientFile(t, t.TempDir(), "wide.jpg", data)
	run := runUploadCLI(t, nil, "--server", srv.base, "--brand", brandID, "--json", "--srcset", "320,640,1280", file)
	var res struct {
		Width, Height int
		Srcset        string
	}
	if run.exit != 0 || json.Unmarshal([]byte(run.stdout), &res) != nil {
		t.Fatalf("upload --json: exit %d, stdout %q, stderr %q", run.exit, run.stdout, run.stderr)
	}
	if got := srcsetWidths(t, res.Srcset); res.Width != 500 || res.Height != 375 || !slices.Equal(got, []int{320, 500}) {
		t.Errorf("upload --json --srcset 320,640,1280: got %d×%d, srcset %q (widths %v), want 500×375 and 320, 500", res.Width, res.Height, res.Srcset, got)
	}

	// A page of another origin reads the headers with fetch.
	page := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "<!doctype html><title>help center</title>")
	}))
	defer page.Close()
	bctx := newBrowser(t, t.TempDir())
	inBrowser(t, bctx, "open the other origin", chromedp.Navigate(page.URL))
	for _, method := range []string{"GET", "HEAD"} {
		got := inBrowser(t, bctx, "fetch "+method, chromedp.Evaluate[string](fmt.Sprintf(
			`fetch(%q, {method: %q}).then(r => r.headers.get('X-Image-Width') + 'x' + r.headers.get('X-Image-Height'))`, img.URL, method),
			chromedp.EvalAwaitPromise))
		if got != "500x375" {
			t.Errorf("a page of another origin, fetch %s: read %q, want 500x375", method, got)
		}
	}
}
