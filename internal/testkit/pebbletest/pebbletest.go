// Package pebbletest runs Pebble, Let's Encrypt's test ACME server, on
// loopback for tests: one per call to Start, stopped when the test ends.
// By default it runs with PEBBLE_VA_ALWAYS_VALID=1, so every challenge
// passes without Pebble reaching the client: tests need no DNS and no port
// 80. With Config.Validate it checks challenges for real, resolving every
// name to 127.0.0.1 through pebble-challtestsrv's DNS server.
//
// Pebble is looked up on PATH, then in $GOBIN and $(go env GOPATH)/bin;
// its test certificates are read from its module in the module cache,
// where installing it puts them:
//
//	go install github.com/letsencrypt/pebble/v2/cmd/pebble@v2.10.3
//	go install github.com/letsencrypt/pebble/v2/cmd/pebble-challtestsrv@v2.10.3
//
// Without it tests skip, unless the environment variable CI is set: then
// they fail, so that CI never passes by skipping.
package pebbletest

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"userimages/internal/testkit/testbin"
)

// Version is the Pebble release this package runs.
const Version = "v2.10.3"

// Install is the command that installs Pebble and its DNS server.
const Install = "go install github.com/letsencrypt/pebble/v2/cmd/pebble@" + Version +
	" github.com/letsencrypt/pebble/v2/cmd/pebble-challtestsrv@" + Version

// startTimeout bounds how long Pebble may take to answer.
const startTimeout = 30 * time.Second

// Server is a running Pebble.
type Server struct {
	// DirectoryURL is the ACME directory, https://127.0.0.1:PORT/dir.
	DirectoryURL string
	// CAFile is the PEM of the CA that signed Pebble's own HTTPS
	// certificate: an ACME client trusts the directory through it (for
	// instance SSL_CERT_FILE=CAFile).
	CAFile string

	mgmt   string // https://127.0.0.1:PORT of the management interface
	client *http.Client
	cmd    *exec.Cmd
	exited chan struct{}
	log    *orderLog
}

// DefaultCertValidity is how long certificates are valid by default: 90
// days, as Let's Encrypt's.
const DefaultCertValidity = 90 * 24 * time.Hour

// Config says how Pebble runs. The zero Config issues 90-day certificates
// and passes every challenge unseen.
type Config struct {
	// CertValidity is how long certificates are valid, in whole seconds
	// (default DefaultCertValidity).
	CertValidity time.Duration
	// Validate makes Pebble validate challenges: it resolves every name to
	// 127.0.0.1 and connects to HTTPPort for HTTP-01 and to TLSPort for
	// TLS-ALPN-01.
	Validate          bool
	HTTPPort, TLSPort int
}

