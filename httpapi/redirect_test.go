package httpapi_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"userimages/httpapi"
)

// cdn redirects to a fixed base, as a CDN in front of the bucket would be.
type cdn struct{ base string }

func (c cdn) RedirectURL(_ context.Context, key string) (string, time.Duration, error) {
	return c.base + "/" + key, 5 * time.Minute, nil
}

// TestRedirectMode: with a redirector, a published image's GET (and HEAD)
// answers 302 to its object, cached no longer than the redirector allows;
// unknown paths, wrong extensions and taken-down images still 404 here.
func TestRedirectMode(t *testing.T) {
	e := newEnv(t, func(c *httpapi.Config) { c.Redirect = cdn{"https://cdn.example.com"} })
	e.srv.Client().CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	_, path := e.claimed("image/jpeg", testJPEG(t, 64, 48))
	id := strings.TrimSuffix(strings.TrimPrefix(path, "/hc/user_images/"), ".jpeg")

	for _, method := range []string{http.MethodGet, http.MethodHead} {
		res := e.do(e.request(method, path, nil))
		if res.status != http.StatusFound {
			t.Fatalf("%s %s: got %d %s, want 302", method, path, res.status, res.body)
		}
		if got, want := res.header.Get("Location"), "https://cdn.example.com/images/"+id; got != want {
			t.Errorf("%s Location: got %q, want %q", method, got, want)
		}
		if got, want := res.header.Get("Cache-Control"), "private, max-age=300"; got != want {
			t.Errorf("%s Cache-Control: got %q, want %q", method, got, want)
		}
		// The picture's size is said on the redirect (the bucket's answer
		// it leads to cannot say it); a variant's, its own.
		checkSize(t, method+" "+path, res.header, "64", "48")
		if res := e.do(e.request(method, path+"?w=160", nil)); res.status != http.StatusFound {
			t.Errorf("%s %s?w=160: got %d, want 302", method, path, res.status)
		} else {
			checkSize(t, method+" "+path+"?w=160", res.header, "64", "48")
		}
	}
	for _, p := range []string{"/hc/user_images/" + id + ".png", "/hc/user_images/AAAAAAAAAAAAAAAAAAAAAA.jpeg"} {
		if res := e.do(e.request(http.MethodGet, p, nil)); res.status != http.StatusNotFound || !strings.Contains(string(res.body), `"NotFound"`) {
			t.Errorf("GET %s: got %d %s, want 404 NotFound", p, res.status, res.body)
		}
	}
	if _, err := e.svc.Moderation.DeleteImage(context.Background(), id, "test", "spam", false); err != nil {
		t.Fatal(err)
	}
	if res := e.do(e.request(http.MethodGet, path, nil)); res.status != http.StatusNotFound {
		t.Errorf("GET after deletion: got %d %s, want 404", res.status, res.body)
	}
}
