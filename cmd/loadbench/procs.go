package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/userimages/userimages/client/api"
)

// proc is one target process the harness started.
type proc struct {
	name string
	cmd  *exec.Cmd
	base string // http://127.0.0.1:PORT
	log  *os.File
	done chan struct{}
}

func (p *proc) pid() int { return p.cmd.Process.Pid }

// freeAddr returns a loopback address with a port that was free just now.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// startProc starts name with args, its stdout and stderr in logPath, and
// waits until GET base+probe answers (any status).
func startProc(name, logPath, addr, probe string, bin string, args ...string) (*proc, error) {
	f, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.Env = cleanEnv()
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &proc{name: name, cmd: cmd, base: "http://" + addr, log: f, done: make(chan struct{})}
	go func() { cmd.Wait(); close(p.done) }()
	deadline := time.Now().Add(60 * time.Second)
	c := &http.Client{Timeout: time.Second}
	for {
		res, err := c.Get(p.base + probe)
		if err == nil {
			res.Body.Close()
			return p, nil
		}
		select {
		case <-p.done:
			f.Close()
			b, _ := os.ReadFile(logPath)
			return nil, fmt.Errorf("%s exited before answering: %s", name, tail(b, 2000))
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			p.stop()
			return nil, fmt.Errorf("%s did not answer %s within 60s", name, p.base+probe)
		}
	}
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

// cleanEnv is the environment without USERIMAGES_* variables, which would
// set the server's flags.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if len(kv) < 11 || kv[:11] != "USERIMAGES_" {
			env = append(env, kv)
		}
	}
	return env
}

// stop sends SIGTERM (SIGQUIT for nginx, its graceful stop) and waits,
// killing the process after 30s.
func (p *proc) stop() {
	sig := syscall.SIGTERM
	if p.name == "nginx" {
		sig = syscall.SIGQUIT
	}
	p.cmd.Process.Signal(sig)
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		p.cmd.Process.Kill()
		<-p.done
	}
	p.log.Close()
}

// ourArgs are the serve flags of every run of our server: rate limits and
// the per-client cap of uploads off (every worker stands for another user,
// all from 127.0.0.1), so that the harness measures the work, not the
// limiter's refusals.
var ourArgs = []string{"--brand", "10016",
	"--rate-limit-create", "off", "--rate-limit-put", "off", "--rate-limit-claim", "off", "--rate-limit-auth", "off",
	"--max-concurrent-uploads-per-client", "1024"}

// startOurs starts our server on data, CPU-profiled into the file profile
// when it is not empty (serve --cpuprofile).
func (h *harness) startOurs(data, profile string, extra ...string) (*proc, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	args := append([]string{"serve", "--addr", addr, "--data", data}, ourArgs...)
	args = append(args, extra...)
	if profile != "" {
		args = append(args, "--cpuprofile", profile)
	}
	return startProc("userimages", filepath.Join(h.work, "userimages.log"), addr, api.RouteHealth.Path(), h.bin, args...)
}

func (h *harness) startNoop(size int) (*proc, error) {
	return h.startSelf("noop", "-size", strconv.Itoa(size))
}

// startGofile serves root with net/http's FileServer (loadbench gofile).
func (h *harness) startGofile(root string) (*proc, error) {
	return h.startSelf("gofile", "-root", root)
}

// startSelf runs loadbench's own server command name on a free address
// (-addr), with args, logging to name.log.
func (h *harness) startSelf(name string, args ...string) (*proc, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	return startProc(name, filepath.Join(h.work, name+".log"), addr, "/", self, append([]string{name, "-addr", addr}, args...)...)
}

// startNginx serves root with nginx (sendfile on, as root, in the
// foreground, one worker per core) from a generated configuration.
func (h *harness) startNginx(root string) (*proc, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(h.work, "nginx")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	conf := fmt.Sprintf(`daemon off;
user root;
worker_processes auto;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log warn;
events { worker_connections 4096; }
http {
	types { image/jpeg jpeg jpg; }
	default_type application/octet-stream;
	sendfile on;
	tcp_nopush on;
	keepalive_requests 1000000;
	access_log %[1]s/access.log;
	client_body_temp_path %[1]s/body;
	proxy_temp_path %[1]s/proxy;
	fastcgi_temp_path %[1]s/fastcgi;
	uwsgi_temp_path %[1]s/uwsgi;
	scgi_temp_path %[1]s/scgi;
	server {
		listen %[2]s;
		root %[3]s;
	}
}
`, dir, addr, root)
	confPath := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		return nil, err
	}
	return startProc("nginx", filepath.Join(dir, "stderr.log"), addr, "/", h.nginx, "-c", confPath, "-p", dir, "-e", filepath.Join(dir, "error.log"))
}

const (
	s3Access = "loadbenchaccess"
	s3Secret = "loadbenchsecretloadbenchsecret"
	s3Bucket = "loadbench"
)

// startVersity starts the Versity S3 Gateway on a POSIX directory.
func (h *harness) startVersity(root string) (*proc, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(root, 0o755); err != nil {
		return nil, err
	}
	return startProc("versitygw", filepath.Join(h.work, "versitygw.log"), addr, "/", h.versity,
		"--port", addr, "--access", s3Access, "--secret", s3Secret, "posix", root)
}

var errPoolEmpty = errors.New("pool of prepared requests used up")

// settle waits for the process to go quiet after its start or the
// preparation of a scenario, so that the idle RSS is idle.
func settle(ctx context.Context) {
	select {
	case <-ctx.Done():
	case <-time.After(500 * time.Millisecond):
	}
}

// openFilesUnder counts the files under dir that process pid has open
// (its SQLite database, WAL and shared memory, once a server is idle).
func openFilesUnder(pid int, dir string) (int, error) {
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return 0, err
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, fd := range fds {
		target, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, fd.Name()))
		if err == nil && strings.HasPrefix(target, abs+string(filepath.Separator)) {
			n++
		}
	}
	return n, nil
}
