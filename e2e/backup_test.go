package e2e

import (
	"bytes"
	"context"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"userimages/core"
	"userimages/localdisk"
	"userimages/s3store"
	"userimages/s3store/s3test"
)

// backupDeployment is a running embedded default with a user to upload as.
type backupDeployment struct {
	data string
	srv  *server
	auth string
	rng  *rand.Rand
}

func newBackupDeployment(t *testing.T) *backupDeployment {
	return newBackupDeploymentIn(t, t.TempDir())
}

// newBackupDeploymentIn is newBackupDeployment on the data directory data.
func newBackupDeploymentIn(t *testing.T, data string) *backupDeployment {
	const email, password = "keeper@example.com", "keeper-password-1"
	addUser(t, data, email, password)
	auth := basicAuth(email+"/token", apiToken(t, data, email))
	return &backupDeployment{data: data, srv: startServer(t, data), auth: auth, rng: newRand(t)}
}

// upload publishes an image and returns its path and the bytes served.
func (d *backupDeployment) upload(body []byte) (string, []byte, error) {
	up, err := createUpload(http.DefaultClient, d.srv.base, d.auth, "image/png", len(body))
	if err != nil {
		return "", nil, err
	}
	if err := putUpload(http.DefaultClient, up, body); err != nil {
		return "", nil, err
	}
	img, err := claim(http.DefaultClient, d.srv.base, d.auth, up.Upload.Token, brandID)
	if err != nil {
		return "", nil, err
	}
	got, err := fetch(http.DefaultClient, d.srv.base, img.UserImage.Path)
	return img.UserImage.Path, got, err
}

// uploadMany publishes n images into served.
func (d *backupDeployment) uploadMany(t *testing.T, n int, served map[string][]byte) {
	t.Helper()
	for i := range n {
		p, got, err := d.upload(encodePNG(t, d.rng, 20+i, 10+len(served)%7))
		if err != nil {
			t.Fatal(err)
		}
		served[p] = got
	}
}

var summaryCounts = regexp.MustCompile(`(\d+) images, (\d+) copied, (\d+) already there`)

// backupCounts runs a backup and returns its images, copied and skipped.
func backupCounts(t *testing.T, env []string, args ...string) (images, copied, skipped int) {
	t.Helper()
	out := runCLIEnv(t, env, "", append([]string{"backup"}, args...)...)
	m := summaryCounts.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("backup: got %q, want a summary line", out)
	}
	n := func(s string) int { i, _ := strconv.Atoi(s); return i }
	t.Logf("%s", strings.TrimSpace(out))
	return n(m[1]), n(m[2]), n(m[3])
}

// TestBackupRestoreDirectory: see testBackupRestore, with a directory as
// DEST.
func TestBackupRestoreDirectory(t *testing.T) {
	testBackupRestore(t, directoryDest(t))
}

// backupDest is a backup destination: its URL, the environment the binary
// needs for it, and a function opening it in the test.
type backupDest struct {
	url  string
	env  []string
	open func() core.BlobStore
}

// directoryDest is a backup destination in a new directory.
func directoryDest(t *testing.T) backupDest {
	dest := filepath.Join(t.TempDir(), "backups")
	return backupDest{dest, nil, func() core.BlobStore {
		s, err := localdisk.Open(dest)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}}
}

// bucketDest is a backup destination in a new bucket of a Versity gateway.
func bucketDest(t *testing.T) backupDest {
	s3 := s3test.Start(t)
	dest := s3.URL(s3.NewBucket(t))
	return backupDest{dest, s3.Env(), func() core.BlobStore {
		s3.Setenv(t)
		s, err := s3store.Open(t.Context(), dest)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}}
}

// TestBackupRestoreBucket: see testBackupRestore, with a Versity bucket
// as DEST.
func TestBackupRestoreBucket(t *testing.T) {
	testBackupRestore(t, bucketDest(t))
}

