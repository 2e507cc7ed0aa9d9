package e2e

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"userimages/httpsserve"
	"userimages/internal/testkit/pebbletest"
	"userimages/internal/testkit/testbin"
	"userimages/internal/testkit/testcert"
)

// testDomain is the name the HTTPS tests serve. .test is reserved (RFC
// 6761) and nothing resolves it: the tests' clients dial 127.0.0.1 for it,
// and Pebble, which validates every challenge without looking, never does.
const testDomain = "userimages.test"

// TestHTTPSACME runs `serve --domain` against Pebble, Let's Encrypt's test
// CA, on loopback, passing every challenge unseen (TestHTTPSACMEChallenges
// has them validated): the certificate is obtained on the first handshake; the
// three steps and the GET work over HTTPS (HTTP/2, HSTS) with an https://
// upload URL; the plain port redirects to HTTPS with 308; the certificate
// is kept in the data directory (0600) and a restart serves it at once,
// with Pebble stopped, so that a new order could not have happened.
func TestHTTPSACME(t *testing.T) {
	pebble := pebbletest.Start(t, pebbletest.Config{})
	roots := pebble.Roots(t)
	data := t.TempDir()
	env := []string{"SSL_CERT_FILE=" + pebble.CAFile} // the server trusts Pebble's API as it would Let's Encrypt's
	args := []string{"--domain", testDomain, "--https-addr", "127.0.0.1:0",
		"--acme-directory", pebble.DirectoryURL, "--acme-email", "ops@" + testDomain}
	srv := startServerEnv(t, data, env, args...)
	httpsAddr := srv.httpsAddr()
	base := "https://" + testDomain + ":" + port(t, httpsAddr)
	c := httpsClient(roots, httpsAddr)

	if got := pebble.Orders(); got != 0 {
		t.Fatalf("before the first handshake: Pebble has %d orders, want 0 (certificates are obtained on demand)", got)
	}
	rng := newRand(t)
	photo := encodeJPEG(t, rng, 64, 48)
	res, imgPath := httpsFlow(t, c, base, "image/jpeg", photo)
	checkHTTPSAnswer(t, res, "max-age=31536000")
	leaf := res.TLS.PeerCertificates[0]
	if err := leaf.VerifyHostname(testDomain); err != nil {
		t.Errorf("served certificate: %v", err)
	}
	orders := pebble.Orders()
	if orders != 1 {
		t.Errorf("after the flow: Pebble has %d orders, want 1", orders)
	}
	// A public HTTPS server keeps its metrics to itself unless
	// --metrics-addr says where.
	if res, _ := get(t, c, base+"/metrics"); res.StatusCode != http.StatusNotFound {
		t.Errorf("GET https://%s/metrics with --domain: got %d, want 404", testDomain, res.StatusCode)
	}

	t.Run("HTTP redirects to HTTPS", func(t *testing.T) {
		for _, path := range []string{"/api/v2/guide/user_images/uploads", imgPath + "?a=b"} {
			req, err := http.NewRequest(http.MethodPost, "http://"+srv.addr+path, strings.NewReader("{}"))
			if err != nil {
				t.Fatal(err)
			}
			req.Host = testDomain
			noFollow := &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
			res, err := noFollow.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if want := base + path; res.StatusCode != http.StatusPermanentRedirect || res.Header.Get("Location") != want {
				t.Errorf("POST http://%s%s: got %d to %q, want 308 to %q", testDomain, path, res.StatusCode, res.Header.Get("Location"), want)
			}
		}
		// Followed, the redirect lands on HTTPS with the method kept.
		follow := httpsClient(roots, httpsAddr)
		follow.Transport.(*http.Transport).DialContext = dialer(map[string]string{
			testDomain + ":80": srv.addr, testDomain + ":" + port(t, httpsAddr): httpsAddr})
		res, _ := get(t, follow, "http://"+testDomain+imgPath)
		if res.StatusCode != http.StatusOK || res.Request.URL.Scheme != "https" {
			t.Errorf("GET over HTTP, redirects followed: got %d at %s, want 200 over HTTPS", res.StatusCode, res.Request.URL)
		}
	})

	t.Run("stored in the data directory", func(t *testing.T) {
		dir := filepath.Join(data, httpsserve.CacheDirName)
		files := 0
		err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			info, err := d.Info()
			if err != nil {
				return err
			}
			want := fs.FileMode(0o600)
			if d.IsDir() {
				want = fs.ModeDir | 0o700
			} else {
				files++
			}
			if info.Mode() != want {
				t.Errorf("%s: mode %v, want %v", path, info.Mode(), want)
			}
			return nil
		})
		if err != nil || files < 2 {
			t.Errorf("%s: %d files (%v); want the account key and the certificate", dir, files, err)
		}
		if _, err := os.Stat(filepath.Join(dir, testDomain)); err != nil {
			t.Errorf("no certificate file for %s: %v", testDomain, err)
		}
	})

	// Restart with Pebble gone: any new order would fail, so a served
	// certificate is the stored one.
	if err := srv.stop(); err != nil {
		t.Fatal(err)
	}
	pebble.Stop()
	again := startServerEnv(t, data, env, args...)
	httpsAddr = again.httpsAddr()
	base = "https://" + testDomain + ":" + port(t, httpsAddr)
	res, got := get(t, httpsClient(roots, httpsAddr), base+imgPath)
	if res.StatusCode != http.StatusOK || !bytes.Equal(got, photo) {
		t.Fatalf("after the restart: GET %s: got status %d, %d bytes; want 200 and the photo", imgPath, res.StatusCode, len(got))
	}
	if served := res.TLS.PeerCertificates[0].SerialNumber; served.Cmp(leaf.SerialNumber) != 0 {
		t.Errorf("after the restart: served serial %s, want the stored certificate's %s", served, leaf.SerialNumber)
	}
	if n := pebble.Orders(); n != orders {
		t.Errorf("after the restart: Pebble logged %d orders, want still %d", n, orders)
	}
}

