package client

import (
	"os/exec"
	"strings"
	"testing"
)

// TestNoServerImports keeps the client free of the server's code: it must
// be usable by programs that never link the server.
func TestNoServerImports(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "userimages/client").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps userimages/client: %v\n%s", err, out)
	}
	for _, pkg := range strings.Fields(string(out)) {
		if strings.HasPrefix(pkg, "userimages/") && pkg != "userimages/client" || pkg == "userimages" {
			t.Errorf("package client depends on %s; it may import only the standard library", pkg)
		}
		if first, _, _ := strings.Cut(pkg, "/"); strings.Contains(first, ".") {
			t.Errorf("package client depends on %s; it may import only the standard library", pkg)
		}
	}
}
