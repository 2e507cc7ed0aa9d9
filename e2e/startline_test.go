package e2e

import (
	"bufio"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestStartLineOnTerminal: `serve` started on a terminal (a pseudo-terminal
// made by script(1)) prints one human line saying where it serves, the
// composer and the console, each answering there; started with its output
// going to a file (every other e2e test's server) it prints none, only
// the JSON log.
func TestStartLineOnTerminal(t *testing.T) {
	script, err := exec.LookPath("script")
	if err != nil {
		unavailable(t, fmt.Sprintf("no script(1) (Debian's bsdutils) to make a terminal: %v", err))
	}
	data := t.TempDir()
	serve := strings.Join([]string{binPath, "serve", "--addr", "127.0.0.1:0", "--data", data, "--brand", brandID}, " ")
	cmd := exec.Command(script, "-qfec", serve, "/dev/null")
	cmd.Env = cleanEnv()
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM) // script and the server it runs
		cmd.Wait()
	})
	lineRE := regexp.MustCompile(`^userimages is serving (http://127\.0\.0\.1:\d+): the composer at (\S+), the moderation console at (\S+)$`)
	found := make(chan []string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			line := strings.TrimRight(sc.Text(), "\r")
			if m := lineRE.FindStringSubmatch(line); m != nil {
				found <- m
				return
			}
		}
		close(found)
	}()
	var m []string
	select {
	case m = <-found:
	case <-time.After(30 * time.Second):
	}
	if m == nil {
		t.Fatalf("on a terminal: no start line matching %s", lineRE)
	}
	if m[2] != m[1]+"/composer/" || m[3] != m[1]+"/admin/" {
		t.Errorf("start line %q: want the composer at %s/composer/ and the console at %s/admin/", m[0], m[1], m[1])
	}
	c := &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for _, u := range []string{m[2], m[3]} {
		res, err := c.Get(u)
		if err != nil {
			t.Fatalf("GET %s: %v", u, err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusOK && res.StatusCode != http.StatusSeeOther {
			t.Errorf("GET %s (from the start line): got %d, want the page (200, or 303 to sign in)", u, res.StatusCode)
		}
	}

	// Not on a terminal: the log only.
	srv := startServer(t, t.TempDir())
	if log, err := os.ReadFile(srv.logPath); err != nil || strings.Contains(string(log), "userimages is serving") || !strings.Contains(string(log), `"msg":"listening"`) {
		t.Errorf("serve with its output to a file: got %v and\n%s\nwant the JSON log, without the start line", err, log)
	}
}
