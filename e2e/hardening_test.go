package e2e

import (
	"crypto/x509"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/userimages/userimages/client/api"

	"userimages/internal/testkit/testphoto"

	"userimages/internal/testkit/testcert"
)

// TestMetricsNotForBrowsers: /metrics answers a page's request, and its
// preflight, with no CORS header (the API still sends them), so no other
// origin's script can read it.
func TestMetricsNotForBrowsers(t *testing.T) {
	srv := startServer(t, t.TempDir())
	for _, method := range []string{http.MethodGet, http.MethodOptions} {
		header := map[string]string{"Origin": "https://evil.example"}
		if method == http.MethodOptions {
			header["Access-Control-Request-Method"] = http.MethodGet
		}
		res, body, err := do(http.DefaultClient, method, srv.base+"/metrics", "", header, nil)
		if err != nil {
			t.Fatal(err)
		}
		if method == http.MethodGet && (res.StatusCode != http.StatusOK || !strings.Contains(string(body), "go_info")) {
			t.Fatalf("GET /metrics: got %d, want 200 and the metrics", res.StatusCode)
		}
		for name := range res.Header {
			if strings.HasPrefix(name, "Access-Control-") {
				t.Errorf("%s /metrics: got %s: %q, want no CORS header", method, name, res.Header.Get(name))
			}
		}
	}
	res, _, err := do(http.DefaultClient, http.MethodGet, srv.base+"/api/v2/users/me", "", map[string]string{"Origin": "https://evil.example"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Header.Get("Access-Control-Allow-Origin") != "*" {
		t.Errorf("GET /api/v2/users/me: got Access-Control-Allow-Origin %q, want * (the API stays open to pages)", res.Header.Get("Access-Control-Allow-Origin"))
	}
}

// checkPrivate fails the test for each path that is not private: 0700
// for a directory, 0600 for a file. Missing paths are failures unless
// optional.
func checkPrivate(t *testing.T, when string, paths []string, optional ...string) {
	t.Helper()
	for _, p := range append(paths, optional...) {
		info, err := os.Stat(p)
		if err != nil {
			if !slices.Contains(optional, p) {
				t.Errorf("%s: %v", when, err)
			}
			continue
		}
		want := fs.FileMode(0o600)
		if info.IsDir() {
			want = 0o700
		}
		if got := info.Mode().Perm(); got != want {
			t.Errorf("%s: %s is %04o, want %04o", when, p, got, want)
		}
	}
}

// TestPrivateFiles: under umask 0, the loosest, the data directory is
// 0700 and the database, its WAL and SHM and the signing secret 0600
// after start and after writes; a backup's snapshot and manifest are 0600
// and a restore's directory and files private; and an existing
// deployment's 0755 directory and 0644 files are corrected on start, with
// a log line.
func TestPrivateFiles(t *testing.T) {
	old := syscall.Umask(0) // inherited by the binary; e2e tests are not parallel
	defer syscall.Umask(old)
	data := filepath.Join(t.TempDir(), "data")
	db := filepath.Join(data, "userimages.db")
	files := []string{data, db, filepath.Join(data, "signing-secret")}
	wal := []string{db + "-wal", db + "-shm"}

	d := newBackupDeploymentIn(t, data)
	checkPrivate(t, "after start", files, wal...)
	served := map[string][]byte{}
	d.uploadMany(t, 3, served)
	checkPrivate(t, "after writes", append(files, wal...))

	dest := filepath.Join(t.TempDir(), "backups")
	backupCounts(t, nil, "--data", data, "--to", dest)
	var backedUp int
	filepath.WalkDir(dest, func(p string, e fs.DirEntry, err error) error {
		if err == nil && !e.IsDir() {
			backedUp++
			checkPrivate(t, "backup", []string{p})
		}
		return nil
	})
	if backedUp < 5 { // 3 images, the snapshot, the manifest, the index…
		t.Errorf("backup: %d files, want the snapshot, manifest, index and images", backedUp)
	}
	restored := filepath.Join(t.TempDir(), "restored")
	runCLI(t, "", "restore", "--from", dest, "--data", restored)
	checkPrivate(t, "after restore", []string{restored, filepath.Join(restored, "userimages.db"), filepath.Join(restored, "signing-secret")})

	// An existing deployment, from before modes were set: corrected on start.
	if err := d.srv.stop(); err != nil {
		t.Fatal(err)
	}
	for _, p := range files {
		if err := os.Chmod(p, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(data, 0o755); err != nil {
		t.Fatal(err)
	}
	srv := startServer(t, data)
	checkPrivate(t, "after restarting an old deployment", files, wal...)
	if !srv.logged("made private: it was readable by other users of this host") {
		t.Error("no log line for the corrected modes")
	}
	for p, want := range served {
		if got, err := fetch(http.DefaultClient, srv.base, p); err != nil || string(got) != string(want) {
			t.Errorf("GET %s after the correction: %v", p, err)
		}
	}
}

// TestMetricsListener: --metrics-addr HOST:PORT serves /metrics there, and
// only there (it counts the public listener's requests; the public
// listener answers 404 for /metrics); with HTTPS on, /metrics is off the
// public listener unless --metrics-addr public puts it back.
func TestMetricsListener(t *testing.T) {
	t.Run("own listener", func(t *testing.T) {
		srv := startServer(t, t.TempDir(), "--metrics-addr", "127.0.0.1:0")
		metricsAddr := srv.listening("metrics_addr")
		if metricsAddr == srv.addr {
			t.Fatalf("metrics_addr %s is the public listener's", metricsAddr)
		}
		if res, _ := get(t, http.DefaultClient, srv.base+"/healthz"); res.StatusCode != http.StatusOK {
			t.Fatalf("GET /healthz: got %d, want 200", res.StatusCode)
		}
		if res, body := get(t, http.DefaultClient, srv.base+"/metrics"); res.StatusCode != http.StatusNotFound || strings.Contains(string(body), "go_info") {
			t.Errorf("GET /metrics on the public listener: got %d, want 404 without the metrics", res.StatusCode)
		}
		res, body := get(t, http.DefaultClient, "http://"+metricsAddr+"/metrics")
		if res.StatusCode != http.StatusOK || !strings.Contains(string(body), "go_info") {
			t.Fatalf("GET /metrics on --metrics-addr: got %d, want 200 and the metrics", res.StatusCode)
		}
		if want := `userimages_http_requests_total{method="GET",route="GET /healthz",status="200"} 1`; !strings.Contains(string(body), want) {
			t.Errorf("the metrics listener's /metrics has no %s: it must count the public listener's requests", want)
		}
		if res, _ := get(t, http.DefaultClient, "http://"+metricsAddr+"/healthz"); res.StatusCode != http.StatusNotFound {
			t.Errorf("GET /healthz on --metrics-addr: got %d, want 404 (only /metrics is served there)", res.StatusCode)
		}
	})
	t.Run("HTTPS", func(t *testing.T) {
		dir := t.TempDir()
		pair := testcert.SelfSigned(t, testDomain)
		certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
		writeAtomically(t, certFile, pair.Cert)
		writeAtomically(t, keyFile, pair.Key)
		roots := x509.NewCertPool()
		roots.AppendCertsFromPEM(pair.Cert)
		for _, tc := range []struct {
			args   []string
			logged string
			want   int
		}{
			{nil, "off", http.StatusNotFound},
			{[]string{"--metrics-addr", "public"}, "public", http.StatusOK},
		} {
			args := append([]string{"--tls-cert", certFile, "--tls-key", keyFile, "--https-addr", "127.0.0.1:0"}, tc.args...)
			srv := startServer(t, t.TempDir(), args...)
			if got := srv.listening("metrics_addr"); got != tc.logged {
				t.Errorf("%v: logged metrics_addr %q, want %q", tc.args, got, tc.logged)
			}
			httpsAddr := srv.httpsAddr()
			res, _ := get(t, httpsClient(roots, httpsAddr), "https://"+testDomain+":"+port(t, httpsAddr)+"/metrics")
			if res.StatusCode != tc.want {
				t.Errorf("HTTPS %v: GET /metrics: got %d, want %d", tc.args, res.StatusCode, tc.want)
			}
			if err := srv.stop(); err != nil {
				t.Fatal(err)
			}
		}
	})
}

// fromAddr is an HTTP client whose connections come from the loopback
// address ip (127.0.0.0/8 is all local on Linux): another client address
// without a proxy.
func fromAddr(ip string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 5 * time.Second}
	return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{DialContext: d.DialContext, DisableKeepAlives: true}}
}

// signInStatus sends GET /api/v2/users/me with email's password from c,
// and returns the status and Retry-After.
func signInStatus(t *testing.T, c *http.Client, base, email, password string) (int, string) {
	t.Helper()
	res, _, err := do(c, http.MethodGet, base+"/api/v2/users/me", basicAuth(email, password), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	return res.StatusCode, res.Header.Get("Retry-After")
}

// TestSignInThrottled: 30 wrong passwords from one address, then 50 from
// 50 addresses for one account, are answered 429 with Retry-After past
// the free failures (checked before the hash, so quickly); the right
// password works after `user unlock`, and after the wait.
func TestSignInThrottled(t *testing.T) {
	const email, password = "admin@example.com", "the right password 1"
	data := t.TempDir()
	addUser(t, data, email, password)
	srv := startServer(t, data, "--signin-delay", "1s", "--signin-max-delay", "3s")
	count := func(c *http.Client, pw string, by map[int]int) {
		status, retry := signInStatus(t, c, srv.base, email, pw)
		by[status]++
		if status == http.StatusTooManyRequests && retry == "" {
			t.Error("429 without Retry-After")
		}
	}

	one := fromAddr("127.0.0.2")
	byStatus := map[int]int{}
	for range 30 {
		count(one, "wrong", byStatus)
	}
	t.Logf("30 wrong passwords from one address: %v", byStatus)
	if byStatus[http.StatusTooManyRequests] < 20 || byStatus[http.StatusUnauthorized] < 5 {
		t.Errorf("30 wrong passwords from one address: got %v, want 5 or a few more 401 and the rest 429", byStatus)
	}
	if status, _ := signInStatus(t, one, srv.base, email, password); status != http.StatusTooManyRequests {
		t.Errorf("the right password from the waiting address: got %d, want 429", status)
	}
	runCLI(t, "", "user", "unlock", "--data", data, "--email", email)
	if status, _ := signInStatus(t, fromAddr("127.0.0.3"), srv.base, email, password); status != http.StatusOK {
		t.Errorf("the right password from another address after unlock: got %d, want 200", status)
	}

	byStatus = map[int]int{}
	for i := range 50 {
		count(fromAddr(fmt.Sprintf("127.0.1.%d", 10+i)), "wrong", byStatus)
	}
	t.Logf("50 wrong passwords from 50 addresses: %v", byStatus)
	if byStatus[http.StatusTooManyRequests] < 35 {
		t.Errorf("50 wrong passwords from 50 addresses: got %v, want most 429", byStatus)
	}
	fresh := fromAddr("127.0.2.1")
	status, retry := signInStatus(t, fresh, srv.base, email, password)
	if status != http.StatusTooManyRequests {
		t.Fatalf("the right password from a new address while the account waits: got %d, want 429", status)
	}
	wait, _ := strconv.Atoi(retry)
	if wait < 1 || wait > 4 {
		t.Errorf("Retry-After %q, want 1 to 4 s (--signin-max-delay 3s)", retry)
	}
	time.Sleep(time.Duration(wait) * time.Second)
	if status, _ := signInStatus(t, fresh, srv.base, email, password); status != http.StatusOK {
		t.Errorf("the right password after the wait: got %d, want 200", status)
	}
}

// variantQueries are the cold variants of one picture: every served width
// in every format.
func variantQueries() []string {
	var qs []string
	for _, w := range api.DefaultVariantWidths {
		for _, fm := range []string{"jpg", "webp", "png"} {
			qs = append(qs, fmt.Sprintf("w=%d&fm=%s", w, fm))
		}
	}
	return qs
}

// timedVariants GETs path with each of queries as c and returns how long
// each took; an answer other than 200 is reported with fail (t.Errorf or
// t.Fatalf), prefixed by what.
func timedVariants(t *testing.T, c *http.Client, base, path string, queries []string, fail func(string, ...any), what string) []time.Duration {
	t.Helper()
	var took []time.Duration
	for _, q := range queries {
		status, d := timedVariant(t, c, base, path, q)
		if status != http.StatusOK {
			fail("%s: GET %s?%s: got %d, want 200", what, path, q, status)
		}
		took = append(took, d)
	}
	return took
}

// timedVariant GETs path?q from c and returns the status and how long it took.
func timedVariant(t *testing.T, c *http.Client, base, path, q string) (int, time.Duration) {
	t.Helper()
	start := time.Now()
	res, _, err := do(c, http.MethodGet, base+path+"?"+q, "", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode == http.StatusTooManyRequests && res.Header.Get("Retry-After") == "" {
		t.Error("429 without Retry-After")
	}
	return res.StatusCode, time.Since(start)
}

// TestFairVariants: one address asking for many cold variants at once (16
// connections, past its 2 made at once and 4 waiting) gets 429 with
// Retry-After past its share, while another address's cold variants all
// succeed, at near their latency alone; variants made already are never
// refused.
func TestFairVariants(t *testing.T) {
	srv := startServer(t, t.TempDir(), "--max-queued-variants-per-client", "4")
	flood := sampleFlow(t, srv, "", api.JPEG.MIME, testphoto.JPEG(1600, 1200, 7, 0))
	alone := sampleFlow(t, srv, "", api.JPEG.MIME, testphoto.JPEG(1600, 1200, 8, 0))
	during := sampleFlow(t, srv, "", api.JPEG.MIME, testphoto.JPEG(1600, 1200, 9, 0))
	other := fromAddr("127.0.0.3")
	mine := []string{"w=640&fm=jpg", "w=320&fm=webp", "w=960&fm=png"}
	solo := timedVariants(t, other, srv.base, alone, mine, t.Fatalf, "alone")

	flooder := fromAddr("127.0.0.2")
	queries := variantQueries()
	var mu sync.Mutex
	byStatus := map[int]int{}
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := i; j < len(queries); j += 16 {
				status, _ := timedVariant(t, flooder, srv.base, flood, queries[j])
				mu.Lock()
				byStatus[status]++
				mu.Unlock()
			}
		}()
	}
	time.Sleep(100 * time.Millisecond)
	shared := timedVariants(t, other, srv.base, during, mine, t.Errorf, "another address during the flood")
	wg.Wait()
	t.Logf("flooding address: %v; the other's cold variants alone %v, during the flood %v", byStatus, solo, shared)
	if byStatus[http.StatusTooManyRequests] == 0 || byStatus[http.StatusOK] == 0 {
		t.Errorf("flooding address: got %v, want some 200 and 429 past its share", byStatus)
	}
	slices.Sort(solo)
	slices.Sort(shared)
	if shared[1] > 6*solo[1]+time.Second {
		t.Errorf("the other address's median cold variant: %s during the flood, %s alone; want near it", shared[1], solo[1])
	}
	// Made already: never refused, however many at once.
	wg = sync.WaitGroup{}
	var refused atomic.Int32
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if status, _ := timedVariant(t, flooder, srv.base, alone, mine[0]); status != http.StatusOK {
				refused.Add(1)
			}
		}()
	}
	wg.Wait()
	if refused.Load() != 0 {
		t.Errorf("16 GETs at once of a variant made already: %d refused, want none", refused.Load())
	}
}
