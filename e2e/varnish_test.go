package e2e

import (
	"bytes"
	"fmt"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/userimages/userimages/client/api"
)

// varnishdPath is where Debian's varnish package puts varnishd;
// scripts/test.sh installs it with varnish-modules (xkey).
const varnishdPath = "/usr/sbin/varnishd"

// purgeDeadline only guards against hangs: a purge is due a second after
// its takedown and the instances poll every second.
const purgeDeadline = 20 * time.Second

// needVarnish skips the test without varnishd, except in CI.
func needVarnish(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(varnishdPath); err != nil {
		unavailable(t, fmt.Sprintf("no varnishd (bash scripts/test.sh installs varnish and varnish-modules): %v", err))
	}
}

// deploymentVCL returns DEPLOYMENT.md's Varnish configuration with its
// backend pointed at backend (HOST:PORT).
func deploymentVCL(t *testing.T, backend string) string {
	t.Helper()
	m := deploymentBlock(t, "(?s)### Caches in front: purges.*?```vcl\n(.*?)```")
	host, port, _ := net.SplitHostPort(backend)
	vcl := string(m[1])
	for old, new := range map[string]string{
		`.host = "127.0.0.1";`: fmt.Sprintf(".host = %q;", host),
		`.port = "8080";`:      fmt.Sprintf(".port = %q;", port),
	} {
		if !strings.Contains(vcl, old) {
			t.Fatalf("DEPLOYMENT.md's VCL has no %q to point at the test's server", old)
		}
		vcl = strings.Replace(vcl, old, new, 1)
	}
	return vcl
}

// startVarnish runs varnishd in the foreground on 127.0.0.1:port, in front
// of backend with DEPLOYMENT.md's VCL, until the test ends. Its working
// directory is readable by the user varnishd drops to.
func startVarnish(t *testing.T, port, backend string) {
	t.Helper()
	dir, err := os.MkdirTemp("", "userimages-varnish-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	vclPath := filepath.Join(dir, "userimages.vcl")
	if err := os.WriteFile(vclPath, []byte(deploymentVCL(t, backend)), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(varnishdPath, "-F", "-n", filepath.Join(dir, "n"), "-a", "127.0.0.1:"+port, "-f", vclPath, "-s", "malloc,64m")
	startDaemon(t, cmd, syscall.SIGTERM, func() bool {
		// Varnish answers once the child runs the VCL: a PURGE of no key.
		req, _ := http.NewRequest("PURGE", "http://127.0.0.1:"+port+"/", nil)
		req.Header.Set("Surrogate-Key", "none")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			return false
		}
		res.Body.Close()
		return res.StatusCode == http.StatusOK
	}, nil)
}

// edgeGet GETs url and reports its status and whether Varnish answered
// from its cache (X-Varnish names two transactions on a hit).
func edgeGet(t *testing.T, url string) (status int, hit bool) {
	t.Helper()
	res, _, err := do(http.DefaultClient, http.MethodGet, url, "", nil, nil)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	return res.StatusCode, len(strings.Fields(res.Header.Get("X-Varnish"))) == 2
}

// TestVarnishPurge runs the binary behind a real Varnish with the VCL of
// DEPLOYMENT.md: originals and variants are cached at the edge; a blocking
// takedown from the CLI while the server runs takes every identical copy
// and every variant out of Varnish (404 through it within seconds), while
// an unrelated image stays cached.
func TestVarnishPurge(t *testing.T) {
	needVarnish(t)
	rng := newRand(t)
	port := freePort(t)
	edge := "http://127.0.0.1:" + port
	data := t.TempDir()
	srv := startServer(t, data, "--purge", edge+"/", "--trusted-proxy", "127.0.0.1")
	startVarnish(t, port, srv.addr)

	picture := encodeJPEG(t, rng, 400, 300)
	var copies []string
	for range 3 {
		copies = append(copies, sampleFlow(t, srv, "", api.JPEG.MIME, picture))
	}
	unrelated := sampleFlow(t, srv, "", api.JPEG.MIME, encodeJPEG(t, rng, 400, 300))
	var gone []string
	for _, p := range copies {
		gone = append(gone, edge+p, edge+p+"?w=160", edge+p+"?w=320&auto=format")
	}
	kept := []string{edge + unrelated, edge + unrelated + "?w=160"}
	for _, u := range append(slices.Clone(gone), kept...) {
		if status, _ := edgeGet(t, u); status != http.StatusOK {
			t.Fatalf("GET %s through Varnish: got %d, want 200", u, status)
		}
		if status, hit := edgeGet(t, u); status != http.StatusOK || !hit {
			t.Fatalf("GET %s through Varnish again: got %d, hit %v, want 200 from the cache", u, status, hit)
		}
	}

	start := time.Now()
	out := runCLI(t, "", "images", "rm", "--data", data, "--reason", "legal notice", "--block", copies[1])
	if n := strings.Count(out, "removed"); n != 3 {
		t.Errorf("images rm --block printed %q, want the three copies removed", out)
	}
	for {
		var left []string
		for _, u := range gone {
			if status, _ := edgeGet(t, u); status != http.StatusNotFound {
				left = append(left, fmt.Sprintf("%s: %d", u, status))
			}
		}
		if len(left) == 0 {
			break
		}
		if time.Since(start) > purgeDeadline {
			t.Fatalf("%s after the takedown, still served through Varnish: %v", purgeDeadline, left)
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("every copy and variant answered 404 through Varnish %v after images rm", time.Since(start).Round(10*time.Millisecond))
	for _, u := range kept {
		if status, hit := edgeGet(t, u); status != http.StatusOK || !hit {
			t.Errorf("GET %s (another picture) after the purge: got %d, hit %v, want 200 still from the cache", u, status, hit)
		}
	}
	log := runCLI(t, "", "images", "log", "--data", data)
	for _, p := range copies {
		if !strings.Contains(log, p) {
			t.Errorf("images log: no record of %s:\n%s", p, log)
		}
	}
}

// purgeTarget is a loopback purge target: it refuses the first refuse
// PURGE requests (503), then accepts, and records the keys of each.
type purgeTarget struct {
	mu       sync.Mutex
	refuse   int
	tries    int
	accepted map[string]int // key → PURGEs answered 200 naming it
	srv      *httptest.Server
}

func newPurgeTarget(t *testing.T, refuse int) *purgeTarget {
	p := &purgeTarget{refuse: refuse, accepted: map[string]int{}}
	p.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		defer p.mu.Unlock()
		if r.Method != "PURGE" {
			t.Errorf("purge target: got %s, want PURGE", r.Method)
		}
		p.tries++
		if p.tries <= p.refuse {
			http.Error(w, "not now", http.StatusServiceUnavailable)
			return
		}
		for _, k := range strings.Fields(r.Header.Get("Surrogate-Key")) {
			p.accepted[k]++
		}
	}))
	t.Cleanup(p.srv.Close)
	return p
}

