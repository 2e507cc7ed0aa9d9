package e2e

import (
	"net/http"
	"strings"
	"sync"
	"testing"
)

// warm GETs each path once, then 4 times from 8 clients at once, so that every cache
// of srv holds it: the image metadata, and several descriptors of each
// file in the open-file cache (one per concurrent reader).
func warm(t *testing.T, srv *server, paths ...string) {
	t.Helper()
	for _, p := range paths { // a variant is made once, first
		if _, err := fetch(http.DefaultClient, srv.base, p); err != nil {
			t.Fatalf("GET %s: %v", p, err)
		}
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8*4*len(paths))
	for range 8 {
		wg.Go(func() {
			for range 4 {
				for _, p := range paths {
					if _, err := fetch(http.DefaultClient, srv.base, p); err != nil {
						errs <- err
					}
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("warming %v: %v", paths, err)
	}
}

// gone fails t unless every path answers 404 on every server, asked once
// each, right away.
func gone(t *testing.T, when string, servers map[string]*server, paths ...string) {
	t.Helper()
	for name, srv := range servers {
		for _, p := range paths {
			if _, err := fetch(http.DefaultClient, srv.base, p); statusOf(err) != http.StatusNotFound {
				t.Errorf("GET %s on %s just after %s: got %v, want 404", p, name, when, err)
			}
		}
	}
}

// TestTakedownWithWarmCaches: with the original and a variant in every
// cache of two servers on one data directory (the embedded default), a
// moderator's DELETE through A, an uploader's DELETE with its upload
// token, and a takedown from the CLI (another process) each answer 404 on
// both at once, for the original and the variant.
func TestTakedownWithWarmCaches(t *testing.T) {
	data := t.TempDir()
	const admin, adminPW = "mod@example.com", "moderator-password"
	runCLI(t, adminPW+"\n", "user", "add", "--admin", "--data", data, "--email", admin, "--password-stdin")
	a, b := startServer(t, data), startServer(t, data)
	both := map[string]*server{"A": a, "B": b}
	rng := newRand(t)
	publish := func() (token, path, id string) {
		token, path, id = published(t, a.base, "", encodeJPEG(t, rng, 400, 300))
		warm(t, a, path, path+"?w=160")
		warm(t, b, path, path+"?w=160")
		return token, path, id
	}

	_, path, id := publish()
	res, body, err := do(http.DefaultClient, http.MethodDelete, a.base+"/api/v2/guide/user_images/"+id+"?reason=spam", basicAuth(admin, adminPW), nil, nil)
	if err != nil || res.StatusCode != http.StatusNoContent {
		t.Fatalf("DELETE as admin: got %v %s, want 204", err, body)
	}
	gone(t, "a moderator's DELETE", both, path, path+"?w=160")

	token, path, id := publish()
	if status, body := deleteImage(t, a.base, id, "", token); status != http.StatusNoContent {
		t.Fatalf("DELETE with the upload token: got %d %s, want 204", status, body)
	}
	gone(t, "the uploader's DELETE", both, path, path+"?w=160")

	_, path, _ = publish()
	runCLI(t, "", "images", "rm", "--data", data, "--reason", "duplicate", path)
	gone(t, "the CLI's takedown", both, path, path+"?w=160")
	if t.Failed() {
		return
	}
	// Another image is still served from the warm caches.
	_, path, _ = publish()
	for name, srv := range both {
		if got, err := fetch(http.DefaultClient, srv.base, path); err != nil || !strings.HasPrefix(string(got), "\xff\xd8") {
			t.Errorf("GET %s on %s: got %d bytes, %v; want the JPEG", path, name, len(got), err)
		}
	}
}
