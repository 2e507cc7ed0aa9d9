package httpapi_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"userimages/composer"
	"userimages/httpapi"
)

// oneBrand stands for the service's brand list.
func oneBrand(context.Context) ([]string, error) { return []string{"10016"}, nil }

func TestComposerRoutes(t *testing.T) {
	e := newEnv(t, func(c *httpapi.Config) {
		c.Composer = composer.Handler(composer.Config{Brands: oneBrand, MaxFileSize: 2_000_000})
	})
	noFollow := e.srv.Client()
	noFollow.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

	res, err := noFollow.Get(e.srv.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusFound || res.Header.Get("Location") != "/composer/" {
		t.Errorf("GET /: got %d Location %q, want 302 to /composer/", res.StatusCode, res.Header.Get("Location"))
	}

	page := e.do(e.request(http.MethodGet, "/composer/", nil))
	if page.status != http.StatusOK || !strings.Contains(string(page.body), "composer.js") {
		t.Errorf("GET /composer/: got %d %.80q, want the page", page.status, page.body)
	}
	if csp := page.header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") {
		t.Errorf("GET /composer/: got CSP %q, want the page's own", csp)
	}
	if page.header.Get("X-Request-Id") == "" {
		t.Errorf("GET /composer/: no X-Request-Id: the page is not behind the request log")
	}

	cfg := e.do(e.request(http.MethodGet, "/composer/config.json", nil))
	if want := `{"brands":["10016"],"max_file_size":2000000,"content_types":[],"formats":[`; !strings.HasPrefix(string(cfg.body), want) {
		t.Errorf("GET /composer/config.json: got %s, want it to start %s", cfg.body, want)
	}

	post := e.postJSON("/composer/", "{}")
	if post.status != http.StatusMethodNotAllowed || !strings.Contains(string(post.body), "MethodNotAllowed") {
		t.Errorf("POST /composer/: got %d %s, want a JSON 405", post.status, post.body)
	}
}

func TestNoComposerByDefault(t *testing.T) {
	e := newEnv(t)
	for _, p := range []string{"/", "/composer/"} {
		res := e.do(e.request(http.MethodGet, p, nil))
		if res.status != http.StatusNotFound {
			t.Errorf("GET %s without a Composer: got %d, want 404", p, res.status)
		}
	}
}
