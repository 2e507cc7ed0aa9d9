package composer_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/userimages/userimages/client/api"
	"userimages/composer"
)

func testConfig() composer.Config {
	return composer.Config{
		Brands:        func(context.Context) ([]string, error) { return []string{"10016", "20000"}, nil },
		MaxFileSize:   2_000_000,
		ContentTypes:  []string{"image/jpeg", "image/png"},
		VariantWidths: []int{320, 640},
	}
}

type answer struct {
	status int
	header http.Header
	body   string
}

func get(t *testing.T, h http.Handler, method, path string, header ...string) answer {
	t.Helper()
	req := httptest.NewRequest(method, path, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	b, _ := io.ReadAll(rec.Result().Body)
	return answer{rec.Code, rec.Result().Header, string(b)}
}

func TestServesPageAndAssets(t *testing.T) {
	h := composer.Handler(testConfig())
	for _, tc := range []struct{ path, contentType, contains string }{
		{"/composer/", "text/html; charset=utf-8", "<title>"},
		{"/composer/index.html", "text/html; charset=utf-8", "<title>"},
		{"/composer/composer.js", "text/javascript; charset=utf-8", "user_images/uploads"},
		{"/composer/composer.css", "text/css; charset=utf-8", ".dropzone"},
		{"/composer/config.json", "application/json", `"brands"`},
	} {
		a := get(t, h, http.MethodGet, tc.path)
		if a.status != http.StatusOK {
			t.Errorf("GET %s: got status %d, want 200", tc.path, a.status)
			continue
		}
		if got := a.header.Get("Content-Type"); got != tc.contentType {
			t.Errorf("GET %s: got Content-Type %q, want %q", tc.path, got, tc.contentType)
		}
		if got := a.header.Get("X-Content-Type-Options"); got != "nosniff" {
			t.Errorf("GET %s: got X-Content-Type-Options %q, want nosniff", tc.path, got)
		}
		csp := a.header.Get("Content-Security-Policy")
		for _, want := range []string{"default-src 'none'", "script-src 'self';", "style-src 'self';", "img-src 'self' blob: data:", "connect-src 'self'", "frame-ancestors 'none'"} {
			if !strings.Contains(csp, want) {
				t.Errorf("GET %s: got CSP %q, want it to contain %q", tc.path, csp, want)
			}
		}
		if strings.Contains(csp, "unsafe") {
			t.Errorf("GET %s: got CSP %q, want nothing unsafe", tc.path, csp)
		}
		if !strings.Contains(a.body, tc.contains) {
			t.Errorf("GET %s: got body without %q", tc.path, tc.contains)
		}
	}
}

func TestConfigJSON(t *testing.T) {
	a := get(t, composer.Handler(testConfig()), http.MethodGet, "/composer/config.json")
	var got struct {
		Brands       []string `json:"brands"`
		MaxFileSize  int64    `json:"max_file_size"`
		ContentTypes []string `json:"content_types"`
	}
	if err := json.Unmarshal([]byte(a.body), &got); err != nil {
		t.Fatalf("config.json: %v: %s", err, a.body)
	}
	if !slices.Equal(got.Brands, []string{"10016", "20000"}) || got.MaxFileSize != 2_000_000 ||
		!slices.Equal(got.ContentTypes, []string{"image/jpeg", "image/png"}) {
		t.Errorf("config.json: got %+v", got)
	}
	if cc := a.header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("config.json: got Cache-Control %q, want no-store (brands change)", cc)
	}

	// Without brands the page still gets lists, not nulls.
	a = get(t, composer.Handler(composer.Config{}), http.MethodGet, "/composer/config.json")
	if want := `{"brands":[],"max_file_size":0,"content_types":[],"formats":[`; !strings.HasPrefix(a.body, want) {
		t.Errorf("config.json of an empty Config: got %s, want it to start %s", a.body, want)
	}
}

// TestConfigJSONVocabulary: the formats and messages config.json gives the
// page are client/api's: a head made from each format's signatures is
// detected by api.Detect as that format, and every code has its plain
// sentence.
func TestConfigJSONVocabulary(t *testing.T) {
	a := get(t, composer.Handler(testConfig()), http.MethodGet, "/composer/config.json")
	var got struct {
		Formats []struct {
			MIME      string  `json:"mime"`
			Name      string  `json:"name"`
			Magics    [][]int `json:"magics"`
			Tag       []int   `json:"tag"`
			TagOffset int     `json:"tag_offset"`
		} `json:"formats"`
		Messages       map[api.Code]string `json:"messages"`
		NewUploadCodes []api.Code          `json:"new_upload_codes"`
		RetryableCodes []api.Code          `json:"retryable_codes"`
		VariantWidths  []int               `json:"variant_widths"`
	}
	if err := json.Unmarshal([]byte(a.body), &got); err != nil {
		t.Fatalf("config.json: %v: %s", err, a.body)
	}
	if want := testConfig().VariantWidths; !slices.Equal(got.VariantWidths, want) {
		t.Errorf("variant_widths: got %v, want %v", got.VariantWidths, want)
	}
	if len(got.Formats) != len(api.Formats()) {
		t.Errorf("formats: got %d, want the API's %d", len(got.Formats), len(api.Formats()))
	}
	for _, f := range got.Formats {
		for _, m := range f.Magics {
			head := make([]byte, max(len(m), f.TagOffset+len(f.Tag)))
			for i, b := range m {
				head[i] = byte(b)
			}
			for i, b := range f.Tag {
				head[f.TagOffset+i] = byte(b)
			}
			if d, ok := api.Detect(head); !ok || d.MIME != f.MIME || d.Name != f.Name {
				t.Errorf("format %s: a head from its signature %q is detected as %q %v, want %s", f.MIME, head, d.MIME, ok, f.MIME)
			}
		}
	}
	codes := slices.Collect(maps.Keys(api.StoreCodes()))
	for _, ci := range api.Codes() {
		codes = append(codes, ci.Code)
	}
	for _, c := range codes {
		if got, want := slices.Contains(got.NewUploadCodes, c), c.NeedsNewUpload(); got != want {
			t.Errorf("new_upload_codes has %s: got %v, want %v", c, got, want)
		}
		if got, want := slices.Contains(got.RetryableCodes, c), c.Retryable(); got != want {
			t.Errorf("retryable_codes has %s: got %v, want %v", c, got, want)
		}
		ci, _ := c.Meaning()
		if got := got.Messages[c]; got != ci.Plain || got == "" {
			t.Errorf("messages[%s]: got %q, want %q", c, got, ci.Plain)
		}
	}
}