// state returns the tries so far and how many times key was accepted.
func (p *purgeTarget) state(key string) (tries, accepted int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.tries, p.accepted[key]
}

// waitUntil polls cond every 50 ms until it holds, failing t after
// purgeDeadline.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(purgeDeadline)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, purgeDeadline)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// refusedPurge starts a server, with the console's admin, purging at a
// target that refuses the first refuse tries; publishes an image, takes it
// down from the command line, and returns once the server logged the first
// refused purge.
func refusedPurge(t *testing.T, refuse int) (target *purgeTarget, data string, srv *server, path string) {
	t.Helper()
	target = newPurgeTarget(t, refuse)
	data = t.TempDir()
	runCLI(t, consoleAdminPW+"\n", "user", "add", "--admin", "--data", data, "--email", consoleAdmin, "--password-stdin")
	srv = startServer(t, data, "--purge", target.srv.URL+"/")
	path = sampleFlow(t, srv, "", api.PNG.MIME, encodePNG(t, newRand(t), 32, 24))
	runCLI(t, "", "images", "rm", "--data", data, "--reason", "privacy", path)
	if !srv.waitForLog("outbox: delivery failed; retrying") {
		t.Fatal("the server did not log the refused purge")
	}
	return target, data, srv, path
}

// TestPurgeSurvivesKill: a purge target refuses the first tries; the
// server is killed (-9) after the first refusal, before delivery; the
// restarted server delivers the purge, once.
func TestPurgeSurvivesKill(t *testing.T) {
	target, data, srv, path := refusedPurge(t, 2)
	key := imageKey(path)
	// Killed once the refusal is recorded: killed during a delivery, the
	// entry would wait for its lease (a minute) to end.
	srv.kill()
	if tries, accepted := target.state(key); accepted != 0 || tries != 1 {
		t.Fatalf("before the restart: got %d tries, %d accepted, want 1 refused", tries, accepted)
	}
	startServer(t, data, "--purge", target.srv.URL+"/")
	waitUntil(t, "delivery after the restart", func() bool { _, accepted := target.state(key); return accepted >= 1 })
	time.Sleep(1500 * time.Millisecond) // a second delivery would come within the poll
	if tries, accepted := target.state(key); accepted != 1 || tries != 3 {
		t.Errorf("after the restart: got %d tries, %d accepted, want 3 tries (two refused), accepted once", tries, accepted)
	}
}

