package client

import (
	"os/exec"
	"strings"
	"testing"
)

// TestOnlyStandardLibrary keeps the client module free of the server's
// code and of any third-party module: programs that never link the server
// import it, so everything its packages depend on must be the standard
// library or the module's own packages.
func TestOnlyStandardLibrary(t *testing.T) {
	const module = "github.com/userimages/userimages/client"
	out, err := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}} {{.Standard}}", "./...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps ./...: %v\n%s", err, out)
	}
	own := 0
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		pkg, std, _ := strings.Cut(line, " ")
		switch {
		case std == "true":
		case pkg == module || strings.HasPrefix(pkg, module+"/"):
			own++
		default:
			t.Errorf("the client module depends on %s; it may import only the standard library", pkg)
		}
	}
	if own < 2 {
		t.Errorf("go list -deps found %d of the module's own packages, want client and client/api:\n%s", own, out)
	}
}
