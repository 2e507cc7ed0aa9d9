// Package testbin finds the external programs tests run (installed with
// `go install`, see scripts/test.sh) and the free loopback ports they listen
// on.
package testbin

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Find returns the path of the program name: on PATH, else in $GOBIN or
// $(go env GOPATH)/bin, where `go install` puts it.
func Find(name string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	var dirs []string
	if gobin := os.Getenv("GOBIN"); gobin != "" {
		dirs = append(dirs, gobin)
	}
	if out, err := exec.Command("go", "env", "GOBIN", "GOPATH").Output(); err == nil {
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		if len(lines) > 0 && lines[0] != "" {
			dirs = append(dirs, lines[0])
		}
		for _, gopath := range lines[1:] {
			for p := range strings.SplitSeq(gopath, string(os.PathListSeparator)) {
				if p != "" {
					dirs = append(dirs, filepath.Join(p, "bin"))
				}
			}
		}
	}
	for _, d := range dirs {
		p := filepath.Join(d, name)
		if info, err := os.Stat(p); err == nil && !info.IsDir() {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s is not on PATH nor in %s", name, strings.Join(dirs, ", "))
}

// FreeAddr returns a loopback address whose port was free a moment ago.
func FreeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// Watch waits for the started cmd in the background: exited is closed
// once it has exited, and stop kills it and waits for that.
func Watch(cmd *exec.Cmd) (exited <-chan struct{}, stop func()) {
	done := make(chan struct{})
	go func() {
		cmd.Wait()
		close(done)
	}()
	return done, func() {
		cmd.Process.Kill()
		<-done
	}
}
