package e2e

import (
	"bytes"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestREADMECurlWalkthrough runs the README's curl block as printed, with
// only the host changed, and checks the image it publishes is served.
func TestREADMECurlWalkthrough(t *testing.T) {
	if _, err := exec.LookPath("curl"); err != nil {
		t.Skip("curl is not installed")
	}
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	block := regexp.MustCompile("(?s)Try it with curl.*?```sh\n(.*?)```").FindSubmatch(readme)
	if block == nil {
		t.Fatal("README: no sh block after \"Try it with curl\"")
	}
	srv := startServer(t, t.TempDir())
	script := strings.ReplaceAll(string(block[1]), "http://127.0.0.1:8080", srv.base)
	dir := t.TempDir()
	photo := encodeJPEG(t, newRand(t), 120, 80)
	if err := os.WriteFile(filepath.Join(dir, "photo.jpg"), photo, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("bash", "-euo", "pipefail", "-c", script)
	cmd.Dir = dir
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("README walkthrough: %v\n%s", err, out.String())
	}
	path := regexp.MustCompile(`"path":"(/hc/user_images/[A-Za-z0-9_-]{22}\.jpeg)"`).FindStringSubmatch(out.String())
	if path == nil {
		t.Fatalf("README walkthrough printed no image path:\n%s", out.String())
	}
	got, err := fetch(http.DefaultClient, srv.base, path[1])
	if err != nil || !bytes.Equal(got, photo) {
		t.Errorf("GET %s: got %d bytes, %v; want the photo's %d bytes", path[1], len(got), err, len(photo))
	}
}
