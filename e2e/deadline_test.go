package e2e

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"testing"
	"time"

	"userimages/internal/testkit/stallproxy"
)

// The bounds TestHungStore holds the binary to, with --store-timeout
// hungTimeout: DEPLOYMENT.md's "Deadlines" (a request within the store
// timeout plus what it spent before; /readyz within 2 s), with a second of
// slack for a loaded machine.
const (
	hungTimeout = time.Second
	hungBound   = hungTimeout + time.Second
	readyBound  = 2 * time.Second
)

// TestHungStore runs a scale-out instance whose PostgreSQL is behind a
// proxy that stops forwarding, then whose Versity is stopped with
// SIGSTOP: while each hangs, create (when it needs that store), claim, an
// uncached GET and /readyz answer 503 within the documented bounds (and
// /readyz at once once a request found the store silent), and
// so does every request of 16 clients at once; once the store is back,
// /readyz says so, every claim that was answered 201 serves its image,
// and every claim answered 503 succeeds when retried.
func TestHungStore(t *testing.T) {
	d := newScaleOut(t)
	dbURL, err := url.Parse(d.db)
	if err != nil {
		t.Fatal(err)
	}
	proxy := stallproxy.Start(t, dbURL.Host)
	dbURL.Host = proxy.Addr()
	srv := startServerEnv(t, t.TempDir(), d.env, "--db", dbURL.String(), "--blob", d.blob, "--store-timeout", hungTimeout.String(),
		"--rate-limit-create", "off", "--rate-limit-claim", "off")
	h := &hungRun{t: t, base: srv.base, data: encodeJPEG(t, newRand(t), 64, 48)}

	t.Run("PostgreSQL behind a proxy that stops forwarding", func(t *testing.T) {
		h.t = t
		h.hang(proxy.Stall, proxy.Resume, true)
	})
	t.Run("Versity stopped with SIGSTOP", func(t *testing.T) {
		h.t = t
		h.hang(func() { d.s3.Pause(t) }, func() { d.s3.Continue(t) }, false)
	})
}

// hungRun drives one instance through a store's hang.
type hungRun struct {
	t    *testing.T
	base string
	data []byte // the JPEG every upload sends

	mu      sync.Mutex
	slowest map[string]answer // by what, while the store hangs
}

// uploaded creates n uploads and PUTs their bytes, ready to be claimed.
func (h *hungRun) uploaded(n int) []uploadResponse {
	h.t.Helper()
	ups := make([]uploadResponse, n)
	for i := range ups {
		up, err := createUpload(http.DefaultClient, h.base, "", "image/jpeg", len(h.data))
		if err != nil {
			h.t.Fatal(err)
		}
		if err := putUpload(http.DefaultClient, up, h.data); err != nil {
			h.t.Fatal(err)
		}
		ups[i] = up
	}
	return ups
}

// answer is one request's outcome.
type answer struct {
	what   string
	status int
	code   string // the error's code, if any
	retry  string // Retry-After
	took   time.Duration
	body   []byte
	err    error
}

func (h *hungRun) request(what, method, path string, body []byte) answer {
	start := time.Now()
	var header map[string]string
	if body != nil {
		header = jsonHeader
	}
	res, b, err := do(http.DefaultClient, method, h.base+path, "", header, body)
	a := answer{what: what, took: time.Since(start), body: b, err: err}
	if err == nil {
		a.status, a.retry = res.StatusCode, res.Header.Get("Retry-After")
		if res.StatusCode >= 400 {
			a.code = errorCode(b)
		}
	}
	return a
}

func (h *hungRun) create() answer {
	return h.request("create", http.MethodPost, "/api/v2/guide/user_images/uploads",
		fmt.Appendf(nil, `{"content_type":"image/jpeg","file_size":%d}`, len(h.data)))
}

func (h *hungRun) claim(token string) answer {
	return h.request("claim", http.MethodPost, "/api/v2/guide/user_images", fmt.Appendf(nil, `{"token":%q,"brand_id":%q}`, token, brandID))
}

// check fails unless a came within bound, with one of the statuses
// wanted; a 503 must say StorageUnavailable (or, for /readyz,
// ServiceUnavailable) and carry Retry-After.
func (h *hungRun) check(a answer, bound time.Duration, want ...int) {
	h.t.Helper()
	h.mu.Lock()
	if a.took > h.slowest[a.what].took {
		h.slowest[a.what] = a
	}
	h.mu.Unlock()
	switch {
	case a.err != nil:
		h.t.Errorf("%s: %v after %s", a.what, a.err, a.took)
	case a.took > bound:
		h.t.Errorf("%s: answered %d after %s, want within %s", a.what, a.status, a.took, bound)
	case !slices.Contains(want, a.status):
		h.t.Errorf("%s: got %d %s, want one of %v", a.what, a.status, a.code, want)
	case a.status == http.StatusServiceUnavailable && (a.retry == "" || a.code != "StorageUnavailable" && a.code != "ServiceUnavailable"):
		h.t.Errorf("%s: got 503 %s with Retry-After %q, want StorageUnavailable and a Retry-After", a.what, a.code, a.retry)
	}
}

