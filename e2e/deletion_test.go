package e2e

import (
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/userimages/userimages/client/api"

	"userimages/sqlite"
)

// published uploads img through the three steps with auth ("" for
// anonymous) and returns the upload token, the path and the image id.
func published(t *testing.T, base, auth string, img []byte) (token, path, id string) {
	t.Helper()
	c := http.DefaultClient
	up, err := createUpload(c, base, auth, "image/jpeg", len(img))
	if err != nil {
		t.Fatal(err)
	}
	if err := putUpload(c, up, img); err != nil {
		t.Fatal(err)
	}
	got, err := claim(c, base, auth, up.Upload.Token, brandID)
	if err != nil {
		t.Fatal(err)
	}
	path = got.UserImage.Path
	id = strings.TrimSuffix(strings.TrimPrefix(path, "/hc/user_images/"), ".jpeg")
	return up.Upload.Token, path, id
}

// deleteImage sends DELETE /api/v2/guide/user_images/{id} with auth and
// the upload token ("" for none), and returns the status and body.
func deleteImage(t *testing.T, base, id, auth, uploadToken string) (int, string) {
	t.Helper()
	var h map[string]string
	if uploadToken != "" {
		h = map[string]string{api.UploadTokenHeader: uploadToken}
	}
	res, body, err := do(http.DefaultClient, http.MethodDelete, base+"/api/v2/guide/user_images/"+id, auth, h, nil)
	if err != nil {
		t.Fatal(err)
	}
	return res.StatusCode, string(body)
}

