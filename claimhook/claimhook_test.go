package claimhook_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/userimages/userimages/client/api"

	"userimages/claimhook"
	"userimages/core"
	"userimages/internal/config"
	"userimages/internal/testkit/testclock"
	"userimages/localdisk"
	"userimages/stdwebhook"
)

const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

// hookServer is a claim hook on loopback: it verifies each request's
// signature with stdwebhook, keeps the request, and answers status and
// body.
type hookServer struct {
	mu     sync.Mutex
	status int
	body   string
	delay  time.Duration
	got    []api.ClaimHookRequest
	errs   []error
}

func (h *hookServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	key, _ := stdwebhook.ParseSecret(secret)
	var req api.ClaimHookRequest
	h.mu.Lock()
	if err := key.VerifyRequest(r.Header, b, time.Now(), 0); err != nil {
		h.errs = append(h.errs, err)
	}
	if err := json.Unmarshal(b, &req); err != nil {
		h.errs = append(h.errs, err)
	}
	h.got = append(h.got, req)
	status, body, delay := h.status, h.body, h.delay
	h.mu.Unlock()
	if delay > 0 {
		select {
		case <-time.After(delay):
		case <-r.Context().Done():
		}
	}
	w.WriteHeader(status)
	io.WriteString(w, body)
}

func newHook(t *testing.T, h http.Handler, configure ...func(*claimhook.Config)) (*claimhook.Hook, *localdisk.Store, *testclock.Clock) {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	blobs, err := localdisk.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	key, err := stdwebhook.ParseSecret(secret)
	if err != nil {
		t.Fatal(err)
	}
	clock := testclock.New(time.Now())
	cfg := claimhook.Config{URL: srv.URL + "/hook", Secret: key, BytesBaseURL: "https://images.example.test", Now: clock.Now}
	for _, c := range configure {
		c(&cfg)
	}
	hook, err := claimhook.New(cfg, blobs)
	if err != nil {
		t.Fatal(err)
	}
	return hook, blobs, clock
}

var review = core.ClaimReview{ImageID: "AAAAAAAAAAAAAAAAAAAAAA", BrandID: "10016", ContentType: "image/png", Size: 1234,
	SHA256: strings.Repeat("ab", 32), PDQ: strings.Repeat("0f", 32), PDQQuality: 90, Uploader: core.Uploader{UserID: 7, ClientAddr: "192.0.2.7"}}

// TestReviewVerdicts: the request is signed by the Standard Webhooks
// scheme and carries the image's metadata (not the uploader's address);
// each answer is read as its verdict, or as no verdict.
func TestReviewVerdicts(t *testing.T) {
	for _, tc := range []struct {
		name    string
		status  int
		body    string
		want    core.ClaimVerdict
		wantErr string
		outcome string
	}{
		{"allow", 200, `{"allow": true}`, core.ClaimVerdict{Allow: true}, "", claimhook.OutcomeAllow},
		{"refuse", 200, `{"allow": false, "reason": "nudity"}`, core.ClaimVerdict{Reason: "nudity"}, "", claimhook.OutcomeRefuse},
		{"204 is no verdict", 204, ``, core.ClaimVerdict{}, "not a verdict", claimhook.OutcomeError},
		{"no allow", 200, `{"reason": "x"}`, core.ClaimVerdict{}, `no "allow"`, claimhook.OutcomeError},
		{"allow not a bool", 200, `{"allow": "yes"}`, core.ClaimVerdict{}, "not a verdict", claimhook.OutcomeError},
		{"500", 500, `{"allow": true}`, core.ClaimVerdict{}, "answered 500", claimhook.OutcomeError},
		{"redirect", 302, ``, core.ClaimVerdict{}, "answered 302", claimhook.OutcomeError},
		{"too long", 200, `{"allow": true, "reason": "` + strings.Repeat("x", 70<<10) + `"}`, core.ClaimVerdict{}, "over", claimhook.OutcomeError},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hs := &hookServer{status: tc.status, body: tc.body}
			var outcomes []string
			hook, _, _ := newHook(t, hs, func(c *claimhook.Config) {
				c.Observe = func(o string, d time.Duration) { outcomes = append(outcomes, o) }
			})
			v, err := hook.Review(t.Context(), review)
			if tc.wantErr == "" && (err != nil || v != tc.want) || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Fatalf("Review = %+v, %v; want %+v, error containing %q", v, err, tc.want, tc.wantErr)
			}
			if len(outcomes) != 1 || outcomes[0] != tc.outcome {
				t.Errorf("observed %v, want [%s]", outcomes, tc.outcome)
			}
			if len(hs.errs) > 0 || len(hs.got) != 1 {
				t.Fatalf("the hook got %d requests, errors %v", len(hs.got), hs.errs)
			}
			got := hs.got[0]
			d := got.Data
			if got.Type != api.ClaimHookType || d.ImageID != review.ImageID || d.BrandID != "10016" || d.ContentType != "image/png" || d.Size != 1234 ||
				d.SHA256 != review.SHA256 || d.PDQ != review.PDQ || d.PDQQuality != 90 || d.Uploader == nil || d.Uploader.UserID != 7 {
				t.Errorf("request %+v, uploader %+v", got, d.Uploader)
			}
			if !strings.HasPrefix(d.BytesURL, "https://images.example.test"+claimhook.PathPrefix+review.ImageID+".png?") {
				t.Errorf("bytes URL %s", d.BytesURL)
			}
		})
	}
}

