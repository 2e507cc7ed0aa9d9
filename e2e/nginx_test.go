package e2e

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
)

// nginxPath is where Debian's nginx-light package puts nginx;
// scripts/test.sh installs it.
const nginxPath = "/usr/sbin/nginx"

// TestZendeskThemeBehindNginx mounts userimages under a help center's own
// origin with the nginx configuration of DEPLOYMENT.md, run by a real
// nginx that also serves the help center's page, and runs the theme's
// upload steps from that page: same origin, host-relative URLs throughout.
func TestZendeskThemeBehindNginx(t *testing.T) {
	if _, err := os.Stat(nginxPath); err != nil {
		unavailable(t, fmt.Sprintf("no nginx (bash scripts/test.sh installs nginx-light): %v", err))
	}
	port := freePort(t)
	public := "http://127.0.0.1:" + port
	srv := startServer(t, t.TempDir(), "--max-file-size", fmt.Sprint(browserLimit),
		"--public-url", public, "--trusted-proxy", "127.0.0.1")
	startNginx(t, port, srv.addr, fmt.Sprintf(themePage, ""))

	// The help center answers for everything but userimages' routes.
	if res, body, err := do(http.DefaultClient, http.MethodGet, public+"/", "", nil, nil); err != nil || res.StatusCode != http.StatusOK || !bytes.Contains(body, []byte("New post")) {
		t.Fatalf("GET / through nginx: got %v %s, want the help center's page", err, body)
	}
	// runTheme checks that every request of the page goes to its origin.
	runTheme(t, public+"/", public)
}

// freePort returns a loopback port that was free a moment ago.
func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	return port
}

// startNginx runs nginx in the foreground on 127.0.0.1:port until the test
// ends, with DEPLOYMENT.md's configuration: its upstream pointed at
// upstream, its root at a directory holding page as index.html, and pid,
// logs and temporary files in the test's directory.
func startNginx(t *testing.T, port, upstream, page string) {
	t.Helper()
	m := deploymentBlock(t, "(?s)## 8\\. Mounting.*?```nginx\n(.*?)```")
	dir := t.TempDir()
	site := filepath.Join(dir, "site")
	if err := os.Mkdir(site, 0o755); err != nil {
		t.Fatal(err)
	}
	clientFile(t, site, "index.html", []byte(page))
	conf := string(m[1])
	for old, new := range map[string]string{
		"server 127.0.0.1:8080;":     "server " + upstream + ";",
		"listen 80;":                 "listen 127.0.0.1:" + port + ";",
		"root /var/www/help-center;": "root " + site + ";",
	} {
		if !strings.Contains(conf, old) {
			t.Fatalf("DEPLOYMENT.md's nginx block has no %q to point at the test's addresses", old)
		}
		conf = strings.Replace(conf, old, new, 1)
	}
	// In the foreground, one process (no master to signal workers), so
	// that stopping the command stops nginx.
	conf = fmt.Sprintf(`daemon off;
master_process off;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log;
events { worker_connections 64; }
http {
    types { text/html html; }
    access_log %[1]s/access.log;
    client_body_temp_path %[1]s/body;
    proxy_temp_path %[1]s/proxy;
    fastcgi_temp_path %[1]s/fastcgi;
    uwsgi_temp_path %[1]s/uwsgi;
    scgi_temp_path %[1]s/scgi;
%[2]s
}
`, dir, conf)
	confPath := clientFile(t, dir, "nginx.conf", []byte(conf))
	cmd := exec.Command(nginxPath, "-p", dir, "-e", filepath.Join(dir, "error.log"), "-c", confPath)
	startDaemon(t, cmd, syscall.SIGQUIT /* graceful stop */, func() bool {
		c, err := net.Dial("tcp", "127.0.0.1:"+port)
		if err == nil {
			c.Close()
		}
		return err == nil
	}, func() string {
		logs, _ := os.ReadFile(filepath.Join(dir, "error.log"))
		access, _ := os.ReadFile(filepath.Join(dir, "access.log"))
		return fmt.Sprintf("config:\n%s\nerror log:\n%s\naccess log:\n%s", conf, logs, access)
	})
}

// deploymentBlock returns the submatches of pattern, whose group 1 is a
// fenced block, in DEPLOYMENT.md; the test fails when there is none.
func deploymentBlock(t *testing.T, pattern string) [][]byte {
	t.Helper()
	doc, err := os.ReadFile("../DEPLOYMENT.md")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(pattern).FindSubmatch(doc)
	if m == nil {
		t.Fatalf("DEPLOYMENT.md: nothing matches %q", pattern)
	}
	return m
}