// Start runs Pebble for the rest of t, or skips t (fails it under CI) if it
// is not installed. Its log is shown if t fails.
func Start(t testing.TB, cfg Config) *Server {
	t.Helper()
	missing := func(err error) {
		t.Helper()
		if os.Getenv("CI") != "" {
			t.Fatalf("pebbletest: %v; install it with: %s", err, Install)
		}
		t.Skipf("pebbletest: %v; install it with: %s (under CI=1 this fails)", err, Install)
	}
	bin, err := testbin.Find("pebble")
	if err != nil {
		missing(err)
	}
	modDir, err := moduleDir()
	if err != nil {
		missing(err)
	}
	certs := filepath.Join(modDir, "test", "certs")
	s := &Server{CAFile: filepath.Join(certs, "pebble.minica.pem")}
	pool := x509.NewCertPool()
	if pem, err := os.ReadFile(s.CAFile); err != nil || !pool.AppendCertsFromPEM(pem) {
		missing(fmt.Errorf("no CA certificate in %s (%v)", s.CAFile, err))
	}
	s.client = &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	t.Cleanup(s.client.CloseIdleConnections)

	if cfg.CertValidity == 0 {
		cfg.CertValidity = DefaultCertValidity
	}
	env := append(os.Environ(),
		"PEBBLE_VA_NOSLEEP=1",      // no validation is delayed
		"PEBBLE_WFE_NONCEREJECT=0", // no nonce is refused at random
	)
	var flags []string
	if cfg.Validate {
		dns, err := startDNS(t)
		if err != nil {
			missing(err)
		}
		flags = append(flags, "-dnsserver", dns)
	} else {
		env = append(env, "PEBBLE_VA_ALWAYS_VALID=1") // no challenge is really validated
		cfg.HTTPPort, cfg.TLSPort = 5002, 5001        // unused
	}
	dir := t.TempDir()
	// A free port can be taken by someone else before Pebble binds it;
	// then Pebble exits and other ports are tried.
	for attempt := 1; ; attempt++ {
		api, mgmt := testbin.FreeAddr(t), testbin.FreeAddr(t)
		cfgPath := filepath.Join(dir, "pebble-config.json")
		if err := os.WriteFile(cfgPath, pebbleConfig(cfg, certs, api, mgmt), 0o600); err != nil {
			t.Fatalf("pebbletest: %v", err)
		}
		s.DirectoryURL, s.mgmt = "https://"+api+"/dir", "https://"+mgmt
		if err := s.start(bin, append([]string{"-config", cfgPath}, flags...), env); err != nil {
			t.Fatalf("pebbletest: %v", err)
		}
		err := s.waitUp()
		if err == nil {
			break
		}
		s.Stop()
		if attempt == 3 {
			t.Fatalf("pebbletest: pebble on %s: %v\nlog:\n%s", api, err, s.log.String())
		}
	}
	t.Cleanup(func() {
		s.Stop()
		if t.Failed() {
			t.Logf("pebbletest: pebble log:\n%s", s.log.String())
		}
	})
	return s
}

// pebbleConfig is Pebble's configuration file for cfg, its API listening
// on api and its management interface on mgmt, with the test certificates
// in certs.
func pebbleConfig(cfg Config, certs, api, mgmt string) []byte {
	b, _ := json.Marshal(map[string]any{"pebble": map[string]any{
		"listenAddress":           api,
		"managementListenAddress": mgmt,
		"certificate":             filepath.Join(certs, "localhost", "cert.pem"),
		"privateKey":              filepath.Join(certs, "localhost", "key.pem"),
		"httpPort":                cfg.HTTPPort,
		"tlsPort":                 cfg.TLSPort,
		"ocspResponderURL":        "",
		"keyAlgorithm":            "ecdsa",
		"profiles": map[string]any{"default": map[string]any{
			"description": "the test's", "validityPeriod": int64(cfg.CertValidity / time.Second)}},
	}})
	return b
}

// start starts Pebble, bin with args and env, logging to a fresh log;
// s.exited is closed when it exits.
func (s *Server) start(bin string, args, env []string) error {
	s.log = &orderLog{}
	s.cmd = exec.Command(bin, args...)
	s.cmd.Env = env
	s.cmd.Stdout, s.cmd.Stderr = s.log, s.log
	if err := s.cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", bin, err)
	}
	s.exited = make(chan struct{})
	go func() {
		s.cmd.Wait()
		close(s.exited)
	}()
	return nil
}

