package e2e

import (
	"encoding/hex"
	"errors"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"userimages/internal/testkit/pgtest"
	"userimages/internal/testkit/testphoto"
)

// blockReachesWithin bounds how long a blocking takedown on one instance
// takes to be refused by another: the other's --blocklist-poll (500ms
// here) and the time of a PUT or claim, with room for a loaded machine.
const blockReachesWithin = 10 * time.Second

// takeDownBlocking takes the image at path down with block through srv,
// as an admin does with the API.
func takeDownBlocking(t *testing.T, srv *server, path, auth string) {
	t.Helper()
	id := strings.TrimSuffix(strings.TrimPrefix(path, "/hc/user_images/"), ".jpeg")
	res, body, err := do(http.DefaultClient, http.MethodDelete, srv.base+"/api/v2/guide/user_images/"+id+"?block=true&reason=abuse", auth, nil, nil)
	if err != nil || res.StatusCode != http.StatusNoContent {
		t.Fatalf("DELETE ?block=true on %s: got %v %s, want 204", srv.base, err, body)
	}
}

// refusedWithin calls try until it fails as 422 BlockedContent, saying
// the picture resembles a blocked one, and returns how long that took;
// it fails t after blockReachesWithin.
func refusedWithin(t *testing.T, what string, try func() error) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		err := try()
		var e *errStatus
		if errors.As(err, &e) && e.status == http.StatusUnprocessableEntity && errorCode(e.body) == "BlockedContent" {
			if !strings.Contains(string(e.body), "resembles") {
				t.Errorf("%s: refused with %s, want the detail to say it resembles a blocked picture", what, e.body)
			}
			return time.Since(start)
		}
		if err != nil && !errors.As(err, &e) {
			t.Fatalf("%s: %v", what, err)
		}
		if time.Since(start) > blockReachesWithin {
			t.Fatalf("%s: still %v after %s, want 422 BlockedContent", what, err, blockReachesWithin)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestResemblanceAcrossInstances: two instances on one PostgreSQL and one
// shared directory of image bytes (upload URLs point at the instances,
// signed with one secret). A blocking takedown on instance A refuses a
// re-encoded copy of the picture at instance B's PUT within seconds (B
// reads the new blocked hashes every --blocklist-poll); an unrelated
// picture is still accepted by B.
func TestResemblanceAcrossInstances(t *testing.T) {
	db, blob := pgtest.URL(t), "file:"+filepath.Join(t.TempDir(), "blobs")
	env := []string{"USERIMAGES_SIGNING_SECRET=" + hex.EncodeToString([]byte("one secret for both instances!!!"))}
	const admin, adminPW = "mod@example.com", "moderator-password"
	runCLIEnv(t, env, adminPW+"\n", "user", "add", "--admin", "--db", db, "--blob", blob, "--email", admin, "--password-stdin")
	args := []string{"--db", db, "--blob", blob, "--blocklist-poll", "500ms", "--rate-limit-create", "off", "--rate-limit-put", "off", "--rate-limit-claim", "off"}
	a, b := startServerEnv(t, t.TempDir(), env, args...), startServerEnv(t, t.TempDir(), env, args...)
	c := http.DefaultClient

	photo := testphoto.Natural(1024, 768, 21)
	path := publish(t, c, a.base, jpegBytes(t, photo, 90), "image/jpeg")
	reencoded := jpegBytes(t, photo, 50)
	if err := put(c, b.base, reencoded, "image/jpeg"); err != nil {
		t.Fatalf("re-encoded copy on B before any block: got %v, want it accepted", err)
	}
	takeDownBlocking(t, a, path, basicAuth(admin, adminPW))
	took := refusedWithin(t, "re-encoded copy on B after the block on A", func() error { return put(c, b.base, reencoded, "image/jpeg") })
	t.Logf("instance B refused the re-encoded copy %s after the blocking takedown on A", took.Round(time.Millisecond))
	if err := put(c, b.base, jpegBytes(t, testphoto.Natural(1024, 768, 22), 90), "image/jpeg"); err != nil {
		t.Errorf("an unrelated picture on B: got %v, want it accepted", err)
	}
}

// TestResemblanceScaleOutClaim: with the bytes PUT straight to S3
// (Versity), no instance sees the PUT, so the claim refuses a picture
// resembling a blocked one. After a blocking takedown on instance A, a
// re-encoded copy claimed on instance B is refused with 422
// BlockedContent and nothing is published; an unrelated picture is
// claimed.
func TestResemblanceScaleOutClaim(t *testing.T) {
	d := newScaleOut(t)
	const admin, adminPW = "mod@example.com", "moderator-password"
	d.cli(t, adminPW+"\n", "user", "add", "--admin", "--email", admin, "--password-stdin")
	a, b := d.start(t, "--blocklist-poll", "500ms"), d.start(t, "--blocklist-poll", "500ms")
	c := http.DefaultClient

	photo := testphoto.Natural(1024, 768, 31)
	path := publish(t, c, a.base, jpegBytes(t, photo, 90), "image/jpeg")
	takeDownBlocking(t, a, path, basicAuth(admin, adminPW))
	before := d.imageCount(t)
	reencoded := jpegBytes(t, photo, 50)
	var token string
	took := refusedWithin(t, "claim on B of a re-encoded copy PUT to S3", func() error {
		up, err := createUpload(c, b.base, "", "image/jpeg", len(reencoded))
		if err != nil {
			return err
		}
		token = up.Upload.Token
		if !strings.HasPrefix(up.Upload.URL, d.s3.Endpoint) {
			t.Fatalf("upload URL %s: want one of the S3 server %s", up.Upload.URL, d.s3.Endpoint)
		}
		if err := putUpload(c, up, reencoded); err != nil {
			t.Fatalf("PUT to S3: %v", err)
		}
		img, err := claim(c, b.base, "", up.Upload.Token, brandID)
		if err == nil {
			// Published before B read the block: not this test's
			// subject (a moderator takes it down); count it.
			before++
			t.Logf("claimed as %s before instance B had the block", img.UserImage.Path)
		}
		return err
	})
	t.Logf("instance B refused the claim %s after the blocking takedown on A", took.Round(time.Millisecond))
	_, err := claim(c, a.base, "", token, brandID)
	if e := (*errStatus)(nil); !errors.As(err, &e) || e.status != http.StatusUnprocessableEntity || errorCode(e.body) != "BlockedContent" {
		t.Errorf("the refused claim again, on A: got %v, want 422 BlockedContent", err)
	}
	if got := d.imageCount(t); got != before {
		t.Errorf("images after the refused claims: got %d, want %d (nothing published)", got, before)
	}
	other := jpegBytes(t, testphoto.Natural(1024, 768, 32), 90)
	up, err := createUpload(c, b.base, "", "image/jpeg", len(other))
	if err != nil {
		t.Fatal(err)
	}
	if err := putUpload(c, up, other); err != nil {
		t.Fatal(err)
	}
	if _, err := claim(c, b.base, "", up.Upload.Token, brandID); err != nil {
		t.Errorf("claim of an unrelated picture on B: got %v, want it published", err)
	}
	if got := d.imageCount(t); got != before+1 {
		t.Errorf("images after the unrelated claim: got %d, want %d", got, before+1)
	}
}