func TestConfigJSONBrandsFail(t *testing.T) {
	cfg := testConfig()
	cfg.Brands = func(context.Context) ([]string, error) { return nil, errors.New("database is locked") }
	a := get(t, composer.Handler(cfg), http.MethodGet, "/composer/config.json")
	if a.status != http.StatusServiceUnavailable {
		t.Errorf("got status %d, want 503", a.status)
	}
	if strings.Contains(a.body, "locked") {
		t.Errorf("got body %q, want the cause kept out of it", a.body)
	}
}

func TestConnectOrigins(t *testing.T) {
	cfg := testConfig()
	cfg.ConnectOrigins = []string{"https://uploads.example.com"}
	a := get(t, composer.Handler(cfg), http.MethodGet, "/composer/")
	if csp := a.header.Get("Content-Security-Policy"); !strings.Contains(csp, "connect-src 'self' https://uploads.example.com;") {
		t.Errorf("got CSP %q, want connect-src to name the upload origin", csp)
	}
}

func TestNotFoundAndMethods(t *testing.T) {
	h := composer.Handler(testConfig())
	for _, p := range []string{"/composer/nope.js", "/composer/static/index.html", "/composer/composer.go", "/other"} {
		if a := get(t, h, http.MethodGet, p); a.status != http.StatusNotFound {
			t.Errorf("GET %s: got status %d, want 404", p, a.status)
		}
	}
	a := get(t, h, http.MethodPost, "/composer/")
	if a.status != http.StatusMethodNotAllowed || a.header.Get("Allow") != "GET, HEAD" {
		t.Errorf("POST: got status %d, Allow %q; want 405, GET, HEAD", a.status, a.header.Get("Allow"))
	}
	if a := get(t, h, http.MethodHead, "/composer/composer.css"); a.status != http.StatusOK || a.body != "" {
		t.Errorf("HEAD: got status %d, body %d bytes; want 200 and no body", a.status, len(a.body))
	}
}

func TestETagRevalidation(t *testing.T) {
	h := composer.Handler(testConfig())
	a := get(t, h, http.MethodGet, "/composer/composer.js")
	etag := a.header.Get("ETag")
	if etag == "" || a.header.Get("Cache-Control") != "no-cache" {
		t.Fatalf("got ETag %q, Cache-Control %q; want an ETag and no-cache", etag, a.header.Get("Cache-Control"))
	}
	if a := get(t, h, http.MethodGet, "/composer/composer.js", "If-None-Match", etag); a.status != http.StatusNotModified {
		t.Errorf("If-None-Match the ETag: got status %d, want 304", a.status)
	}
}

// The CSP forbids inline script and style, so the page must have none: they
// would be silently blocked. Nor may it load anything from elsewhere.
func TestPageHasNothingInline(t *testing.T) {
	page := get(t, composer.Handler(testConfig()), http.MethodGet, "/composer/").body
	scripts := regexp.MustCompile(`(?is)<script[^>]*>(.*?)</script>`).FindAllStringSubmatch(page, -1)
	if len(scripts) == 0 {
		t.Errorf("index.html has no <script>")
	}
	for _, m := range scripts {
		if !strings.Contains(m[0], ` src="`) || strings.TrimSpace(m[1]) != "" {
			t.Errorf("index.html has the inline script %q", m[0])
		}
	}
	for _, re := range []string{`<style`, `\sstyle=`, `\son[a-z]+=`, `javascript:`, `https?://`} {
		if m := regexp.MustCompile(`(?i)` + re).FindString(page); m != "" {
			t.Errorf("index.html has %q, which the CSP blocks or which needs the network", m)
		}
	}
}

// Every element the script looks up must be on the page, and every control
// must have a label.
func TestPageHasWhatTheScriptUses(t *testing.T) {
	h := composer.Handler(testConfig())
	page := get(t, h, http.MethodGet, "/composer/").body
	script := get(t, h, http.MethodGet, "/composer/composer.js").body
	ids := regexp.MustCompile(`byId\('([^']+)'\)`).FindAllStringSubmatch(script, -1)
	if len(ids) < 5 {
		t.Fatalf("got %d byId lookups in composer.js, want the page's elements", len(ids))
	}
	for _, m := range ids {
		if !strings.Contains(page, `id="`+m[1]+`"`) {
			t.Errorf("composer.js looks up #%s, which index.html lacks", m[1])
		}
	}
	for _, m := range regexp.MustCompile(`<(input|textarea|select)[^>]*\sid="([^"]+)"`).FindAllStringSubmatch(page, -1) {
		if !strings.Contains(page, `<label for="`+m[2]+`"`) {
			t.Errorf("<%s id=%q> has no <label for>", m[1], m[2])
		}
	}
	if !regexp.MustCompile(`role="status" aria-live="polite"`).MatchString(page) {
		t.Errorf("index.html has no polite live region")
	}
}
