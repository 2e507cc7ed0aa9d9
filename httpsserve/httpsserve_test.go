package httpsserve

import (
	"crypto/tls"
	"crypto/x509"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"userimages/internal/testkit/testcert"
)

var discard = slog.New(slog.NewTextHandler(io.Discard, nil))

func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
		want string // substring of the error; "" for none
	}{
		{"off", Config{}, ""},
		{"acme", Config{Domains: []string{"images.example.com", "img.example.org"}, DataDir: "d", ACMEEmail: "a@example.com"}, ""},
		{"acme other CA", Config{Domains: []string{"images.example.com"}, DataDir: "d", ACMEDirectory: "https://ca.example/dir"}, ""},
		{"pair", Config{CertFile: "c", KeyFile: "k", HSTSMaxAge: time.Hour}, ""},
		{"cert without key", Config{CertFile: "c"}, "CertFile and KeyFile go together"},
		{"key without cert", Config{KeyFile: "k"}, "KeyFile and CertFile go together"},
		{"both kinds", Config{Domains: []string{"images.example.com"}, DataDir: "d", CertFile: "c", KeyFile: "k"}, "exclude each other"},
		{"no data dir", Config{Domains: []string{"images.example.com"}}, "needs DataDir"},
		{"url as domain", Config{Domains: []string{"https://images.example.com"}, DataDir: "d"}, "host name"},
		{"port in domain", Config{Domains: []string{"images.example.com:443"}, DataDir: "d"}, "host name"},
		{"ip as domain", Config{Domains: []string{"192.0.2.1"}, DataDir: "d"}, "IP address"},
		{"bare name", Config{Domains: []string{"localhost"}, DataDir: "d"}, "fully qualified"},
		{"wildcard", Config{Domains: []string{"*.example.com"}, DataDir: "d"}, "host name"},
		{"empty label", Config{Domains: []string{"images..example.com"}, DataDir: "d"}, "host name"},
		{"plain http CA", Config{Domains: []string{"images.example.com"}, DataDir: "d", ACMEDirectory: "http://ca.example/dir"}, "https://"},
		{"email without domain", Config{CertFile: "c", KeyFile: "k", ACMEEmail: "a@example.com"}, "ACMEEmail needs Domains"},
		{"negative hsts", Config{CertFile: "c", KeyFile: "k", HSTSMaxAge: -time.Second}, "negative"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("got %v, want no error", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

func TestRedirectHandler(t *testing.T) {
	acmeSrv := newACME(t, []string{"images.example.com", "img.example.org"})
	pair := newPair(t)
	for _, tc := range []struct {
		name      string
		s         *Server
		httpsPort int
		method    string
		target    string // request URL; its host is the Host header
		wantCode  int
		wantLoc   string
	}{
		{"GET to 443", acmeSrv, 443, "GET", "http://images.example.com/hc/user_images/a.png?x=1", 308, "https://images.example.com/hc/user_images/a.png?x=1"},
		{"POST keeps method (308)", acmeSrv, 443, "POST", "http://images.example.com/api/v2/guide/user_images", 308, "https://images.example.com/api/v2/guide/user_images"},
		{"second domain", acmeSrv, 443, "PUT", "http://IMG.example.org:80/x", 308, "https://IMG.example.org/x"},
		{"other port", acmeSrv, 8443, "GET", "http://images.example.com:8080/", 308, "https://images.example.com:8443/"},
		{"unknown host goes to first domain", acmeSrv, 443, "GET", "http://evil.example.net/p", 308, "https://images.example.com/p"},
		{"ACME challenge not redirected", acmeSrv, 443, "GET", "http://images.example.com/.well-known/acme-challenge/unknown-token", 404, ""},
		{"ACME challenge, Host with a port", acmeSrv, 443, "GET", "http://images.example.com:8080/.well-known/acme-challenge/unknown-token", 404, ""},
		{"ACME challenge for another host refused", acmeSrv, 443, "GET", "http://evil.example.net/.well-known/acme-challenge/unknown-token", 403, ""},
		{"pair: request host", pair, 443, "GET", "http://files.example.com/p", 308, "https://files.example.com/p"},
		{"pair: no challenges", pair, 443, "GET", "http://files.example.com/.well-known/acme-challenge/t", 308, "https://files.example.com/.well-known/acme-challenge/t"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest(tc.method, tc.target, strings.NewReader("body"))
			rec := httptest.NewRecorder()
			tc.s.RedirectHandler(tc.httpsPort).ServeHTTP(rec, req)
			if rec.Code != tc.wantCode {
				t.Errorf("got status %d, want %d", rec.Code, tc.wantCode)
			}
			if got := rec.Header().Get("Location"); got != tc.wantLoc {
				t.Errorf("got Location %q, want %q", got, tc.wantLoc)
			}
		})
	}
	t.Run("pair: no host", func(t *testing.T) {
		req := httptest.NewRequest("GET", "http://x/p", nil)
		req.Host = ""
		rec := httptest.NewRecorder()
		pair.RedirectHandler(443).ServeHTTP(rec, req)
		if rec.Code != http.StatusBadRequest {
			t.Errorf("got status %d, want 400", rec.Code)
		}
	})
}

func TestHSTSAndPublicURL(t *testing.T) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusTeapot) })
	dir := t.TempDir()
	for _, tc := range []struct {
		name       string
		age        time.Duration
		domains    []string
		port       int
		wantHSTS   string
		wantPublic string
	}{
		{"default", DefaultHSTSMaxAge, []string{"images.example.com"}, 443, "max-age=31536000", "https://images.example.com"},
		{"short, other port", 90 * time.Second, []string{"images.example.com", "b.example.com"}, 8443, "max-age=90", "https://images.example.com:8443"},
		{"off", 0, []string{"images.example.com"}, 443, "", "https://images.example.com"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := New(Config{Domains: tc.domains, DataDir: dir, HSTSMaxAge: tc.age}, discard)
			if err != nil {
				t.Fatal(err)
			}
			rec := httptest.NewRecorder()
			s.Handler(ok).ServeHTTP(rec, httptest.NewRequest("GET", "https://images.example.com/", nil))
			if got := rec.Header().Get("Strict-Transport-Security"); got != tc.wantHSTS || rec.Code != http.StatusTeapot {
				t.Errorf("got HSTS %q status %d, want %q and the handler's 418", got, rec.Code, tc.wantHSTS)
			}
			if got := s.PublicURL(tc.port); got != tc.wantPublic {
				t.Errorf("got public URL %q, want %q", got, tc.wantPublic)
			}
		})
	}
	if got := newPair(t).PublicURL(443); got != "" {
		t.Errorf("pair: got public URL %q, want none (each request's Host)", got)
	}
}

