package httpapi_test

import (
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// consumerMain is a program outside this repository that uploads with the
// Go client, as a user of the published module writes it.
const consumerMain = `package main

import (
	"context"
	"fmt"
	"os"

	"github.com/userimages/userimages/client"
)

func main() {
	c, err := client.New(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	img, err := c.UploadFile(context.Background(), os.Args[2], os.Args[3], nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Print(img.Path)
}
`

// TestClientModuleImportable builds, in a temporary directory, a module of
// go 1.23 that imports the client by its published path, as a consumer's CI
// would (modules resolved from go.mod alone: GOFLAGS=-mod=mod, no proxy, the
// local toolchain, a replace where the CI would download), and uploads a
// JPEG through it to a real server.
func TestClientModuleImportable(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a module")
	}
	e := newEnv(t)
	clientDir, err := filepath.Abs("../client")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	files := map[string]string{
		"go.mod": "module example.com/consumer\n\ngo 1.23\n\nrequire github.com/userimages/userimages/client v0.0.0\n\n" +
			"replace github.com/userimages/userimages/client => " + clientDir + "\n",
		"main.go":   consumerMain,
		"photo.jpg": string(testJPEG(t, 40, 30)),
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command("go", "run", ".", e.srv.URL, "photo.jpg", "10016")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOTOOLCHAIN=local", "GOPROXY=off", "GOWORK=off")
	out, err := cmd.Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		t.Fatalf("go run of the consumer: %v\n%s%s", err, out, stderr)
	}
	// A client module needing a newer Go would have had -mod=mod raise
	// the consumer's go line.
	if mod, err := os.ReadFile(filepath.Join(dir, "go.mod")); err != nil || !strings.Contains(string(mod), "\ngo 1.23\n") {
		t.Errorf("the consumer's go.mod after the build (err %v):\n%s\nwant it still at go 1.23", err, mod)
	}
	path := string(out)
	if !strings.HasPrefix(path, "/hc/user_images/") || !strings.HasSuffix(path, ".jpeg") {
		t.Fatalf("consumer printed %q, want /hc/user_images/<id>.jpeg", path)
	}
	if res := e.do(e.request(http.MethodGet, path, nil)); res.status != http.StatusOK || res.header.Get("Content-Type") != "image/jpeg" {
		t.Errorf("GET %s: got %d %s, want 200 image/jpeg", path, res.status, res.header.Get("Content-Type"))
	}
}