// TestHTTPSACMEChallenges has Pebble validate the challenges for real,
// resolving the name to 127.0.0.1: TLS-ALPN-01 on the HTTPS port (with the
// plain port closed to Pebble), and HTTP-01 on the plain port (with the
// HTTPS port closed to Pebble: autocert tries TLS-ALPN-01 first, then
// HTTP-01 in a new order).
func TestHTTPSACMEChallenges(t *testing.T) {
	for _, tc := range []struct {
		name     string
		viaHTTP  bool // which port Pebble may reach
		wantHTTP bool // Pebble tried an HTTP-01 validation
	}{
		{"TLS-ALPN-01 on the HTTPS port", false, false},
		{"HTTP-01 on the plain port", true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			plainAddr, httpsAddr := testbin.FreeAddr(t), testbin.FreeAddr(t)
			closed := port(t, testbin.FreeAddr(t)) // nothing listens there
			cfg := pebbletest.Config{Validate: true, HTTPPort: atoi(t, closed), TLSPort: atoi(t, port(t, httpsAddr))}
			if tc.viaHTTP {
				cfg.HTTPPort, cfg.TLSPort = atoi(t, port(t, plainAddr)), atoi(t, closed)
			}
			pebble := pebbletest.Start(t, cfg)
			roots := pebble.Roots(t)
			srv := startServerEnv(t, t.TempDir(), []string{"SSL_CERT_FILE=" + pebble.CAFile}, "--addr", plainAddr,
				"--domain", testDomain, "--https-addr", httpsAddr, "--acme-directory", pebble.DirectoryURL)
			if got := srv.httpsAddr(); got != httpsAddr {
				t.Fatalf("HTTPS on %s, want %s", got, httpsAddr)
			}
			res, _ := get(t, httpsClient(roots, httpsAddr), "https://"+testDomain+":"+port(t, httpsAddr)+"/healthz")
			if res.StatusCode != http.StatusOK {
				t.Errorf("GET /healthz: got %d, want 200", res.StatusCode)
			}
			if got := strings.Contains(pebble.Log(), "Attempting to validate w/ HTTP"); got != tc.wantHTTP {
				t.Errorf("Pebble attempted an HTTP-01 validation: got %v, want %v", got, tc.wantHTTP)
			}
		})
	}
}

func atoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestHTTPSACMERenewal gets certificates valid for 30 seconds from Pebble:
// the running server renews before expiry (autocert starts a third of the
// lifetime before it), so that a new connection gets a new certificate,
// from a second order, with no restart.
func TestHTTPSACMERenewal(t *testing.T) {
	const validity = 30 * time.Second
	pebble := pebbletest.Start(t, pebbletest.Config{CertValidity: validity})
	roots := pebble.Roots(t)
	srv := startServerEnv(t, t.TempDir(), []string{"SSL_CERT_FILE=" + pebble.CAFile},
		"--domain", testDomain, "--https-addr", "127.0.0.1:0", "--acme-directory", pebble.DirectoryURL)
	httpsAddr := srv.httpsAddr()
	base := "https://" + testDomain + ":" + port(t, httpsAddr)
	res, _ := get(t, httpsClient(roots, httpsAddr), base+"/healthz")
	first := res.TLS.PeerCertificates[0]
	deadline := first.NotAfter
	for {
		res, _ := get(t, httpsClient(roots, httpsAddr), base+"/healthz")
		served := res.TLS.PeerCertificates[0]
		if served.SerialNumber.Cmp(first.SerialNumber) != 0 {
			if !served.NotAfter.After(first.NotAfter) {
				t.Errorf("renewed certificate valid until %s, want later than the first's %s", served.NotAfter, first.NotAfter)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the certificate valid until %s was still served at %s: not renewed before expiry", first.NotAfter, time.Now())
		}
		time.Sleep(500 * time.Millisecond)
	}
	if got := pebble.Orders(); got != 2 {
		t.Errorf("Pebble has %d orders, want 2 (the first and the renewal)", got)
	}
}

// TestHTTPSCertFiles serves --tls-cert/--tls-key and replaces the files
// under the running server: a new connection gets the new certificate.
func TestHTTPSCertFiles(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	first := testcert.SelfSigned(t, testDomain)
	writeAtomically(t, certFile, first.Cert)
	writeAtomically(t, keyFile, first.Key)
	srv := startServer(t, t.TempDir(), "--tls-cert", certFile, "--tls-key", keyFile, "--https-addr", "127.0.0.1:0", "--hsts-max-age", "10m")
	httpsAddr := srv.httpsAddr()
	base := "https://" + testDomain + ":" + port(t, httpsAddr)
	second := testcert.SelfSigned(t, testDomain)
	roots := x509.NewCertPool()
	for _, p := range []testcert.Pair{first, second} {
		if !roots.AppendCertsFromPEM(p.Cert) {
			t.Fatal("bad test certificate")
		}
	}

	// The three steps; upload URLs follow the request's host and scheme.
	c := httpsClient(roots, httpsAddr)
	rng := newRand(t)
	res, _ := httpsFlow(t, c, base, "image/png", encodePNG(t, rng, 40, 30))
	checkHTTPSAnswer(t, res, "max-age=600")
	if got := res.TLS.PeerCertificates[0].SerialNumber.String(); got != first.Serial {
		t.Fatalf("served serial %s, want the file's %s", got, first.Serial)
	}

	// TLS 1.2 is the oldest version served (Go's default): the server
	// refuses a client offering only 1.0 and 1.1.
	old := &tls.Config{ServerName: testDomain, RootCAs: roots, MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11}
	if conn, err := tls.Dial("tcp", httpsAddr, old); err == nil {
		conn.Close()
		t.Error("a TLS 1.1 handshake succeeded, want it refused")
	} else if !strings.Contains(err.Error(), "remote error: tls: protocol version not supported") {
		t.Errorf("TLS 1.1 handshake: got %v, want the server's protocol_version alert", err)
	}

	// Renewed as certbot or an operator's script would: each file
	// replaced. Files are checked at most once a second.
	writeAtomically(t, certFile, second.Cert)
	writeAtomically(t, keyFile, second.Key)
	deadline := time.Now().Add(10 * time.Second)
	for {
		res, _ := get(t, httpsClient(roots, httpsAddr), base+"/healthz")
		served := res.TLS.PeerCertificates[0].SerialNumber.String()
		if served == second.Serial {
			break
		}
		if served != first.Serial || time.Now().After(deadline) {
			t.Fatalf("after replacing the files: a new connection got serial %s, want the new %s (old %s)", served, second.Serial, first.Serial)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if !srv.logged("TLS certificate reloaded") {
		t.Error("no \"TLS certificate reloaded\" line in the log")
	}
}

// TestHTTPSFlagErrors checks that serve refuses inconsistent HTTPS flags
// before it listens.
func TestHTTPSFlagErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--tls-cert", "c.pem"}, "--tls-cert and --tls-key go together"},
		{[]string{"--domain", "https://images.example.com"}, "host name"},
		{[]string{"--domain", testDomain, "--tls-cert", "c", "--tls-key", "k"}, "exclude each other"},
		{[]string{"--acme-email", "a@example.com"}, "--acme-email needs --domain"},
		{[]string{"--metrics-addr", "localhost"}, `--metrics-addr "localhost": want HOST:PORT, public or off`},
		{[]string{"--tls-cert", "/nonexistent.pem", "--tls-key", "/nonexistent.key", "--https-addr", "127.0.0.1:0"}, "no such file"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), startTimeout)
			defer cancel()
			cmd := exec.CommandContext(ctx, binPath, append([]string{"serve", "--addr", "127.0.0.1:0", "--data", t.TempDir()}, tc.args...)...)
			cmd.Env = cleanEnv()
			out, err := cmd.CombinedOutput()
			if err == nil || !strings.Contains(string(out), tc.want) {
				t.Errorf("got %v, output %q; want a failure saying %q", err, out, tc.want)
			}
		})
	}
}