func TestTLSConfigOffersHTTP2AndALPNChallenge(t *testing.T) {
	for _, tc := range []struct {
		name string
		s    *Server
		want []string
	}{
		{"acme", newACME(t, []string{"images.example.com"}), []string{"h2", "http/1.1", "acme-tls/1"}},
		{"pair", newPair(t), []string{"h2", "http/1.1"}},
	} {
		cfg := tc.s.TLSConfig()
		if got := strings.Join(cfg.NextProtos, ","); got != strings.Join(tc.want, ",") {
			t.Errorf("%s: got NextProtos %s, want %s", tc.name, got, strings.Join(tc.want, ","))
		}
		if cfg.MinVersion != 0 || cfg.CipherSuites != nil {
			t.Errorf("%s: got MinVersion %x, cipher suites %v; want Go's defaults (TLS 1.2+)", tc.name, cfg.MinVersion, cfg.CipherSuites)
		}
	}
}

func TestNewPairErrors(t *testing.T) {
	dir := t.TempDir()
	certA, keyA := writePair(t, dir, "a")
	_, keyB := writePair(t, dir, "b")
	for _, tc := range []struct {
		name, cert, key, want string
	}{
		{"missing cert", filepath.Join(dir, "none.pem"), keyA, "no such file"},
		{"mismatched key", certA, keyB, "private key does not match"},
		{"key as cert", keyA, keyA, "--tls-cert/--tls-key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(Config{CertFile: tc.cert, KeyFile: tc.key}, discard)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

// TestReloader replaces the files under a running reloader with a fake
// clock: a change is seen at the next check (at most once a second), a bad
// pair keeps the last good one, and a later good pair is taken.
func TestReloader(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := writePair(t, dir, "live")
	r, err := newReloader(certFile, keyFile, discard)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	r.now = func() time.Time { return now }
	serial := func() string {
		t.Helper()
		c, err := r.GetCertificate(&tls.ClientHelloInfo{})
		if err != nil {
			t.Fatal(err)
		}
		leaf, err := x509.ParseCertificate(c.Certificate[0])
		if err != nil {
			t.Fatal(err)
		}
		return leaf.SerialNumber.String()
	}
	first := serial()
	// Each rewrite gets a later mtime, so that one of the same size within
	// the file system's timestamp granularity is still a change.
	mtime := time.Now()
	touch := func(file string) {
		t.Helper()
		mtime = mtime.Add(time.Second)
		if err := os.Chtimes(file, mtime, mtime); err != nil {
			t.Fatal(err)
		}
	}

	second := replacePair(t, dir, certFile, keyFile, touch)
	if got := serial(); got != first {
		t.Errorf("within a second of the last check: got serial %s, want the old %s (no stat yet)", got, first)
	}
	now = now.Add(reloadInterval)
	if got := serial(); got != second {
		t.Errorf("a second later: got serial %s, want the new file's %s", got, second)
	}

	// A half-replaced pair (new certificate, old key) does not load.
	third := testcert.SelfSigned(t, "files.example.com")
	if err := os.WriteFile(certFile, third.Cert, 0o600); err != nil {
		t.Fatal(err)
	}
	touch(certFile)
	now = now.Add(reloadInterval)
	if got := serial(); got != second {
		t.Errorf("after a bad reload: got serial %s, want the last good %s", got, second)
	}
	if err := os.WriteFile(keyFile, third.Key, 0o600); err != nil {
		t.Fatal(err)
	}
	touch(keyFile)
	now = now.Add(reloadInterval)
	if got := serial(); got != third.Serial {
		t.Errorf("once the key follows: got serial %s, want %s", got, third.Serial)
	}

	// Files gone: the last good pair is kept.
	os.Remove(certFile)
	now = now.Add(reloadInterval)
	if got := serial(); got != third.Serial {
		t.Errorf("with the file gone: got serial %s, want the last good %s", got, third.Serial)
	}
}

// Helpers.

func writePair(t *testing.T, dir, name string) (certFile, keyFile string) {
	t.Helper()
	p := testcert.SelfSigned(t, "files.example.com")
	certFile, keyFile = filepath.Join(dir, name+".crt"), filepath.Join(dir, name+".key")
	if err := os.WriteFile(certFile, p.Cert, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, p.Key, 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

// replacePair writes a new pair over certFile and keyFile, as a renewal
// script would (write aside, rename), touches both, and returns its serial.
func replacePair(t *testing.T, dir, certFile, keyFile string, touch func(string)) string {
	t.Helper()
	p := testcert.SelfSigned(t, "files.example.com")
	for file, b := range map[string][]byte{certFile: p.Cert, keyFile: p.Key} {
		tmp := filepath.Join(dir, "tmp")
		if err := os.WriteFile(tmp, b, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, file); err != nil {
			t.Fatal(err)
		}
		touch(file)
	}
	return p.Serial
}

func newACME(t *testing.T, domains []string) *Server {
	t.Helper()
	s, err := New(Config{Domains: domains, DataDir: t.TempDir()}, discard)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func newPair(t *testing.T) *Server {
	t.Helper()
	certFile, keyFile := writePair(t, t.TempDir(), "p")
	s, err := New(Config{CertFile: certFile, KeyFile: keyFile}, discard)
	if err != nil {
		t.Fatal(err)
	}
	return s
}
