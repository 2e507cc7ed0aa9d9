package e2e

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// unitPath is the systemd unit of the single server the README points to.
const unitPath = "../deploy/userimages.service"

// TestSystemdUnit: deploy/userimages.service passes `systemd-analyze
// verify` without a warning (run on a copy whose ExecStart is the binary
// under test, as verify checks that it is executable), keeps the settings
// the README promises (a state directory, an unprivileged user that can
// bind ports 80 and 443, the hardening options), and systemd's own
// exposure score rates it 2.0 or better ("OK").
func TestSystemdUnit(t *testing.T) {
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		unavailable(t, fmt.Sprintf("no systemd-analyze (bash scripts/test.sh installs the systemd package): %v", err))
	}
	unit, err := os.ReadFile(unitPath)
	if err != nil {
		t.Fatal(err)
	}
	const installed = "ExecStart=/usr/local/bin/userimages serve --data /var/lib/userimages\n"
	for _, want := range []string{
		installed,
		"StateDirectory=userimages\n", "StateDirectoryMode=0700\n", "User=userimages\n",
		"AmbientCapabilities=CAP_NET_BIND_SERVICE\n", "CapabilityBoundingSet=CAP_NET_BIND_SERVICE\n",
		"NoNewPrivileges=yes\n", "ProtectSystem=strict\n", "ProtectHome=yes\n", "PrivateTmp=yes\n",
		"PrivateDevices=yes\n", "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX\n",
		"SystemCallFilter=@system-service\n", "UMask=0077\n",
	} {
		if !bytes.Contains(unit, []byte("\n"+want)) {
			t.Errorf("%s has no line %q", unitPath, strings.TrimSpace(want))
		}
	}
	copied := filepath.Join(t.TempDir(), "userimages.service")
	if err := os.WriteFile(copied, bytes.Replace(unit, []byte("/usr/local/bin/userimages"), []byte(binPath), 1), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(analyze, "verify", "--man=no", copied).CombinedOutput()
	if err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Errorf("systemd-analyze verify %s: %v, output:\n%s\nwant no error and no warning", unitPath, err, out)
	}
	out, err = exec.Command(analyze, "security", "--offline=true", "--threshold=20", "--no-pager", copied).CombinedOutput()
	if err != nil {
		t.Errorf("systemd-analyze security --threshold=20 %s: %v (want an exposure of 2.0 or less):\n%s", unitPath, err, out)
	}
	if i := bytes.Index(out, []byte("Overall exposure level")); i >= 0 {
		t.Logf("%s", bytes.TrimSpace(out[i:]))
	}
}