// testBackupRestore backs up a running deployment while uploads keep
// arriving, backs it up again (copying only the new images), restores the
// newest backup into a new directory and serves from it every image
// acknowledged before the backups started byte-identical, with its audit
// log and blocklist; then alters a backed-up image's bytes, which verify
// finds.
func testBackupRestore(t *testing.T, bd backupDest) {
	dest, env, openDest := bd.url, bd.env, bd.open
	d := newBackupDeployment(t)
	served := map[string][]byte{}
	d.uploadMany(t, 12, served)
	blocked := encodePNG(t, d.rng, 33, 9)
	takenDown, _, err := d.upload(blocked)
	if err != nil {
		t.Fatal(err)
	}
	runCLI(t, "", "images", "rm", "--data", d.data, "--reason", "spam", "--block", takenDown)

	// Uploads keep arriving while the backup runs.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var during int
	wg.Add(1)
	go func() {
		defer wg.Done()
		rng := rand.New(rand.NewPCG(1, 2))
		for {
			select {
			case <-stop:
				return
			default:
			}
			if _, _, err := d.upload(encodePNG(t, rng, 15, 15)); err != nil {
				t.Errorf("upload during the backup: %v", err)
				return
			}
			during++
		}
	}()
	time.Sleep(100 * time.Millisecond)
	images, copied, skipped := backupCounts(t, env, "--data", d.data, "--to", dest)
	close(stop)
	wg.Wait()
	if images < len(served) || copied != images || skipped != 0 {
		t.Errorf("first backup: %d images, %d copied, %d already there; want at least %d, all copied", images, copied, skipped, len(served))
	}
	if during == 0 {
		t.Error("no upload was acknowledged while the backup ran")
	}

	// A second backup copies only what is new.
	d.uploadMany(t, 3, served)
	images2, copied2, skipped2 := backupCounts(t, env, "--data", d.data, "--to", dest)
	if images2 < images+3 {
		t.Errorf("second backup: %d images, want at least %d", images2, images+3)
	}
	if skipped2 != images || copied2 != images2-images {
		t.Errorf("second backup: %d copied, %d already there; want %d copied, %d there", copied2, skipped2, images2-images, images)
	}
	if out := runCLIEnv(t, env, "", "backup", "verify", dest); !strings.Contains(out, "is sound") {
		t.Errorf("verify: got %q", out)
	}

	// Restore into a new directory, and serve it.
	restored := filepath.Join(t.TempDir(), "restored")
	out := runCLIEnv(t, env, "", "restore", "--from", dest, "--data", restored)
	t.Logf("%s", strings.TrimSpace(out))
	if r := runCommand(t, "", env, "restore", "--from", dest, "--data", restored); r.exit == 0 || !strings.Contains(r.stderr, "not empty") {
		t.Errorf("restore into a non-empty directory: exit %d, stderr %q; want refused", r.exit, r.stderr)
	}
	if fi, err := os.Stat(filepath.Join(restored, "signing-secret")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("restored signing secret: %v, %v; want mode 0600", fi, err)
	}
	if err := d.srv.stop(); err != nil {
		t.Fatal(err)
	}
	srv := startServer(t, restored)
	for p, want := range served {
		if got, err := fetch(http.DefaultClient, srv.base, p); err != nil || !bytes.Equal(got, want) {
			t.Errorf("GET %s from the restored directory: got %d bytes, %v; want the %d served before", p, len(got), err, len(want))
		}
	}
	if _, err := fetch(http.DefaultClient, srv.base, takenDown); statusOf(err) != http.StatusNotFound {
		t.Errorf("GET of the taken-down %s after restore: got %v, want 404", takenDown, err)
	}
	if log := runCLI(t, "", "images", "log", "--data", restored); !strings.Contains(log, takenDown) {
		t.Errorf("images log after restore: got %q, want the takedown of %s", log, takenDown)
	}
	up, err := createUpload(http.DefaultClient, srv.base, d.auth, "image/png", len(blocked))
	if err != nil {
		t.Fatalf("create with the restored API token: %v", err)
	}
	if err := putUpload(http.DefaultClient, up, blocked); statusOf(err) != http.StatusUnprocessableEntity || !strings.Contains(errString(err), "BlockedContent") {
		t.Errorf("PUT of blocklisted bytes after restore: got %v, want 422 BlockedContent", err)
	}

	// Altered bytes in the backup fail verify.
	store := openDest()
	var key string
	if err := store.List(t.Context(), "images/", func(k string, _ time.Time) error {
		key = k
		return nil
	}); err != nil || key == "" {
		t.Fatalf("list backed-up images: %q, %v", key, err)
	}
	b, err := store.Open(t.Context(), key)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	_, err = buf.ReadFrom(b)
	b.Close()
	if err != nil {
		t.Fatal(err)
	}
	altered := buf.Bytes()
	altered[len(altered)/2] ^= 0xff
	if err := store.Delete(t.Context(), key); err != nil {
		t.Fatal(err)
	}
	if err := store.Put(context.Background(), key, bytes.NewReader(altered)); err != nil {
		t.Fatal(err)
	}
	if r := runCommand(t, "", env, "backup", "verify", dest); r.exit == 0 || !strings.Contains(r.stderr, "sha256") {
		t.Errorf("verify of altered bytes: exit %d, stdout %q, stderr %q; want a sha256 mismatch", r.exit, r.stdout, r.stderr)
	} else {
		t.Logf("verify of altered bytes: %s", strings.TrimSpace(r.stderr))
	}
}

// TestBackupKilledResumes: see testBackupKilled, with a directory as DEST.
func TestBackupKilledResumes(t *testing.T) {
	testBackupKilled(t, directoryDest(t))
}

// TestBackupKilledResumesBucket: see testBackupKilled, with a Versity
// bucket as DEST.
func TestBackupKilledResumesBucket(t *testing.T) {
	testBackupKilled(t, bucketDest(t))
}

