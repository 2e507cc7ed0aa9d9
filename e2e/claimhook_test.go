package e2e

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// hookReceiver is a host app's claim hook on loopback. It verifies every
// request's signature with the Standard Webhooks algorithm, written here
// from the specification (not the server's package): HMAC-SHA256, keyed
// with the secret's base64-decoded part, of "id.timestamp.body", one of
// the space-separated v1 signatures; the timestamp within 5 minutes. In
// allow mode it reads the image's bytes from the request's bytes URL.
type hookReceiver struct {
	key []byte

	mu     sync.Mutex
	mode   string // allow, refuse, silent, fail
	reason string
	calls  int
	bad    []string // what was wrong with requests
	last   hookRequest
	read   []byte // the bytes read from the last bytes URL
}

type hookRequest struct {
	Type string `json:"type"`
	Data struct {
		ImageID     string `json:"image_id"`
		BrandID     string `json:"brand_id"`
		ContentType string `json:"content_type"`
		Size        int64  `json:"size"`
		SHA256      string `json:"sha256"`
		BytesURL    string `json:"bytes_url"`
		Uploader    *struct {
			UserID int64 `json:"user_id"`
		} `json:"uploader"`
	} `json:"data"`
}

func newHookReceiver(t *testing.T) (*hookReceiver, string, string) {
	t.Helper()
	var raw [32]byte
	rand.Read(raw[:])
	h := &hookReceiver{key: raw[:], mode: "allow"}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return h, srv.URL + "/claim-hook", "whsec_" + base64.StdEncoding.EncodeToString(raw[:])
}

func (h *hookReceiver) set(mode, reason string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.mode, h.reason = mode, reason
}

// verify checks r's signature over body: "" when it holds.
func (h *hookReceiver) verify(r *http.Request, body []byte) string {
	id, ts := r.Header.Get("webhook-id"), r.Header.Get("webhook-timestamp")
	sec, err := strconv.ParseInt(ts, 10, 64)
	if id == "" || err != nil || time.Since(time.Unix(sec, 0)).Abs() > 5*time.Minute {
		return fmt.Sprintf("webhook-id %q, webhook-timestamp %q", id, ts)
	}
	m := hmac.New(sha256.New, h.key)
	m.Write([]byte(id + "." + ts + "."))
	m.Write(body)
	want := m.Sum(nil)
	for _, sig := range strings.Fields(r.Header.Get("webhook-signature")) {
		if b64, ok := strings.CutPrefix(sig, "v1,"); ok {
			if got, err := base64.StdEncoding.DecodeString(b64); err == nil && hmac.Equal(got, want) {
				return ""
			}
		}
	}
	return "no webhook-signature matches: " + r.Header.Get("webhook-signature")
}

func (h *hookReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	var req hookRequest
	h.mu.Lock()
	h.calls++
	if why := h.verify(r, body); why != "" {
		h.bad = append(h.bad, why)
	}
	if err := json.Unmarshal(body, &req); err != nil || req.Type != "image.claim_review" {
		h.bad = append(h.bad, fmt.Sprintf("body %s: %v", body, err))
	}
	h.last = req
	mode, reason := h.mode, h.reason
	h.mu.Unlock()
	switch mode {
	case "silent":
		<-r.Context().Done() // the server gives up first
		return
	case "fail":
		http.Error(w, "the classifier is down", http.StatusInternalServerError)
		return
	case "refuse":
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"allow": false, "reason": reason})
		return
	}
	res, err := http.Get(req.Data.BytesURL)
	var read []byte
	if err == nil {
		read, err = io.ReadAll(res.Body)
		res.Body.Close()
	}
	h.mu.Lock()
	if err != nil || res.StatusCode != http.StatusOK {
		h.bad = append(h.bad, fmt.Sprintf("GET bytes URL: %v %v", err, res))
	}
	h.read = read
	h.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	io.WriteString(w, `{"allow": true}`)
}

