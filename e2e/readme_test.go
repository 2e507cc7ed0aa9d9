package e2e

import (
	"bytes"
	"go/ast"
	"go/parser"
	"go/token"
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

// TestREADMEGoExamples: every Go block of the README and of docs/ is the
// body of an Example function of client/example_test.go, word for word
// (so it compiles: `go test` in client/ builds them), and the docs show
// the first upload's (Example) and the errors' (ExampleError).
func TestREADMEGoExamples(t *testing.T) {
	src, err := os.ReadFile("../client/example_test.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	file, err := parser.ParseFile(fset, "example_test.go", src, 0)
	if err != nil {
		t.Fatal(err)
	}
	examples := map[string]string{} // body, one tab less, → function name
	for _, d := range file.Decls {
		fn, ok := d.(*ast.FuncDecl)
		if !ok || !strings.HasPrefix(fn.Name.Name, "Example") {
			continue
		}
		body := string(src[fset.Position(fn.Body.Lbrace).Offset+2 : fset.Position(fn.Body.Rbrace).Offset])
		examples[strings.ReplaceAll(strings.TrimPrefix(body, "\t"), "\n\t", "\n")] = fn.Name.Name
	}
	docs, _ := filepath.Glob("../docs/*.md")
	shown := map[string]bool{}
	for _, name := range append([]string{"../README.md"}, docs...) {
		doc, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range regexp.MustCompile("(?s)```go\n(.*?)```").FindAllSubmatch(doc, -1) {
			fn, ok := examples[string(m[1])]
			if !ok {
				t.Errorf("%s: this Go block is no Example's body in client/example_test.go:\n%s", name, m[1])
			}
			shown[fn] = true
		}
	}
	for _, fn := range []string{"Example", "ExampleError"} {
		if !shown[fn] {
			t.Errorf("neither README.md nor docs/ shows the body of client's %s", fn)
		}
	}
}
