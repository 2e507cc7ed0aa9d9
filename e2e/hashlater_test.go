package e2e

import (
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"userimages/internal/testkit/testphoto"
)

// TestHashedAfterUpload: photos uploaded while no hash is blocked end up
// with their perceptual hash stored, computed off the request path by the
// running server (`images ls --pdq` shows it, equal to what `userimages
// hash` prints for the bytes); an upload PUT while nothing was blocked,
// then claimed after an imported list blocks its picture, is refused at
// the claim with 422 BlockedContent.
func TestHashedAfterUpload(t *testing.T) {
	data := t.TempDir()
	srv := startServer(t, data, "--blocklist-poll", "200ms", "--rate-limit-create", "off", "--rate-limit-put", "off")
	c := http.DefaultClient
	dir := t.TempDir()
	want := map[string]string{} // path -> HASH,QUALITY
	for seed := range uint64(2) {
		body := jpegBytes(t, testphoto.Natural(1600, 1200, 40+seed), 90)
		file := filepath.Join(dir, "photo.jpg")
		if err := os.WriteFile(file, body, 0o600); err != nil {
			t.Fatal(err)
		}
		out := strings.TrimSpace(runCLI(t, "", "hash", file))
		hash, _, found := strings.Cut(out, ","+file)
		if !found || hash == "" {
			t.Fatalf("userimages hash %s: printed %q, want HASH,QUALITY,%s", file, out, file)
		}
		want[publish(t, c, srv.base, body, "image/jpeg")] = hash
	}
	var ls string
	for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(200 * time.Millisecond) {
		ls = runCLI(t, "", "images", "ls", "--pdq", "--data", data)
		if !strings.Contains(ls, " -\n") || time.Now().After(deadline) {
			break
		}
	}
	for path, hash := range want {
		if !strings.Contains(ls, path) || !strings.Contains(ls, hash+"\n") {
			t.Errorf("images ls --pdq: want %s with %s; got\n%s", path, hash, ls)
		}
	}

	// PUT while nothing is blocked; its picture blocked; then claimed.
	photo := testphoto.Natural(1024, 768, 50)
	up, err := createUpload(c, srv.base, "", "image/jpeg", len(jpegBytes(t, photo, 90)))
	if err != nil {
		t.Fatal(err)
	}
	if err := putUpload(c, up, jpegBytes(t, photo, 90)); err != nil {
		t.Fatal(err)
	}
	listFile := filepath.Join(dir, "photo95.jpg")
	if err := os.WriteFile(listFile, jpegBytes(t, photo, 95), 0o600); err != nil {
		t.Fatal(err)
	}
	list := filepath.Join(dir, "list.txt")
	if err := os.WriteFile(list, []byte(runCLI(t, "", "hash", listFile)), 0o600); err != nil {
		t.Fatal(err)
	}
	runCLI(t, "", "blocklist", "import", "--data", data, "--name", "shared", "--reason", "test", list)
	// The server has the list once a copy's PUT is refused.
	for deadline := time.Now().Add(time.Minute); put(c, srv.base, jpegBytes(t, photo, 80), "image/jpeg") == nil; time.Sleep(200 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the imported list was not in force on the server within a minute")
		}
	}
	_, err = claim(c, srv.base, "", up.Upload.Token, brandID)
	var e *errStatus
	if !errors.As(err, &e) || e.status != http.StatusUnprocessableEntity || errorCode(e.body) != "BlockedContent" {
		t.Errorf("claim of an upload whose picture was blocked since its PUT: got %v, want 422 BlockedContent", err)
	}
}