// testBackupKilled kills a backup part way with SIGKILL: the earlier
// backup still verifies, and the next run completes the backup, skipping
// the images the killed run copied, and removes what it left; --keep
// prunes old snapshots; the restore serves every image.
func testBackupKilled(t *testing.T, bd backupDest) {
	dest, env, openDest := bd.url, bd.env, bd.open
	d := newBackupDeployment(t)
	served := map[string][]byte{}
	d.uploadMany(t, 4, served)
	first, _, _ := backupCounts(t, env, "--data", d.data, "--to", dest)
	d.uploadMany(t, 60, served)

	killAfter(t, env, 5, "images copied", "backup", "--verbose", "--data", d.data, "--to", dest)
	if out := runCLIEnv(t, env, "", "backup", "verify", dest); !strings.Contains(out, "is sound") {
		t.Errorf("verify after the kill: got %q, want the first backup sound", out)
	}

	images, copiedNow, skipped := backupCounts(t, env, "--data", d.data, "--to", dest, "--keep", "1")
	if images != len(served) || skipped < first+5 || copiedNow+skipped != images {
		t.Errorf("run after the kill: %d images, %d copied, %d already there; want %d, at least %d there", images, copiedNow, skipped, len(served), first+5)
	}
	runCLIEnv(t, env, "", "backup", "verify", dest)
	left := map[string]bool{}
	if err := openDest().List(t.Context(), "backups/", func(k string, _ time.Time) error {
		left[strings.Split(k, "/")[1]] = true
		return nil
	}); err != nil || len(left) != 1 {
		t.Errorf("backups left with --keep 1 after a killed run: %v, %v; want one", left, err)
	}

	if err := d.srv.stop(); err != nil {
		t.Fatal(err)
	}
	restored := filepath.Join(t.TempDir(), "restored")
	runCLIEnv(t, env, "", "restore", "--from", dest, "--data", restored)
	srv := startServer(t, restored)
	for p, want := range served {
		if got, err := fetch(http.DefaultClient, srv.base, p); err != nil || !bytes.Equal(got, want) {
			t.Errorf("GET %s from the restored directory: got %d bytes, %v", p, len(got), err)
		}
	}
}

// TestBackupForgetImage runs docs/operating.md's steps for removing one
// image from every backup, as printed (its example values replaced), on a
// directory holding two backups that list the image and a third image
// uploaded later: afterwards no file at the destination holds the image's
// bytes, no manifest lists it, `backup verify` passes, and a restore
// serves the other images and not that one.
func TestBackupForgetImage(t *testing.T) {
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("no bash")
	}
	doc, err := os.ReadFile("../docs/operating.md")
	if err != nil {
		t.Fatal(err)
	}
	block := regexp.MustCompile("(?s)Removing one image from every backup for good.*?```sh\n(.*?)```").FindSubmatch(doc)
	if block == nil {
		t.Fatal("docs/operating.md: no sh block after \"Removing one image from every backup for good\"")
	}
	d := newBackupDeployment(t)
	dest := filepath.Join(t.TempDir(), "backups")
	gone, goneBytes, err := d.upload(encodePNG(t, d.rng, 31, 17))
	if err != nil {
		t.Fatal(err)
	}
	kept := map[string][]byte{}
	d.uploadMany(t, 2, kept)
	runCLI(t, "", "backup", "--data", d.data, "--to", dest)
	time.Sleep(10 * time.Millisecond) // backups are named by their time
	runCLI(t, "", "backup", "--data", d.data, "--to", dest)
	d.uploadMany(t, 1, kept)
	runCLI(t, "", "images", "rm", "--data", d.data, "--reason", "asked to be forgotten", gone)
	id := strings.TrimSuffix(filepath.Base(gone), filepath.Ext(gone))

	script := strings.NewReplacer("81TKxGEqVJruMIz7RCN8JA", id, "/mnt/backup/userimages", dest, "/var/lib/userimages", d.data).Replace(string(block[1]))
	cmd := exec.Command("bash", "-euo", "pipefail", "-c", script)
	cmd.Env = append(cleanEnv(), "PATH="+filepath.Dir(binPath)+":"+os.Getenv("PATH"))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("the documented steps: %v\n%s", err, out)
	}
	t.Logf("the documented steps printed:\n%s", out)

	backups, _ := filepath.Glob(filepath.Join(dest, "backups", "*"))
	if len(backups) != 1 {
		t.Errorf("%d backups left (%v), want 1: the newest, made after the takedown", len(backups), backups)
	}
	err = filepath.WalkDir(dest, func(path string, e os.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if bytes.Contains(b, goneBytes) {
			t.Errorf("%s holds the forgotten image's bytes", path)
		}
		if strings.Contains(path, "/manifest/") && bytes.Contains(b, []byte(`"id":"`+id+`"`)) {
			t.Errorf("%s lists the forgotten image", path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	restored := filepath.Join(t.TempDir(), "restored")
	runCLI(t, "", "restore", "--from", dest, "--data", restored)
	srv := startServer(t, restored)
	if res, _, err := do(http.DefaultClient, http.MethodGet, srv.base+gone, "", nil, nil); err != nil || res.StatusCode != http.StatusNotFound {
		t.Errorf("after the restore: GET %s: got %v %v, want 404", gone, res.StatusCode, err)
	}
	for p, want := range kept {
		got, err := fetch(http.DefaultClient, srv.base, p)
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("after the restore: GET %s: got %d bytes, %v; want the image as served before", p, len(got), err)
		}
	}
}