// snapshot returns the receiver's counts and last request under its lock.
func (h *hookReceiver) snapshot() (calls int, bad []string, last hookRequest, read []byte) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.calls, append([]string(nil), h.bad...), h.last, h.read
}

// received runs steps 1 and 2 with a fresh PNG and returns its token and bytes.
func received(t *testing.T, c *http.Client, base string, rng *mrand.Rand) (string, []byte) {
	t.Helper()
	png := encodePNG(t, rng, 64, 48)
	up, err := createUpload(c, base, "", "image/png", len(png))
	if err != nil {
		t.Fatal(err)
	}
	if err := putUpload(c, up, png); err != nil {
		t.Fatal(err)
	}
	return up.Upload.Token, png
}

// TestClaimHook: the real binary with --claim-hook asks a hook on loopback,
// which verifies each request's signature, before it publishes: allowed,
// the image is published and the hook read exactly its bytes from the
// short-lived URL; refused, the claim is 422 ContentRejected with the
// reason and nothing is served; a silent hook makes the claim 503 with
// Retry-After once --claim-hook-timeout (1 s) has passed, and a failing
// one at once; with --claim-hook-on-error allow the image is published.
// The hook's latency is in /metrics.
//
// The silent hook's claim is asserted to answer within 2 s (the timeout
// plus a second): a correctness bound, that the timeout is applied at
// all, with a wide margin; not a measure of speed.
func TestClaimHook(t *testing.T) {
	hook, hookURL, secret := newHookReceiver(t)
	env := []string{"USERIMAGES_CLAIM_HOOK_SECRET=" + secret}
	srv := startServerEnv(t, t.TempDir(), env, "--claim-hook", hookURL, "--claim-hook-timeout", "1s")
	c := &http.Client{Timeout: 30 * time.Second}
	rng := mrand.New(mrand.NewPCG(26, 1))

	t.Run("allows", func(t *testing.T) {
		token, _ := received(t, c, srv.base, rng)
		img, err := claim(c, srv.base, "", token, brandID)
		if err != nil {
			t.Fatal(err)
		}
		_, bad, last, read := hook.snapshot()
		if len(bad) > 0 {
			t.Fatalf("the hook found: %v", bad)
		}
		served, err := fetch(c, srv.base, img.UserImage.Path)
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(read)
		if len(read) == 0 || string(read) != string(served) || hex.EncodeToString(sum[:]) != last.Data.SHA256 ||
			last.Data.Size != int64(len(served)) || last.Data.BrandID != brandID || last.Data.ContentType != "image/png" ||
			!strings.Contains(img.UserImage.Path, last.Data.ImageID) || last.Data.Uploader != nil {
			t.Errorf("the hook read %d bytes (sha256 %x), was told %+v; published %s, %d bytes", len(read), sum, last.Data, img.UserImage.Path, len(served))
		}
		if strings.Contains(last.Data.BytesURL, token) {
			t.Errorf("bytes URL %s carries the upload token", last.Data.BytesURL)
		}
		// Changed, the bytes URL is refused.
		res, _, err := do(c, http.MethodGet, strings.Replace(last.Data.BytesURL, "expires=", "expires=1", 1), "", nil, nil)
		if err != nil || res.StatusCode != http.StatusForbidden {
			t.Errorf("changed bytes URL: %v, %v; want 403", res, err)
		}
	})

	t.Run("refuses", func(t *testing.T) {
		hook.set("refuse", "pictures of cats are not allowed here\n\a")
		defer hook.set("allow", "")
		token, _ := received(t, c, srv.base, rng)
		_, err := claim(c, srv.base, "", token, brandID)
		var e *errStatus
		if !errors.As(err, &e) || e.status != http.StatusUnprocessableEntity || errorCode(e.body) != "ContentRejected" {
			t.Fatalf("claim: %v; want 422 ContentRejected", err)
		}
		var doc errorResponse
		if err := json.Unmarshal(e.body, &doc); err != nil || len(doc.Errors) == 0 || doc.Errors[0].Detail != "pictures of cats are not allowed here" {
			t.Errorf("error body %s (%v): want its first error's detail the reason, cleaned", e.body, err)
		}
		calls, _, last, _ := hook.snapshot()
		if _, err := fetch(c, srv.base, "/hc/user_images/"+last.Data.ImageID+".png"); statusOf(err) != http.StatusNotFound {
			t.Errorf("the refused image: %v; want 404", err)
		}
		// The token stays unclaimed: claiming again asks again.
		hook.set("allow", "")
		if _, err := claim(c, srv.base, "", token, brandID); err != nil {
			t.Errorf("claim again once the hook allows: %v", err)
		}
		if again, _, _, _ := hook.snapshot(); again != calls+1 {
			t.Errorf("hook calls %d, then %d: want one more", calls, again)
		}
	})

	t.Run("silent", func(t *testing.T) {
		hook.set("silent", "")
		defer hook.set("allow", "")
		token, _ := received(t, c, srv.base, rng)
		before, _, _, _ := hook.snapshot()
		start := time.Now()
		res, b, err := postClaim(c, srv.base, "", token, brandID)
		took := time.Since(start)
		if err != nil || res.StatusCode != http.StatusServiceUnavailable || errorCode(b) != "ServiceUnavailable" || res.Header.Get("Retry-After") == "" {
			t.Fatalf("claim: %v %v %s; want 503 ServiceUnavailable with Retry-After", res, err, b)
		}
		if took > 2*time.Second {
			t.Errorf("the claim answered after %s: want it within the 1 s timeout plus a second", took)
		}
		if after, _, _, _ := hook.snapshot(); after != before+1 {
			t.Errorf("hook calls: %d, then %d; want it called", before, after)
		}
	})

	t.Run("failing", func(t *testing.T) {
		hook.set("fail", "")
		defer hook.set("allow", "")
		token, _ := received(t, c, srv.base, rng)
		res, b, err := postClaim(c, srv.base, "", token, brandID)
		if err != nil || res.StatusCode != http.StatusServiceUnavailable || res.Header.Get("Retry-After") == "" {
			t.Fatalf("claim: %v %v %s; want 503 with Retry-After", res, err, b)
		}
	})

	metrics, err := fetch(c, srv.base, "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	for _, outcome := range []string{"allow", "refuse", "error"} {
		if !strings.Contains(string(metrics), `userimages_claim_hook_duration_seconds_count{outcome="`+outcome+`"}`) {
			t.Errorf("/metrics has no claim hook histogram for %s", outcome)
		}
	}
	if _, bad, _, _ := hook.snapshot(); len(bad) > 0 {
		t.Errorf("the hook found: %v", bad)
	}
}

