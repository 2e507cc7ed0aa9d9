package backup_test

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"userimages/backup"
	"userimages/core"
	"userimages/localdisk"
	"userimages/sqlite"
)

// envInt is the integer in the environment variable name, else def.
func envInt(t *testing.T, name string, def int) int {
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatalf("%s=%q: %v", name, s, err)
	}
	return n
}

// TestBackupRestoreTiming backs up a data directory of n images to a
// directory, backs it up again (copying nothing), verifies and restores it,
// and logs how long each step took, per 10,000 images. The README's
// number comes from USERIMAGES_BACKUP_TIMING_IMAGES=10000 and
// USERIMAGES_BACKUP_TIMING_SIZE (bytes per image).
func TestBackupRestoreTiming(t *testing.T) {
	n := envInt(t, "USERIMAGES_BACKUP_TIMING_IMAGES", 50)
	size := envInt(t, "USERIMAGES_BACKUP_TIMING_SIZE", 2000)
	ctx := t.Context()
	data, db, blobs := deployment(t, n, size)
	dest, err := localdisk.Open(filepath.Join(t.TempDir(), "backups"))
	if err != nil {
		t.Fatal(err)
	}
	per10k := func(d time.Duration) time.Duration { return d * 10000 / time.Duration(n) }
	opts := backup.Options{DB: db, Blobs: blobs, SecretPath: filepath.Join(data, "signing-secret"), Dest: dest}

	start := time.Now()
	res, err := backup.Run(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	took := time.Since(start)
	if res.Images.Copied != int64(n) || res.Images.Skipped != 0 {
		t.Errorf("first backup: %+v, want %d copied", res.Images, n)
	}
	t.Logf("backup of %d images of %d bytes: %v (%v per 10,000)", n, size, took, per10k(took))

	start = time.Now()
	res, err = backup.Run(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	if res.Images.Copied != 0 || res.Images.Skipped != int64(n) {
		t.Errorf("second backup: %+v, want all %d already there", res.Images, n)
	}
	t.Logf("second backup, nothing new: %v (%v per 10,000)", time.Since(start), per10k(time.Since(start)))

	start = time.Now()
	if _, checked, err := backup.Verify(ctx, dest, nil); err != nil || checked != int64(n) {
		t.Fatalf("verify: %d checked, %v; want %d", checked, err, n)
	}
	t.Logf("verify: %v (%v per 10,000)", time.Since(start), per10k(time.Since(start)))

	restored := filepath.Join(t.TempDir(), "restored")
	start = time.Now()
	_, p, err := backup.Restore(ctx, dest, restored, nil)
	if err != nil {
		t.Fatal(err)
	}
	took = time.Since(start)
	if p.Copied != int64(n) {
		t.Errorf("restore: %+v, want %d images", p, n)
	}
	t.Logf("restore of %d images of %d bytes: %v (%v per 10,000)", n, size, took, per10k(took))

	back, err := sqlite.Open(ctx, filepath.Join(restored, "userimages.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer back.Close()
	if _, images, err := back.Counts(ctx); err != nil || images != int64(n) {
		t.Errorf("restored database: %d images, %v; want %d", images, err, n)
	}
	if secret, err := os.ReadFile(filepath.Join(restored, "signing-secret")); err != nil || string(secret) != "s3cret\n" {
		t.Errorf("restored signing secret: %q, %v", secret, err)
	}
	if _, _, err := backup.Restore(ctx, dest, restored, nil); err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Errorf("restore into a non-empty directory: %v, want refused", err)
	}
}

// deployment is a data directory of n random images of size bytes, with
// its open database and blob store.
func deployment(t *testing.T, n, size int) (string, *sqlite.DB, *localdisk.Store) {
	ctx := t.Context()
	data := t.TempDir()
	db, err := sqlite.Open(ctx, filepath.Join(data, "userimages.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	blobs, err := localdisk.Open(filepath.Join(data, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(data, "signing-secret"), []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := db.AddBrand(ctx, "10016"); err != nil {
		t.Fatal(err)
	}
	body := make([]byte, size)
	for i := range n {
		rand.Read(body)
		sum := sha256.Sum256(body)
		var raw [16]byte
		rand.Read(raw[:])
		id := base64.RawURLEncoding.EncodeToString(raw[:])
		rand.Read(raw[:])
		img := core.Image{ID: id, Token: base64.RawURLEncoding.EncodeToString(raw[:]), BrandID: "10016", ContentType: "image/png",
			Size: int64(size), SHA256: hex.EncodeToString(sum[:]), CreatedAt: time.Now().UTC()}
		if err := blobs.Put(ctx, core.ImageKey(id), strings.NewReader(string(body))); err != nil {
			t.Fatal(err)
		}
		if err := db.ImportImage(ctx, img); err != nil {
			t.Fatalf("image %d: %v", i, err)
		}
	}
	return data, db, blobs
}

// TestPrune: a backup deletes what an interrupted run left, and with Keep
// the complete backups beyond the newest Keep; the images stay.
func TestPrune(t *testing.T) {
	ctx := t.Context()
	data, db, blobs := deployment(t, 3, 100)
	dest, err := localdisk.Open(filepath.Join(t.TempDir(), "backups"))
	if err != nil {
		t.Fatal(err)
	}
	opts := backup.Options{DB: db, Blobs: blobs, SecretPath: filepath.Join(data, "signing-secret"), Dest: dest}
	for range 3 {
		if _, err := backup.Run(ctx, opts); err != nil {
			t.Fatal(err)
		}
	}
	// An interrupted run, older than the next: a part of its snapshot.
	if err := dest.Put(ctx, "backups/20000101T000000_000000000Z/db/000000", strings.NewReader("half")); err != nil {
		t.Fatal(err)
	}
	opts.Keep = 2
	res, err := backup.Run(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	if res.Pruned != 2 {
		t.Errorf("Keep 2 after 3 backups: pruned %d, want 2", res.Pruned)
	}
	stamps := map[string]bool{}
	images := 0
	if err := dest.List(ctx, "", func(key string, _ time.Time) error {
		if rest, ok := strings.CutPrefix(key, "backups/"); ok {
			stamps[strings.Split(rest, "/")[0]] = true
		} else {
			images++
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(stamps) != 2 || stamps["20000101T000000_000000000Z"] || images != 3 {
		t.Errorf("after pruning: backups %v, %d images; want the 2 newest, 3 images", stamps, images)
	}
	if name, _, err := backup.Verify(ctx, dest, nil); err != nil || name != res.Name {
		t.Errorf("verify after pruning: %s, %v; want %s sound", name, err, res.Name)
	}
}