// checkHTTPSAnswer checks what every answer over HTTPS has: HTTP/2 and the
// Strict-Transport-Security header.
func checkHTTPSAnswer(t *testing.T, res *http.Response, wantHSTS string) {
	t.Helper()
	if res.Proto != "HTTP/2.0" {
		t.Errorf("got %s, want HTTP/2.0", res.Proto)
	}
	if got := res.Header.Get("Strict-Transport-Security"); got != wantHSTS {
		t.Errorf("got Strict-Transport-Security %q, want %q", got, wantHSTS)
	}
	if res.TLS == nil || res.TLS.Version < tls.VersionTLS12 {
		t.Errorf("got TLS state %v, want TLS 1.2 or later", res.TLS)
	}
}

// httpsClient trusts roots and reaches testDomain at httpsAddr, whatever
// port the URL names; a new client is a new connection.
func httpsClient(roots *x509.CertPool, httpsAddr string) *http.Client {
	_, p, _ := net.SplitHostPort(httpsAddr)
	return &http.Client{Timeout: 2 * time.Minute, Transport: &http.Transport{
		TLSClientConfig:   &tls.Config{RootCAs: roots},
		DialContext:       dialer(map[string]string{testDomain + ":" + p: httpsAddr}),
		ForceAttemptHTTP2: true, // a custom dialer and TLS config turn it off otherwise
	}}
}

// dialer dials the addresses of routes (host:port → loopback host:port),
// and refuses any other: nothing in these tests resolves names.
func dialer(routes map[string]string) func(ctx context.Context, network, addr string) (net.Conn, error) {
	var d net.Dialer
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		to, ok := routes[addr]
		if !ok {
			return nil, errors.New("test dialer: no route to " + addr)
		}
		return d.DialContext(ctx, network, to)
	}
}