// TestReviewDeadline: a hook that does not answer before the context's
// deadline gives no verdict; Review returns when the deadline passes.
func TestReviewDeadline(t *testing.T) {
	hs := &hookServer{status: 200, body: `{"allow": true}`, delay: time.Minute}
	hook, _, _ := newHook(t, hs)
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	if _, err := hook.Review(ctx, review); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Review = %v, want the deadline's error", err)
	}
}

// TestBytesURL: the bytes URL serves the image's bytes until it expires;
// changed in any part, or expired, it is refused; gone bytes are 404.
func TestBytesURL(t *testing.T) {
	hs := &hookServer{status: 200, body: `{"allow": true}`}
	hook, blobs, clock := newHook(t, hs, func(c *claimhook.Config) { c.BytesTTL = time.Minute })
	img := []byte("\x89PNG pretend")
	if err := blobs.Put(t.Context(), core.ImageKey(review.ImageID), bytes.NewReader(img)); err != nil {
		t.Fatal(err)
	}
	if _, err := hook.Review(t.Context(), review); err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(hs.got[0].Data.BytesURL)
	if err != nil {
		t.Fatal(err)
	}
	if exp := hs.got[0].Data.BytesURLExpires; exp.Before(clock.Now().Add(59*time.Second)) || exp.After(clock.Now().Add(time.Minute)) {
		t.Errorf("expires %s, want a minute after %s", exp, clock.Now())
	}
	file := strings.TrimPrefix(u.Path, claimhook.PathPrefix)
	ct, b, err := hook.OpenBytes(t.Context(), file, u.Query())
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(b)
	b.Close()
	if ct != "image/png" || !bytes.Equal(got, img) {
		t.Errorf("OpenBytes: %s, %q", ct, got)
	}
	tampered := func(k, v string) url.Values {
		q := u.Query()
		q.Set(k, v)
		return q
	}
	for name, open := range map[string]func() error{
		"other file": func() error {
			_, _, err := hook.OpenBytes(t.Context(), "BBBBBBBBBBBBBBBBBBBBBB.png", u.Query())
			return err
		},
		"other ext": func() error { _, _, err := hook.OpenBytes(t.Context(), review.ImageID+".jpg", u.Query()); return err },
		"later expiry": func() error {
			_, _, err := hook.OpenBytes(t.Context(), file, tampered("expires", "99999999999"))
			return err
		},
		"no signature": func() error { _, _, err := hook.OpenBytes(t.Context(), file, tampered("signature", "")); return err },
		"other signature": func() error {
			_, _, err := hook.OpenBytes(t.Context(), file, tampered("signature", "AAAA"))
			return err
		},
	} {
		if core.ErrorCode(open()) != api.CodeSignatureMismatch {
			t.Errorf("%s: want SignatureMismatch", name)
		}
	}
	clock.Advance(61 * time.Second)
	if _, _, err := hook.OpenBytes(t.Context(), file, u.Query()); core.ErrorCode(err) != api.CodeSignatureMismatch || !strings.Contains(err.Error(), "expired") {
		t.Errorf("expired: %v", err)
	}
	clock.Advance(-61 * time.Second)
	if err := blobs.Delete(t.Context(), core.ImageKey(review.ImageID)); err != nil {
		t.Fatal(err)
	}
	if _, _, err := hook.OpenBytes(t.Context(), file, u.Query()); core.ErrorCode(err) != api.CodeNotFound {
		t.Errorf("gone: %v", err)
	}
}

func TestConfigValidate(t *testing.T) {
	key, _ := stdwebhook.ParseSecret(secret)
	ok := claimhook.Config{URL: "https://app.example/hook", Secret: key, BytesBaseURL: "http://10.0.0.5:8080"}
	if err := ok.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		change func(*claimhook.Config)
		field  claimhook.ConfigField
	}{
		{func(c *claimhook.Config) { c.URL = "" }, claimhook.ConfigURL},
		{func(c *claimhook.Config) { c.URL = "ftp://x/y" }, claimhook.ConfigURL},
		{func(c *claimhook.Config) { c.URL = "https://user:pw@x/y" }, claimhook.ConfigURL},
		{func(c *claimhook.Config) { c.Secret = nil }, claimhook.ConfigSecret},
		{func(c *claimhook.Config) { c.BytesBaseURL = "" }, claimhook.ConfigBytesBaseURL},
		{func(c *claimhook.Config) { c.BytesBaseURL = "http://x/path" }, claimhook.ConfigBytesBaseURL},
		{func(c *claimhook.Config) { c.BytesTTL = 2 * time.Hour }, claimhook.ConfigBytesTTL},
	} {
		c := ok
		tc.change(&c)
		var fe *config.FieldError
		if err := c.Validate(); !errors.As(err, &fe) || fe.Field != tc.field {
			t.Errorf("Validate(%+v) = %v, want an error of %s", c, err, tc.field)
		}
	}
}
