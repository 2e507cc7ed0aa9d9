package migrate_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"image"
	"image/color"
	"image/jpeg"
	"io"
	"reflect"
	"strings"
	"testing"

	"github.com/userimages/userimages/client/api"
	"golang.org/x/crypto/bcrypt"

	"userimages/core"
	"userimages/internal/testkit/embeddedtest"
	"userimages/localdisk"
	"userimages/migrate"
	"userimages/selfsign"
	"userimages/sqlite"
)

// deployment is an embedded-default deployment in a temp dir.
type deployment struct {
	db    *sqlite.DB
	blobs *localdisk.Store
	svc   core.Services
}

func newDeployment(t *testing.T) *deployment {
	t.Helper()
	d := embeddedtest.Open(t, core.Config{}, core.Runtime{})
	return &deployment{db: d.DB, blobs: d.Blobs, svc: d.Svc}
}

func testJPEG(t *testing.T, seed int) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 40+seed, 30))
	for i := range img.Pix {
		img.Pix[i] = byte(i*seed + seed)
	}
	img.Set(0, 0, color.RGBA{R: byte(seed), A: 255})
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, nil); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// fill gives d users, an API token, n images in two brands, two
// deletions, one of them blocklisting its bytes, two open reports and a
// dismissal. It returns the ids of the images still published.
func (d *deployment) fill(t *testing.T, n int) []string {
	t.Helper()
	ctx := context.Background()
	for _, b := range []string{"10016", "20000"} {
		if err := d.svc.Brands.AddBrand(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := d.svc.Accounts.AddUser(ctx, "ann@example.com", "correct horse", true); err != nil {
		t.Fatal(err)
	}
	if _, err := d.svc.Accounts.AddUser(ctx, "bob@example.com", "battery staple", false); err != nil {
		t.Fatal(err)
	}
	if _, err := d.svc.Accounts.NewAPIToken(ctx, "bob@example.com"); err != nil {
		t.Fatal(err)
	}
	if _, err := d.svc.Webhooks.Add(ctx, "https://app.example.com/hooks", []string{core.EventImageClaimed}); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for i := range n + 2 {
		body := testJPEG(t, i+1)
		up, err := d.svc.Uploads.CreateUpload(ctx, core.CreateUploadInput{ContentType: "image/jpeg", FileSize: int64(len(body)),
			BaseURL: "http://127.0.0.1", Uploader: core.Uploader{UserID: int64(i % 3), ClientAddr: "192.0.2.1"}})
		if err != nil {
			t.Fatal(err)
		}
		received := core.Upload{Token: up.Token, ContentType: "image/jpeg", FileSize: int64(len(body)),
			CreatedAt: core.TokenTime(up.Token), Uploader: core.Uploader{UserID: int64(i % 3), ClientAddr: "192.0.2.1"}}
		if err := d.svc.Uploads.ReceiveUpload(ctx, received, int64(len(body)), bytes.NewReader(body)); err != nil {
			t.Fatal(err)
		}
		img, err := d.svc.Uploads.Claim(ctx, up.Token, []string{"10016", "20000"}[i%2], int64(i%3))
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, img.ID)
	}
	for i, id := range ids[n:] {
		if _, err := d.svc.Moderation.DeleteImage(ctx, id, "cli:root", "spam", i == 0); err != nil {
			t.Fatal(err)
		}
	}
	// u:2's first report is dismissed; then it and another client report
	// the image again.
	for i, reporter := range []string{"u:2", "", "a:192.0.2.1", "u:2"} {
		var err error
		if i == 1 {
			err = d.svc.Reports.DismissReports(ctx, ids[0], "cli:root", "fine")
		} else {
			err = d.svc.Reports.Report(ctx, ids[0], reporter, api.ReportSpam, "")
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	return ids[:n]
}

// snapshot is everything a deployment's metadata holds, and its images'
// bytes by id.
func snapshot(t *testing.T, d *deployment) map[string]any {
	t.Helper()
	ctx := context.Background()
	brands, err := d.db.Brands(ctx)
	if err != nil {
		t.Fatal(err)
	}
	users, _ := d.db.UsersAfter(ctx, 0, 1000)
	tokens, _ := d.db.APITokensAfter(ctx, "", 1000)
	images, _ := d.db.ImagesAfter(ctx, "", 1000)
	deletions, _ := d.db.DeletionsAfter(ctx, "", 1000)
	blocked, _ := d.db.BlockedAfter(ctx, "", 1000)
	reports, _ := d.db.ReportsAfter(ctx, core.Report{}, 1000)
	events, _ := d.db.ModerationEventsAfter(ctx, core.ModerationEvent{}, 1000)
	bytesByID := map[string]string{}
	for _, img := range images {
		b, err := d.blobs.Open(ctx, core.ImageKey(img.ID))
		if err != nil {
			t.Fatalf("image %s: %v", img.ID, err)
		}
		data, err := io.ReadAll(b)
		b.Close()
		if err != nil {
			t.Fatal(err)
		}
		bytesByID[img.ID] = string(data)
	}
	webhooks, _ := d.db.Webhooks(ctx)
	return map[string]any{"brands": brands, "users": users, "tokens": tokens, "images": images,
		"deletions": deletions, "blocked": blocked, "bytes": bytesByID, "reports": reports, "events": events, "webhooks": webhooks}
}

func options(from, to *deployment) migrate.Options {
	return migrate.Options{From: from.db, FromBlobs: from.blobs, To: to.db, ToBlobs: to.blobs, PageSize: 4}
}

// crashingDest fails ImportImage after ok calls, as a run killed between
// storing an image's bytes and its row would.
type crashingDest struct {
	migrate.Destination
	ok int
}

var errCrash = errors.New("crash")

func (c *crashingDest) ImportImage(ctx context.Context, img core.Image) error {
	if c.ok == 0 {
		return errCrash
	}
	c.ok--
	return c.Destination.ImportImage(ctx, img)
}

// TestMigrateResumes: a run interrupted part-way through the images, then
// run again, leaves the destination equal to the source; the second run
// skips what the first copied; a third copies nothing.
func TestMigrateResumes(t *testing.T) {
	ctx := context.Background()
	from, to := newDeployment(t), newDeployment(t)
	ids := from.fill(t, 11)

	o := options(from, to)
	o.To = &crashingDest{Destination: to.db, ok: 5}
	if _, err := migrate.Run(ctx, o); !errors.Is(err, errCrash) {
		t.Fatalf("interrupted run: got %v, want the crash", err)
	}
	var reports int
	copiedReports := map[string]int64{}
	o = options(from, to)
	o.Progress = func(p migrate.Progress) {
		reports++
		if p.LastCopied {
			copiedReports[p.Kind]++
		}
	}
	got, err := migrate.Run(ctx, o)
	if err != nil {
		t.Fatalf("resumed run: %v", err)
	}
	if want := 2 + 2 + 1 + 1 + len(ids) + 2 + 2 + 1 + 1; reports != want { // … and a webhook endpoint
		t.Errorf("progress reports: got %d, want one per record (%d)", reports, want)
	}
	for _, p := range got {
		if copiedReports[p.Kind] != p.Copied {
			t.Errorf("%s: got %d reports of a copied record, want %d (one per copy)", p.Kind, copiedReports[p.Kind], p.Copied)
		}
	}
	images := got[4]
	// The sixth image's bytes were stored before the crash: they are kept,
	// checked, and its row written now.
	if images.Kind != "images" || images.Skipped != 5 || images.Copied != int64(len(ids)-5) {
		t.Errorf("resumed images: got %+v, want 5 skipped and %d copied", images, len(ids)-5)
	}
	if !reflect.DeepEqual(snapshot(t, from), snapshot(t, to)) {
		t.Errorf("after resuming: the destination differs from the source")
	}
	again, err := migrate.Run(ctx, options(from, to))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range again {
		if p.Copied != 0 || p.Bytes != 0 {
			t.Errorf("third run, %s: got %+v, want nothing copied", p.Kind, p)
		}
	}
	// The moved deployment authenticates the same users and refuses the
	// same blocklisted bytes.
	st := embeddedtest.MetadataOn(to.db)
	st.Blobs, st.Signer, st.Scratch = to.blobs, mustSigner(t), to.blobs
	svc, err := core.NewServices(core.Config{PasswordCost: bcrypt.MinCost}, st)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Accounts.Authenticate(ctx, basic("ann@example.com", "correct horse"), "192.0.2.1"); err != nil {
		t.Errorf("login after the move: %v", err)
	}
	if blocked, _ := to.db.IsBlocked(ctx, snapshotBlocked(t, from)); !blocked {
		t.Error("blocklist after the move: the blocked hash is not blocked")
	}
}

func mustSigner(t *testing.T) *selfsign.Signer {
	s, err := selfsign.New(strings.Repeat("k", 32))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func basic(user, password string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+password))
}

func snapshotBlocked(t *testing.T, d *deployment) string {
	blocked, err := d.db.BlockedAfter(context.Background(), "", 10)
	if err != nil || len(blocked) != 1 {
		t.Fatalf("blocklist: got %v, %v; want one hash", blocked, err)
	}
	return blocked[0]
}

// TestMigrateTakedownBetweenRuns: an image taken down at the source after
// a run copied it is taken down at the destination by the next run, bytes
// and all, with its audit entry.
func TestMigrateTakedownBetweenRuns(t *testing.T) {
	ctx := context.Background()
	from, to := newDeployment(t), newDeployment(t)
	ids := from.fill(t, 3)
	if _, err := migrate.Run(ctx, options(from, to)); err != nil {
		t.Fatal(err)
	}
	if _, err := from.svc.Moderation.DeleteImage(ctx, ids[1], "cli:root", "late report", false); err != nil {
		t.Fatal(err)
	}
	if _, err := migrate.Run(ctx, options(from, to)); err != nil {
		t.Fatal(err)
	}
	if _, err := to.db.Image(ctx, ids[1]); !errors.Is(err, core.ErrNotFound) {
		t.Errorf("row of the image taken down between runs: got %v, want none", err)
	}
	if _, err := to.blobs.Open(ctx, core.ImageKey(ids[1])); !errors.Is(err, core.ErrNotFound) {
		t.Errorf("bytes of the image taken down between runs: got %v, want none", err)
	}
	if !reflect.DeepEqual(snapshot(t, from), snapshot(t, to)) {
		t.Errorf("after the second run: the destination differs from the source")
	}
}

// TestMigrateRefusesCorruptBytes: source bytes that do not match their
// recorded hash stop the run, and nothing of that image reaches the
// destination.
func TestMigrateRefusesCorruptBytes(t *testing.T) {
	ctx := context.Background()
	from, to := newDeployment(t), newDeployment(t)
	ids := from.fill(t, 3)
	victim := ids[1]
	if err := from.blobs.Delete(ctx, core.ImageKey(victim)); err != nil {
		t.Fatal(err)
	}
	if err := from.blobs.Put(ctx, core.ImageKey(victim), bytes.NewReader(testJPEG(t, 99))); err != nil {
		t.Fatal(err)
	}
	_, err := migrate.Run(ctx, options(from, to))
	if err == nil || !strings.Contains(err.Error(), victim) || !strings.Contains(err.Error(), "sha256") {
		t.Fatalf("got %v, want an error naming image %s and its sha256", err, victim)
	}
	if _, err := to.db.Image(ctx, victim); !errors.Is(err, core.ErrNotFound) {
		t.Errorf("row of the corrupt image: got %v, want none", err)
	}
	if _, err := to.blobs.Open(ctx, core.ImageKey(victim)); !errors.Is(err, core.ErrNotFound) {
		t.Errorf("bytes of the corrupt image: got %v, want none", err)
	}
}

// TestMigrateConflict: a destination that is not a copy of the source is
// refused rather than merged.
func TestMigrateConflict(t *testing.T) {
	ctx := context.Background()
	for _, tt := range []struct {
		name    string
		prepare func(t *testing.T, from, to *deployment, ids []string)
	}{
		{"another user with the same id", func(t *testing.T, _, to *deployment, _ []string) {
			if err := to.db.ImportUser(ctx, core.User{ID: 1, Email: "mallory@example.com", PasswordHash: []byte("x")}); err != nil {
				t.Fatal(err)
			}
		}},
		{"another image with the same token", func(t *testing.T, from, to *deployment, ids []string) {
			img, err := from.db.Image(ctx, ids[0])
			if err != nil {
				t.Fatal(err)
			}
			img.ID = "AAAAAAAAAAAAAAAAAAAAAA"
			if err := to.db.ImportImage(ctx, img); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			from, to := newDeployment(t), newDeployment(t)
			tt.prepare(t, from, to, from.fill(t, 1))
			if _, err := migrate.Run(ctx, options(from, to)); !errors.Is(err, migrate.ErrConflict) {
				t.Fatalf("got %v, want ErrConflict", err)
			}
		})
	}
}