// get GETs url and reads the whole answer.
func get(t *testing.T, c *http.Client, url string) (*http.Response, []byte) {
	t.Helper()
	res, b, err := do(c, http.MethodGet, url, "", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	return res, b
}

func port(t *testing.T, addr string) string {
	t.Helper()
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// writeAtomically replaces file with b (write aside, rename), so that the
// server never reads half of it.
func writeAtomically(t *testing.T, file string, b []byte) {
	t.Helper()
	tmp := file + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, file); err != nil {
		t.Fatal(err)
	}
}

// httpsAddr is the HTTPS address in the server's "listening" line.
func (s *server) httpsAddr() string {
	s.t.Helper()
	return s.listening("https_addr")
}

// listening is the value of field in the server's "listening" log line;
// the test fails if it is missing or empty.
func (s *server) listening(field string) string {
	s.t.Helper()
	f, err := os.Open(s.logPath)
	if err != nil {
		s.t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var line map[string]any
		if json.Unmarshal(sc.Bytes(), &line) == nil && line["msg"] == "listening" {
			if v, _ := line[field].(string); v != "" {
				return v
			}
		}
	}
	s.t.Fatalf("no %s in the server's listening line (log %s)", field, s.logPath)
	return ""
}

// httpsFlow runs the three steps of photo against base (https://, the
// first --domain) with c, checks that the upload URL is under base and that
// the image is served as uploaded, and returns the GET's answer and the
// image's path.
func httpsFlow(t *testing.T, c *http.Client, base, contentType string, photo []byte) (*http.Response, string) {
	t.Helper()
	up, err := createUpload(c, base, "", contentType, len(photo))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(up.Upload.URL, base+"/") {
		t.Errorf("upload URL %q: want it under %s", up.Upload.URL, base)
	}
	if err := putUpload(c, up, photo); err != nil {
		t.Fatal(err)
	}
	img, err := claim(c, base, "", up.Upload.Token, brandID)
	if err != nil {
		t.Fatal(err)
	}
	res, got := get(t, c, base+img.UserImage.Path)
	if res.StatusCode != http.StatusOK || !bytes.Equal(got, photo) {
		t.Fatalf("GET %s over HTTPS: got status %d, %d bytes; want 200 and the photo's %d bytes", img.UserImage.Path, res.StatusCode, len(got), len(photo))
	}
	return res, img.UserImage.Path
}

// TestUploadCACert: upload --cacert trusts a server's private
// certificate; without it the upload is refused as untrusted.
func TestUploadCACert(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	pair := testcert.SelfSigned(t, "localhost")
	writeAtomically(t, certFile, pair.Cert)
	writeAtomically(t, keyFile, pair.Key)
	srv := startServer(t, t.TempDir(), "--tls-cert", certFile, "--tls-key", keyFile, "--https-addr", "127.0.0.1:0")
	base := "https://localhost:" + port(t, srv.httpsAddr())
	photo := clientFile(t, t.TempDir(), "photo.jpeg", encodeJPEG(t, newRand(t), 40, 30))
	if r := runCommand(t, "", nil, "upload", "--server", base, "--brand", brandID, "--retries", "0", photo); r.exit == 0 || !strings.Contains(r.stderr, "certificate") {
		t.Errorf("upload without --cacert: got %d %q, want a refusal naming the certificate", r.exit, r.stderr)
	}
	r := runCommand(t, "", nil, "upload", "--server", base, "--brand", brandID, "--cacert", certFile, photo)
	if r.exit != 0 || !strings.HasPrefix(r.stdout, "/hc/user_images/") {
		t.Errorf("upload --cacert: got %d %q %q, want 0 and the path", r.exit, r.stdout, r.stderr)
	}
}