// checkGone fails t unless path and its variant answer 404 and no file of
// the data directory is named for id (empty directories may stay).
func checkGone(t *testing.T, srv *server, path, id string) {
	t.Helper()
	for _, p := range []string{path, path + "?w=160"} {
		if _, err := fetch(http.DefaultClient, srv.base, p); statusOf(err) != http.StatusNotFound {
			t.Errorf("GET %s after the delete: got %v, want 404", p, err)
		}
	}
	err := filepath.WalkDir(srv.dataDir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.Contains(p, id) {
			t.Errorf("file left after the delete: %s", p)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestUploaderDeletesOwnImage: a signed-in user deletes the image they
// uploaded (204, then 404, with its variant and bytes gone, and the audit
// log says so); another user's DELETE of it is 404 and it stays; an
// anonymous DELETE is 401.
func TestUploaderDeletesOwnImage(t *testing.T) {
	data := t.TempDir()
	addUser(t, data, "ann@example.com", "ann's password")
	addUser(t, data, "bob@example.com", "bob's password")
	ann := "Bearer " + apiToken(t, data, "ann@example.com")
	bob := basicAuth("bob@example.com", "bob's password")
	srv := startServer(t, data)
	rng := newRand(t)

	_, path, id := published(t, srv.base, ann, encodeJPEG(t, rng, 400, 300))
	if _, err := fetch(http.DefaultClient, srv.base, path+"?w=160"); err != nil {
		t.Fatalf("variant before the delete: %v", err)
	}
	for _, tt := range []struct {
		who, auth string
		want      int
	}{
		{"another user", bob, http.StatusNotFound},
		{"anonymous", "", http.StatusUnauthorized},
	} {
		if status, body := deleteImage(t, srv.base, id, tt.auth, ""); status != tt.want {
			t.Errorf("DELETE by %s: got %d %s, want %d", tt.who, status, body, tt.want)
		}
		if _, err := fetch(http.DefaultClient, srv.base, path); err != nil {
			t.Errorf("GET after the DELETE by %s: got %v, want 200", tt.who, err)
		}
	}
	// bob's answer for ann's image is the one for an image that does not exist.
	_, missing := deleteImage(t, srv.base, "AAAAAAAAAAAAAAAAAAAAAA", bob, "")
	if _, other := deleteImage(t, srv.base, id, bob, ""); errorCode([]byte(other)) != errorCode([]byte(missing)) {
		t.Errorf("another user's image: got %s, want the same code as no image: %s", other, missing)
	}

	if status, body := deleteImage(t, srv.base, id, ann, ""); status != http.StatusNoContent {
		t.Fatalf("DELETE by the uploader: got %d %s, want 204", status, body)
	}
	checkGone(t, srv, path, id)
	if status, _ := deleteImage(t, srv.base, id, ann, ""); status != http.StatusNotFound {
		t.Errorf("DELETE again: got %d, want 404", status)
	}
	log := runCLI(t, "", "images", "log", "--data", data)
	if !strings.Contains(log, path) || !strings.Contains(log, "deleted by its uploader") {
		t.Errorf("images log: got %q, want %s deleted by its uploader", log, path)
	}
}

// TestUploadTokenDeletes: the page that uploaded an anonymous image
// deletes it with its upload token; without it, or with another upload's,
// the DELETE is refused and the image stays; after the delete window it
// is refused too. The token never shows in the server's log.
func TestUploadTokenDeletes(t *testing.T) {
	srv := startServer(t, t.TempDir())
	rng := newRand(t)
	token, path, id := published(t, srv.base, "", encodeJPEG(t, rng, 400, 300))
	otherToken, _, _ := published(t, srv.base, "", encodeJPEG(t, rng, 40, 30))
	if _, err := fetch(http.DefaultClient, srv.base, path+"?w=160"); err != nil {
		t.Fatalf("variant before the delete: %v", err)
	}
	for _, tt := range []struct {
		what, token string
		want        int
	}{
		{"no token", "", http.StatusUnauthorized},
		{"another upload's token", otherToken, http.StatusNotFound},
		{"its token with its last character changed", changedLast(token), http.StatusNotFound},
	} {
		if status, body := deleteImage(t, srv.base, id, "", tt.token); status != tt.want {
			t.Errorf("DELETE with %s: got %d %s, want %d", tt.what, status, body, tt.want)
		}
		if _, err := fetch(http.DefaultClient, srv.base, path); err != nil {
			t.Errorf("GET after the DELETE with %s: got %v, want 200", tt.what, err)
		}
	}
	if status, body := deleteImage(t, srv.base, id, "", token); status != http.StatusNoContent {
		t.Fatalf("DELETE with its upload token: got %d %s, want 204", status, body)
	}
	checkGone(t, srv, path, id)
	if status, _ := deleteImage(t, srv.base, id, "", token); status != http.StatusNotFound {
		t.Errorf("DELETE with its token again: got %d, want 404", status)
	}
	if log := runCLI(t, "", "images", "log", "--data", srv.dataDir); !strings.Contains(log, path) || !strings.Contains(log, "upload-token") || !strings.Contains(log, "deleted by its uploader") {
		t.Errorf("images log: got %q, want %s deleted by its uploader with its upload token", log, path)
	}
	if err := srv.stop(); err != nil {
		t.Fatal(err)
	}
	logged, err := os.ReadFile(srv.logPath)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(logged), token[10:]) || strings.Contains(string(logged), otherToken[10:]) {
		t.Errorf("the server's log holds an upload token's secret part:\n%s", logged)
	}

	// A window shorter than the time between claim and DELETE: refused,
	// and the image stays.
	short := startServer(t, t.TempDir(), "--token-delete-window", "1ns")
	token, path, id = published(t, short.base, "", encodeJPEG(t, rng, 40, 30))
	if status, body := deleteImage(t, short.base, id, "", token); status != http.StatusForbidden || errorCode([]byte(body)) != string(api.CodeForbidden) {
		t.Errorf("DELETE with its token after the window: got %d %s, want 403 Forbidden", status, body)
	}
	if _, err := fetch(http.DefaultClient, short.base, path); err != nil {
		t.Errorf("GET after the refused DELETE: got %v, want 200", err)
	}
}

// TestUserErase: `userimages user erase` while the server runs takes down
// every image of the user (and their variants) and nobody else's, revokes
// their API token and password, disables the account, removes their
// reports' identity and words (the report still counts), and audits it.
func TestUserErase(t *testing.T) {
	data := t.TempDir()
	addUser(t, data, "ann@example.com", "ann's password")
	addUser(t, data, "bob@example.com", "bob's password")
	annToken := "Bearer " + apiToken(t, data, "ann@example.com")
	annPassword := basicAuth("ann@example.com", "ann's password")
	bob := basicAuth("bob@example.com", "bob's password")
	srv := startServer(t, data)
	rng := newRand(t)
	var annPaths []string
	for range 2 {
		_, p, _ := published(t, srv.base, annToken, encodeJPEG(t, rng, 400, 300))
		annPaths = append(annPaths, p)
	}
	_, bobPath, bobID := published(t, srv.base, bob, encodeJPEG(t, rng, 400, 300))
	for _, p := range append(annPaths, annPaths[0]+"?w=160", bobPath) {
		if _, err := fetch(http.DefaultClient, srv.base, p); err != nil {
			t.Fatalf("GET %s before: %v", p, err)
		}
	}
	res, body, err := do(http.DefaultClient, http.MethodPost, srv.base+"/api/v2/guide/user_images/"+bobID+"/reports", annToken, nil,
		[]byte(`{"reason":"privacy","detail":"that is my street, call me on 555 0100"}`))
	if err != nil || res.StatusCode != http.StatusAccepted {
		t.Fatalf("ann reports bob's image: got %v %s, want 202", err, body)
	}

	out := runCLI(t, "", "user", "erase", "--data", data, "--email", "ann@example.com", "--reason", "GDPR request 42")
	if !strings.Contains(out, "2 images taken down") || !strings.Contains(out, annPaths[0]) || !strings.Contains(out, annPaths[1]) {
		t.Errorf("user erase printed %q, want both of ann's paths and 2 images taken down", out)
	}
	for _, p := range append(annPaths, annPaths[0]+"?w=160") {
		if _, err := fetch(http.DefaultClient, srv.base, p); statusOf(err) != http.StatusNotFound {
			t.Errorf("GET %s after the erasure: got %v, want 404", p, err)
		}
	}
	if _, err := fetch(http.DefaultClient, srv.base, bobPath); err != nil {
		t.Errorf("GET bob's %s after ann's erasure: got %v, want 200", bobPath, err)
	}
	for what, auth := range map[string]string{"API token": annToken, "password": annPassword} {
		if res, _, err := do(http.DefaultClient, http.MethodGet, srv.base+"/api/v2/users/me", auth, nil, nil); err != nil || res.StatusCode != http.StatusUnauthorized {
			t.Errorf("users/me with ann's %s after the erasure: got %v %v, want 401", what, res.StatusCode, err)
		}
	}
	if ls := runCLI(t, "", "user", "token", "ls", "--data", data, "--email", "ann@example.com"); strings.Count(strings.TrimSpace(ls), "\n") != 0 {
		t.Errorf("ann's API tokens after the erasure: got %q, want none listed", ls)
	}
	if ls := runCLI(t, "", "user", "ls", "--data", data); !regexp.MustCompile(`ann@example\.com\s+false\s+true`).MatchString(ls) {
		t.Errorf("user ls: got %q, want ann disabled", ls)
	}
	if log := runCLI(t, "", "images", "log", "--data", data); strings.Count(log, "erasure of user:") != 2 {
		t.Errorf("images log: got %q, want ann's two images taken down for her erasure", log)
	}

	db, err := sqlite.Open(t.Context(), filepath.Join(data, "userimages.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	reports, err := db.Reports(t.Context(), bobID)
	if err != nil || len(reports) != 1 || !strings.HasPrefix(reports[0].Reporter, "erased:") || reports[0].Detail != "" || reports[0].Reason != "privacy" {
		t.Errorf("reports of bob's image after ann's erasure: got %+v, %v; want one privacy report, its reporter and detail erased", reports, err)
	}
	evs, err := db.ModerationEvents(t.Context(), "", 10)
	if err != nil || len(evs) != 1 || evs[0].Action != "erase" || evs[0].Reason != "GDPR request 42" || !strings.HasPrefix(evs[0].By, "cli:") {
		t.Errorf("audit events: got %+v, %v; want the erasure, by the CLI, for GDPR request 42", evs, err)
	}
	// Erasing again is no error and changes nothing more.
	if out := runCLI(t, "", "user", "erase", "--data", data, "--email", "ann@example.com"); !strings.Contains(out, "0 images taken down") {
		t.Errorf("user erase again printed %q, want 0 images taken down", out)
	}
}

// TestEraseAgainAfterRestore: restoring a backup made before an erasure
// brings the erased user's images back, as the README warns; erasing the
// user again on the restored directory (the README's step) takes them
// down, and the account is disabled there too.
func TestEraseAgainAfterRestore(t *testing.T) {
	data := t.TempDir()
	addUser(t, data, "ann@example.com", "ann's password")
	ann := basicAuth("ann@example.com", "ann's password")
	srv := startServer(t, data)
	_, path, _ := published(t, srv.base, ann, encodeJPEG(t, newRand(t), 200, 100))
	dest := filepath.Join(t.TempDir(), "backup")
	runCLI(t, "", "backup", "--data", data, "--to", dest)
	runCLI(t, "", "user", "erase", "--data", data, "--email", "ann@example.com")
	if _, err := fetch(http.DefaultClient, srv.base, path); statusOf(err) != http.StatusNotFound {
		t.Fatalf("GET %s after the erasure: got %v, want 404", path, err)
	}
	if err := srv.stop(); err != nil {
		t.Fatal(err)
	}

	restored := filepath.Join(t.TempDir(), "restored")
	runCLI(t, "", "restore", "--from", dest, "--data", restored)
	back := startServer(t, restored)
	if _, err := fetch(http.DefaultClient, back.base, path); err != nil {
		t.Fatalf("GET %s from a backup older than the erasure: got %v, want it back (200)", path, err)
	}
	if out := runCLI(t, "", "user", "erase", "--data", restored, "--email", "ann@example.com"); !strings.Contains(out, "1 images taken down") {
		t.Errorf("user erase on the restored directory printed %q, want 1 image taken down", out)
	}
	if _, err := fetch(http.DefaultClient, back.base, path); statusOf(err) != http.StatusNotFound {
		t.Errorf("GET %s after erasing again: got %v, want 404", path, err)
	}
	if res, _, err := do(http.DefaultClient, http.MethodGet, back.base+"/api/v2/users/me", ann, nil, nil); err != nil || res.StatusCode != http.StatusUnauthorized {
		t.Errorf("users/me with ann's password after erasing again: got %v, want 401", err)
	}
}

// changedLast is token with its last character replaced by another.
func changedLast(token string) string {
	last := byte('0')
	if token[len(token)-1] == last {
		last = '1'
	}
	return token[:len(token)-1] + string(last)
}