// total returns the PURGE requests so far and the keys accepted.
func (p *purgeTarget) total() (tries int, accepted map[string]int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.tries, maps.Clone(p.accepted)
}

// TestScaleOutPurgeOnce runs two instances on one PostgreSQL and one
// bucket, both purging one target: images taken down from the CLI and from
// each instance are purged once each (one instance leases each purge),
// and the outbox's gauges say nothing waits.
func TestScaleOutPurgeOnce(t *testing.T) {
	d := newScaleOut(t)
	target := newPurgeTarget(t, 0)
	a := d.start(t, "--purge", target.srv.URL+"/")
	b := d.start(t, "--purge", target.srv.URL+"/")
	d.cli(t, "mod password 1\n", "user", "add", "--admin", "--email", "mod@example.com", "--password-stdin")
	rng := newRand(t)
	var keys []string
	for i := range 6 {
		srv := []*server{a, b}[i%2]
		path := sampleFlow(t, srv, "", api.JPEG.MIME, encodeJPEG(t, rng, 64, 48))
		keys = append(keys, imageKey(path))
		switch i % 3 {
		case 0:
			d.cli(t, "", "images", "rm", "--reason", "spam", path)
		default:
			res, body, err := do(http.DefaultClient, http.MethodDelete, srv.base+"/api/v2/guide/user_images/"+strings.TrimPrefix(keys[i], "img-")+"?reason=spam",
				basicAuth("mod@example.com", "mod password 1"), nil, nil)
			if err != nil || res.StatusCode != http.StatusNoContent {
				t.Fatalf("DELETE %s: got %v %v %s, want 204", path, res, err, body)
			}
		}
	}
	waitUntil(t, "every purge delivered", func() bool {
		_, accepted := target.total()
		return len(accepted) == len(keys)
	})
	time.Sleep(2500 * time.Millisecond) // a second delivery would come within two polls
	tries, accepted := target.total()
	for _, k := range keys {
		if accepted[k] != 1 {
			t.Errorf("%s: purged %d times, want once", k, accepted[k])
		}
	}
	if tries != len(keys) {
		t.Errorf("PURGE requests: got %d, want %d, one per takedown", tries, len(keys))
	}
	res, body, err := do(http.DefaultClient, http.MethodGet, b.base+"/metrics", "", nil, nil)
	if err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %v %v", res, err)
	}
	if bytes.Contains(body, []byte(`userimages_outbox_pending{topic="purge"}`)) && !bytes.Contains(body, []byte(`userimages_outbox_pending{topic="purge"} 0`)) {
		t.Errorf("/metrics: want no purge pending:\n%s", body)
	}
}

// TestPurgeMetrics: a purge its target refuses shows as pending and failed
// in /metrics and on the console's Purges page.
func TestPurgeMetrics(t *testing.T) {
	_, _, srv, path := refusedPurge(t, 1000)
	res, body, err := do(http.DefaultClient, http.MethodGet, srv.base+"/metrics", "", nil, nil)
	if err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %v %v", res, err)
	}
	for _, want := range []string{`userimages_outbox_pending{topic="purge"} 1`, `userimages_outbox_failed{topic="purge"} 1`} {
		if !bytes.Contains(body, []byte(want)) {
			t.Errorf("/metrics: no %q", want)
		}
	}
	if page := consolePage(t, srv, "/admin/purges", signIn(t, srv, consoleAdmin, consoleAdminPW)); !strings.Contains(page, imageKey(path)) {
		t.Errorf("Purges page: want the purge of %s waiting:\n%s", imageKey(path), page)
	}
}
