package e2e

import (
	"errors"
	"net/http"
	"strings"
	"testing"
)

// TestModerationAcrossInstances runs two servers on one data directory: an
// admin deletes an image through A; it is gone from A and B at once, the
// audit log names who and why, and the same bytes are refused when
// uploaded again through B.
func TestModerationAcrossInstances(t *testing.T) {
	data := t.TempDir()
	const admin, adminPW = "mod@example.com", "moderator-password"
	runCLI(t, adminPW+"\n", "user", "add", "--admin", "--data", data, "--email", admin, "--password-stdin")
	a, b := startServer(t, data), startServer(t, data)
	rng := newRand(t)
	img := encodeJPEG(t, rng, 40, 30)
	c := http.DefaultClient

	up, err := createUpload(c, a.base, "", "image/jpeg", len(img))
	if err != nil {
		t.Fatal(err)
	}
	if err := putUpload(c, up, img); err != nil {
		t.Fatal(err)
	}
	got, err := claim(c, b.base, "", up.Upload.Token, brandID)
	if err != nil {
		t.Fatal(err)
	}
	path := got.UserImage.Path
	for _, srv := range []*server{a, b} {
		if _, err := fetch(c, srv.base, path); err != nil {
			t.Fatalf("before delete: %v", err)
		}
	}
	id := strings.TrimSuffix(strings.TrimPrefix(path, "/hc/user_images/"), ".jpeg")
	res, body, err := do(c, http.MethodDelete, a.base+"/api/v2/guide/user_images/"+id+"?block=true&reason=spam", basicAuth(admin, adminPW), nil, nil)
	if err != nil || res.StatusCode != http.StatusNoContent {
		t.Fatalf("DELETE as admin: got %v %s, want 204", err, body)
	}
	for name, srv := range map[string]*server{"A": a, "B": b} {
		if _, err := fetch(c, srv.base, path); statusOf(err) != http.StatusNotFound {
			t.Errorf("GET on %s after delete: got %v, want 404", name, err)
		}
	}
	log := runCLI(t, "", "images", "log", "--data", data)
	if !strings.Contains(log, path) || !strings.Contains(log, "spam") || !strings.Contains(log, admin) {
		t.Errorf("images log: got %q, want the path, who and why", log)
	}

	again, err := createUpload(c, b.base, "", "image/jpeg", len(img))
	if err != nil {
		t.Fatal(err)
	}
	// Refused at the PUT, which checks what arrives.
	err = putUpload(c, again, img)
	var e *errStatus
	if !errors.As(err, &e) || e.status != http.StatusUnprocessableEntity || errorCode(e.body) != "BlockedContent" {
		t.Errorf("re-upload of blocked bytes: got %v, want 422 BlockedContent", err)
	}

	// The CLI takes images down too, recording the operator.
	other := encodeJPEG(t, rng, 41, 30)
	up2, _ := createUpload(c, a.base, "", "image/jpeg", len(other))
	if err := putUpload(c, up2, other); err != nil {
		t.Fatal(err)
	}
	got2, err := claim(c, a.base, "", up2.Upload.Token, brandID)
	if err != nil {
		t.Fatal(err)
	}
	if ls := runCLI(t, "", "images", "ls", "--data", data); !strings.Contains(ls, got2.UserImage.Path) {
		t.Errorf("images ls: got %q, want %s in it", ls, got2.UserImage.Path)
	}
	runCLI(t, "", "images", "rm", "--data", data, "--reason", "duplicate", got2.UserImage.Path)
	if _, err := fetch(c, b.base, got2.UserImage.Path); statusOf(err) != http.StatusNotFound {
		t.Errorf("GET after images rm: got %v, want 404", err)
	}
	if log := runCLI(t, "", "images", "log", "--data", data); !strings.Contains(log, "cli:") || !strings.Contains(log, "duplicate") {
		t.Errorf("images log after images rm: got %q, want the operator and reason", log)
	}
}
