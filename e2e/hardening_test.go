package e2e

import (
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestMetricsNotForBrowsers: /metrics answers a page's request, and its
// preflight, with no CORS header (the API still sends them), so no other
// origin's script can read it.
func TestMetricsNotForBrowsers(t *testing.T) {
	srv := startServer(t, t.TempDir())
	for _, method := range []string{http.MethodGet, http.MethodOptions} {
		header := map[string]string{"Origin": "https://evil.example"}
		if method == http.MethodOptions {
			header["Access-Control-Request-Method"] = http.MethodGet
		}
		res, body, err := do(http.DefaultClient, method, srv.base+"/metrics", "", header, nil)
		if err != nil {
			t.Fatal(err)
		}
		if method == http.MethodGet && (res.StatusCode != http.StatusOK || !strings.Contains(string(body), "go_info")) {
			t.Fatalf("GET /metrics: got %d, want 200 and the metrics", res.StatusCode)
		}
		for name := range res.Header {
			if strings.HasPrefix(name, "Access-Control-") {
				t.Errorf("%s /metrics: got %s: %q, want no CORS header", method, name, res.Header.Get(name))
			}
		}
	}
	res, _, err := do(http.DefaultClient, http.MethodGet, srv.base+"/api/v2/users/me", "", map[string]string{"Origin": "https://evil.example"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Header.Get("Access-Control-Allow-Origin") != "*" {
		t.Errorf("GET /api/v2/users/me: got Access-Control-Allow-Origin %q, want * (the API stays open to pages)", res.Header.Get("Access-Control-Allow-Origin"))
	}
}

// checkPrivate fails the test for each path that is not private: 0700
// for a directory, 0600 for a file. Missing paths are failures unless
// optional.
func checkPrivate(t *testing.T, when string, paths []string, optional ...string) {
	t.Helper()
	for _, p := range append(paths, optional...) {
		info, err := os.Stat(p)
		if err != nil {
			if !strings.Contains(strings.Join(optional, "\n"), p) {
				t.Errorf("%s: %v", when, err)
			}
			continue
		}
		want := fs.FileMode(0o600)
		if info.IsDir() {
			want = 0o700
		}
		if got := info.Mode().Perm(); got != want {
			t.Errorf("%s: %s is %04o, want %04o", when, p, got, want)
		}
	}
}

// TestPrivateFiles: under umask 0, the loosest, the data directory is
// 0700 and the database, its WAL and SHM and the signing secret 0600
// after start and after writes; a backup's snapshot and manifest are 0600
// and a restore's directory and files private; and an existing
// deployment's 0755 directory and 0644 files are corrected on start, with
// a log line.
func TestPrivateFiles(t *testing.T) {
	old := syscall.Umask(0) // inherited by the binary; e2e tests are not parallel
	defer syscall.Umask(old)
	data := filepath.Join(t.TempDir(), "data")
	db := filepath.Join(data, "userimages.db")
	files := []string{data, db, filepath.Join(data, "signing-secret")}
	wal := []string{db + "-wal", db + "-shm"}

	d := newBackupDeploymentIn(t, data)
	checkPrivate(t, "after start", files, wal...)
	served := map[string][]byte{}
	d.uploadMany(t, 3, served)
	checkPrivate(t, "after writes", append(files, wal...))

	dest := filepath.Join(t.TempDir(), "backups")
	backupCounts(t, nil, "--data", data, "--to", dest)
	var backedUp int
	filepath.WalkDir(dest, func(p string, e fs.DirEntry, err error) error {
		if err == nil && !e.IsDir() {
			backedUp++
			checkPrivate(t, "backup", []string{p})
		}
		return nil
	})
	if backedUp < 5 { // 3 images, the snapshot, the manifest, the index…
		t.Errorf("backup: %d files, want the snapshot, manifest, index and images", backedUp)
	}
	restored := filepath.Join(t.TempDir(), "restored")
	runCLI(t, "", "restore", "--from", dest, "--data", restored)
	checkPrivate(t, "after restore", []string{restored, filepath.Join(restored, "userimages.db"), filepath.Join(restored, "signing-secret")})

	// An existing deployment, from before modes were set: corrected on start.
	if err := d.srv.stop(); err != nil {
		t.Fatal(err)
	}
	for _, p := range files {
		os.Chmod(p, 0o644)
	}
	os.Chmod(data, 0o755)
	srv := startServer(t, data)
	checkPrivate(t, "after restarting an old deployment", files, wal...)
	if !srv.logged("made private: it was readable by other users of this host") {
		t.Error("no log line for the corrected modes")
	}
	for p, want := range served {
		if got, err := fetch(http.DefaultClient, srv.base, p); err != nil || string(got) != string(want) {
			t.Errorf("GET %s after the correction: %v", p, err)
		}
	}
}