// startDNS runs pebble-challtestsrv as a DNS server only, answering A
// 127.0.0.1 (and no AAAA) for every name, for the rest of t, and returns
// its address.
func startDNS(t testing.TB) (string, error) {
	t.Helper()
	bin, err := testbin.Find("pebble-challtestsrv")
	if err != nil {
		return "", err
	}
	logFile, err := os.Create(filepath.Join(t.TempDir(), "challtestsrv.log"))
	if err != nil {
		t.Fatalf("pebbletest: %v", err)
	}
	t.Cleanup(func() { logFile.Close() })
	for attempt := 1; ; attempt++ {
		addr := testbin.FreeAddr(t) // the UDP port of the same number is very likely free too
		cmd := exec.Command(bin, "-dnsserver", addr, "-management", testbin.FreeAddr(t),
			"-http01", "", "-https01", "", "-doh", "", "-tlsalpn01", "", "-defaultIPv4", "127.0.0.1", "-defaultIPv6", "")
		cmd.Stdout, cmd.Stderr = logFile, logFile
		if err := cmd.Start(); err != nil {
			return "", fmt.Errorf("start %s: %w", bin, err)
		}
		exited, stop := testbin.Watch(cmd)
		err := waitDNS(addr, exited)
		if err == nil {
			t.Cleanup(stop)
			return addr, nil
		}
		stop()
		if attempt == 3 {
			b, _ := os.ReadFile(logFile.Name())
			t.Fatalf("pebbletest: pebble-challtestsrv on %s: %v\nlog:\n%s", addr, err, b)
		}
	}
}

// waitDNS waits until the DNS server at addr resolves a name to 127.0.0.1,
// or it exits.
func waitDNS(addr string, exited <-chan struct{}) error {
	r := &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	}}
	deadline := time.Now().Add(startTimeout)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		ips, err := r.LookupHost(ctx, "probe.test")
		cancel()
		if err == nil && len(ips) == 1 && ips[0] == "127.0.0.1" {
			return nil
		}
		select {
		case <-exited:
			return fmt.Errorf("exited: %v", err)
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no answer 127.0.0.1: got %v, %v", ips, err)
		}
	}
}

// moduleDir is Pebble's module in the module cache.
func moduleDir() (string, error) {
	out, err := exec.Command("go", "env", "GOMODCACHE").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMODCACHE: %w", err)
	}
	dir := filepath.Join(strings.TrimSpace(string(out)), "github.com", "letsencrypt", "pebble", "v2@"+Version)
	if _, err := os.Stat(filepath.Join(dir, "test", "certs")); err != nil {
		return "", fmt.Errorf("pebble's module is not in the module cache: %w", err)
	}
	return dir, nil
}

// waitUp waits until the directory answers or Pebble exits.
func (s *Server) waitUp() error {
	deadline := time.Now().Add(startTimeout)
	for {
		res, err := s.client.Get(s.DirectoryURL)
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("GET %s: status %d", s.DirectoryURL, res.StatusCode)
		}
		select {
		case <-s.exited:
			return fmt.Errorf("pebble exited: %v", err)
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return err
		}
	}
}

// Roots is the root that Pebble issues certificates under, from its
// management interface (/roots/0); Pebble makes a new one every start.
func (s *Server) Roots(t testing.TB) *x509.CertPool {
	t.Helper()
	res, err := s.client.Get(s.mgmt + "/roots/0")
	if err != nil {
		t.Fatalf("pebbletest: %v", err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	pool := x509.NewCertPool()
	if err != nil || res.StatusCode != http.StatusOK || !pool.AppendCertsFromPEM(b) {
		t.Fatalf("pebbletest: GET /roots/0: status %d, %v, body %q", res.StatusCode, err, b)
	}
	return pool
}

// Orders is how many orders Pebble has been sent, from its log.
func (s *Server) Orders() int { return s.log.orders() }

// Log is what Pebble has written so far.
func (s *Server) Log() string { return s.log.String() }

// Stop kills Pebble (its state is in memory: it is gone).
func (s *Server) Stop() {
	s.cmd.Process.Kill()
	<-s.exited
}

// orderLog keeps Pebble's output and the last order count it logged.
type orderLog struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

var ordersLine = regexp.MustCompile(`There are now (\d+) orders in the db`)

func (l *orderLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *orderLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func (l *orderLog) orders() int {
	n := 0
	for _, m := range ordersLine.FindAllStringSubmatch(l.String(), -1) {
		n, _ = strconv.Atoi(m[1])
	}
	return n
}
