package purge_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	"userimages/core"
	"userimages/purge"
)

// standIn is a loopback stand-in for a purge API: check returns the keys
// of one request, or an error about its shape; fail makes the first
// answers 503.
type standIn struct {
	mu    sync.Mutex
	fail  int
	calls int
	keys  [][]string
}

func (s *standIn) start(t *testing.T, check func(r *http.Request) ([]string, error), answer string) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.calls++
		if s.calls <= s.fail {
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return
		}
		keys, err := check(r)
		if err != nil {
			t.Errorf("request %s %s: %v", r.Method, r.URL, err)
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		s.keys = append(s.keys, keys)
		fmt.Fprint(w, answer)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// keys returns n surrogate keys.
func keys(n int) []string {
	var ks []string
	for i := range n {
		ks = append(ks, core.SurrogateKey(fmt.Sprintf("Zq_-%018d", i)))
	}
	return ks
}

// deliver delivers a purge of ks through target.
func deliver(t *testing.T, target purge.Target, ks []string) error {
	t.Helper()
	return purge.NewPurger(target).Deliver(t.Context(), core.OutboxEntry{Topic: core.TopicPurge, Payload: strings.Join(ks, " ")})
}

// checkBatches fails t unless got holds want in batches of at most n, in order.
func checkBatches(t *testing.T, got [][]string, want []string, n int) {
	t.Helper()
	var all []string
	for _, b := range got {
		if len(b) > n {
			t.Errorf("a request carried %d keys, want at most %d", len(b), n)
		}
		all = append(all, b...)
	}
	if !slices.Equal(all, want) {
		t.Errorf("keys purged: got %d %v…, want %d", len(all), all[:min(3, len(all))], len(want))
	}
	if wantReqs := (len(want) + n - 1) / n; len(got) != wantReqs {
		t.Errorf("requests: got %d, want %d", len(got), wantReqs)
	}
}

func TestURL(t *testing.T) {
	var s standIn
	srv := s.start(t, func(r *http.Request) ([]string, error) {
		if r.Method != "PURGE" || r.URL.Path != "/purge" {
			return nil, fmt.Errorf("got %s %s, want PURGE /purge", r.Method, r.URL.Path)
		}
		return strings.Fields(r.Header.Get("Surrogate-Key")), nil
	}, "")
	target, err := purge.Parse(srv.URL+"/purge", purge.Config{})
	if err != nil {
		t.Fatal(err)
	}
	ks := keys(250)
	if err := deliver(t, target, ks); err != nil {
		t.Fatalf("Deliver: got %v, want nil", err)
	}
	checkBatches(t, s.keys, ks, 100)
}

func TestFastly(t *testing.T) {
	var s standIn
	s.fail = 1
	srv := s.start(t, func(r *http.Request) ([]string, error) {
		if r.Method != http.MethodPost || r.URL.Path != "/service/SVC123/purge" {
			return nil, fmt.Errorf("got %s %s, want POST /service/SVC123/purge", r.Method, r.URL.Path)
		}
		if got := r.Header.Get("Fastly-Key"); got != "tok" {
			return nil, fmt.Errorf("Fastly-Key: got %q, want the token", got)
		}
		return strings.Fields(r.Header.Get("Surrogate-Key")), nil
	}, `{"status":"ok"}`)
	if _, err := purge.Parse("fastly://SVC123", purge.Config{FastlyURL: srv.URL}); err == nil {
		t.Error("Parse(fastly) without a token: got nil, want an error")
	}
	target, err := purge.Parse("fastly://SVC123", purge.Config{FastlyURL: srv.URL, FastlyToken: "tok"})
	if err != nil {
		t.Fatal(err)
	}
	ks := keys(300)
	if err := deliver(t, target, ks); err == nil || !strings.Contains(err.Error(), "fastly://SVC123") {
		t.Errorf("Deliver while the API answers 503: got %v, want an error naming the target", err)
	}
	s.keys = nil
	if err := deliver(t, target, ks); err != nil {
		t.Fatalf("Deliver: got %v, want nil", err)
	}
	checkBatches(t, s.keys, ks, 256)
}

func TestCloudflare(t *testing.T) {
	var s standIn
	srv := s.start(t, func(r *http.Request) ([]string, error) {
		if r.Method != http.MethodPost || r.URL.Path != "/client/v4/zones/ZONE9/purge_cache" {
			return nil, fmt.Errorf("got %s %s, want POST /client/v4/zones/ZONE9/purge_cache", r.Method, r.URL.Path)
		}
		if got := r.Header.Get("Authorization"); got != "Bearer tok" {
			return nil, fmt.Errorf("Authorization: got %q, want Bearer tok", got)
		}
		if ct := r.Header.Get("Content-Type"); ct != "application/json" {
			return nil, fmt.Errorf("Content-Type: got %q", ct)
		}
		var body map[string][]string
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil || len(body) != 1 {
			return nil, fmt.Errorf("body: got %v, %v, want {\"tags\": [...]}", body, err)
		}
		return body["tags"], nil
	}, `{"success":true,"errors":[],"messages":[],"result":{"id":"x"}}`)
	target, err := purge.Parse("cloudflare://ZONE9", purge.Config{CloudflareURL: srv.URL + "/client/v4/", CloudflareToken: "tok"})
	if err != nil {
		t.Fatal(err)
	}
	ks := keys(230)
	if err := deliver(t, target, ks); err != nil {
		t.Fatalf("Deliver: got %v, want nil", err)
	}
	checkBatches(t, s.keys, ks, 100)
}

func TestCloudflareNoSuccess(t *testing.T) {
	var s standIn
	srv := s.start(t, func(r *http.Request) ([]string, error) { return nil, nil }, `{"success":false,"errors":[{"code":1134}]}`)
	target, err := purge.Parse("cloudflare://Z", purge.Config{CloudflareURL: srv.URL, CloudflareToken: "tok"})
	if err != nil {
		t.Fatal(err)
	}
	if err := deliver(t, target, keys(1)); err == nil {
		t.Error("Deliver answered 200 without success: got nil, want an error")
	}
}

func TestParse(t *testing.T) {
	for _, spec := range []string{"", "varnish", "ftp://x/", "fastly://", "cloudflare://"} {
		if _, err := purge.Parse(spec, purge.Config{FastlyToken: "t", CloudflareToken: "t"}); err == nil {
			t.Errorf("Parse(%q): got nil, want an error", spec)
		}
	}
}