// hang stops the store with stop, checks the answers while it hangs,
// restarts it with resume and checks that everything recovers.
// createNeedsIt: creating an upload calls the hung store.
func (h *hungRun) hang(stop, resume func(), createNeedsIt bool) {
	t := h.t
	pending := h.uploaded(40)
	published, err := claim(http.DefaultClient, h.base, "", h.uploaded(1)[0].Upload.Token, brandID)
	if err != nil {
		t.Fatal(err)
	}
	createWant := http.StatusOK
	if createNeedsIt {
		createWant = http.StatusServiceUnavailable
	}

	h.slowest = map[string]answer{}
	stop()
	stopped := true
	defer func() {
		if stopped {
			resume()
		}
	}()
	h.check(h.request("/readyz", http.MethodGet, "/readyz", nil), readyBound, http.StatusServiceUnavailable)
	h.check(h.create(), hungBound, createWant)
	h.check(h.claim(pending[0].Upload.Token), hungBound, http.StatusServiceUnavailable)
	h.check(h.request("uncached GET", http.MethodGet, published.UserImage.Path, nil), hungBound, http.StatusServiceUnavailable)
	// Requests found the store silent: it is marked unready, and /readyz
	// says so at once.
	h.check(h.request("/readyz once a request found the store silent", http.MethodGet, "/readyz", nil), 300*time.Millisecond,
		http.StatusServiceUnavailable)

	claimed, refused := h.load(pending[1:], createWant)
	t.Logf("16 clients on a hung store: %d claims answered 201, %d answered 503", len(claimed), len(refused))
	for what, a := range h.slowest {
		t.Logf("slowest %s while the store hung: %d %s after %s", what, a.status, a.code, a.took.Round(time.Millisecond))
	}

	resume()
	stopped = false
	h.waitReady()
	for _, path := range append(claimed, published.UserImage.Path) {
		if _, err := fetch(http.DefaultClient, h.base, path); err != nil {
			t.Errorf("an image whose claim was answered 201, after recovery: %v", err)
		}
	}
	for _, token := range append(refused, pending[0].Upload.Token) {
		img, err := claim(http.DefaultClient, h.base, "", token, brandID)
		if err != nil {
			t.Errorf("a claim answered 503 during the hang, retried after recovery: %v", err)
			continue
		}
		if _, err := fetch(http.DefaultClient, h.base, img.UserImage.Path); err != nil {
			t.Errorf("the image of a claim retried after recovery: %v", err)
		}
	}
	h.check(h.create(), hungBound, http.StatusOK)
}

// load runs 16 clients for 2 s against the hung store, each request a
// create, a claim of the next of pending or an uncached GET, and checks
// every answer against the bound. It returns the paths of the claims
// answered 201 and the tokens of those answered 503.
func (h *hungRun) load(pending []uploadResponse, createWant int) (claimed, refused []string) {
	var mu sync.Mutex
	next := 0
	until := time.Now().Add(2 * time.Second)
	var wg sync.WaitGroup
	for w := range 16 {
		wg.Go(func() {
			for i := 0; time.Now().Before(until); i++ {
				switch (w + i) % 3 {
				case 0:
					h.check(h.create(), hungBound, createWant)
				case 1:
					mu.Lock()
					if next == len(pending) {
						mu.Unlock()
						continue
					}
					up := pending[next]
					next++
					mu.Unlock()
					// 201 is allowed only within the bound: a claim that
					// committed before the store hung.
					a := h.claim(up.Upload.Token)
					h.check(a, hungBound, http.StatusCreated, http.StatusServiceUnavailable)
					var img imageResponse
					mu.Lock()
					if a.status == http.StatusCreated && json.Unmarshal(a.body, &img) == nil {
						claimed = append(claimed, img.UserImage.Path)
					} else {
						refused = append(refused, up.Upload.Token)
					}
					mu.Unlock()
				default:
					h.check(h.request("uncached GET", http.MethodGet, fmt.Sprintf("/hc/user_images/%s.jpeg", randomImageID(w, i)), nil),
						hungBound, http.StatusServiceUnavailable, http.StatusNotFound)
				}
			}
		})
	}
	wg.Wait()
	return claimed, refused
}

// randomImageID is an image id no image has.
func randomImageID(w, i int) string {
	return base64.RawURLEncoding.EncodeToString(fmt.Appendf(nil, "hung%02d%010d", w, i))
}

// waitReady waits for /readyz to answer 200 again.
func (h *hungRun) waitReady() {
	h.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		a := h.request("/readyz", http.MethodGet, "/readyz", nil)
		if a.status == http.StatusOK {
			return
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("/readyz after the store came back: got %d %v, want 200 within 15 s", a.status, a.err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