// TestClaimHookOnErrorAllow: with --claim-hook-on-error allow, a hook that
// fails lets the image be published.
func TestClaimHookOnErrorAllow(t *testing.T) {
	hook, hookURL, secret := newHookReceiver(t)
	hook.set("fail", "")
	srv := startServerEnv(t, t.TempDir(), []string{"USERIMAGES_CLAIM_HOOK_SECRET=" + secret},
		"--claim-hook", hookURL, "--claim-hook-on-error", "allow")
	c := &http.Client{Timeout: 30 * time.Second}
	token, png := received(t, c, srv.base, mrand.New(mrand.NewPCG(26, 2)))
	img, err := claim(c, srv.base, "", token, brandID)
	if err != nil {
		t.Fatal(err)
	}
	if served, err := fetch(c, srv.base, img.UserImage.Path); err != nil || len(served) == 0 {
		t.Errorf("GET %s: %d bytes, %v (uploaded %d)", img.UserImage.Path, len(served), err, len(png))
	}
	if calls, bad, _, _ := hook.snapshot(); calls != 1 || len(bad) > 0 {
		t.Errorf("hook calls %d, found %v", calls, bad)
	}
	if !srv.logged("claim hook failed; publishing as --claim-hook-on-error allow says") {
		t.Error("no warning logged")
	}
}

// TestComposerClaimHookReason: the composer shows the uploader the claim
// hook's reason for refusing a picture, and offers no Retry (the same
// picture would be refused again).
func TestComposerClaimHookReason(t *testing.T) {
	hook, hookURL, secret := newHookReceiver(t)
	hook.set("refuse", "Pictures of cats are not allowed here.")
	page := openComposerEnv(t, []string{"USERIMAGES_CLAIM_HOOK_SECRET=" + secret}, "--claim-hook", hookURL)
	page.pick(page.file("cat.png", encodePNG(t, mrand.New(mrand.NewPCG(26, 3)), 80, 60)))
	const want = "The site refused cat.png: Pictures of cats are not allowed here. (ContentRejected)"
	if class, state := page.settled("cat.png"); class != "failed" || state != want {
		t.Errorf("cat.png: got %s %q, want failed %q", class, state, want)
	}
	if got := page.buttons("cat.png"); !slices.Equal(got, []string{"Remove"}) {
		t.Errorf("buttons: got %q, want Remove only", got)
	}
	if calls, bad, _, _ := hook.snapshot(); calls != 1 || len(bad) > 0 {
		t.Errorf("hook calls %d, found %v", calls, bad)
	}
	checkAccessible(t, page.ctx, "the composer after ContentRejected")
	page.reportErrors()
}

// TestScaleOutClaimHook: on PostgreSQL and S3, the hook reads the bytes
// of an image claimed on one instance from another (its
// --claim-hook-bytes-url): any instance verifies a bytes URL with the
// shared secret and streams the bytes from the bucket; a refusal publishes
// nothing on either.
func TestScaleOutClaimHook(t *testing.T) {
	d := newScaleOut(t)
	hook, hookURL, secret := newHookReceiver(t)
	env := append(append([]string(nil), d.env...), "USERIMAGES_CLAIM_HOOK_SECRET="+secret)
	reader := startServerEnv(t, t.TempDir(), env, append(d.storeArgs(), "--claim-hook", hookURL)...)
	claimer := startServerEnv(t, t.TempDir(), env, append(d.storeArgs(), "--claim-hook", hookURL, "--claim-hook-bytes-url", reader.base)...)
	c := &http.Client{Timeout: 30 * time.Second}
	rng := mrand.New(mrand.NewPCG(26, 4))

	token, _ := received(t, c, claimer.base, rng) // the PUT goes to the bucket
	img, err := claim(c, claimer.base, "", token, brandID)
	if err != nil {
		t.Fatal(err)
	}
	_, bad, last, read := hook.snapshot()
	if len(bad) > 0 {
		t.Fatalf("the hook found: %v", bad)
	}
	if !strings.HasPrefix(last.Data.BytesURL, reader.base+"/claim-hook/") {
		t.Errorf("bytes URL %s, want it on the other instance %s", last.Data.BytesURL, reader.base)
	}
	for _, base := range []string{claimer.base, reader.base} {
		served, err := fetch(c, base, img.UserImage.Path)
		if err != nil || string(served) != string(read) {
			t.Errorf("%s%s: %d bytes, %v; the hook read %d", base, img.UserImage.Path, len(served), err, len(read))
		}
	}

	hook.set("refuse", "no")
	token, _ = received(t, c, claimer.base, rng)
	if _, err := claim(c, claimer.base, "", token, brandID); statusOf(err) != http.StatusUnprocessableEntity {
		t.Fatalf("claim: %v; want 422", err)
	}
	_, _, last, _ = hook.snapshot()
	for _, base := range []string{claimer.base, reader.base} {
		if _, err := fetch(c, base, "/hc/user_images/"+last.Data.ImageID+".png"); statusOf(err) != http.StatusNotFound {
			t.Errorf("%s: the refused image: %v; want 404", base, err)
		}
	}
}
