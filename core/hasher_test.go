package core_test

import (
	"context"
	"testing"
	"time"

	"github.com/userimages/userimages/client/api"

	"userimages/core"
	"userimages/internal/testkit/testphoto"
	"userimages/pdq"
)

// waitFor polls cond until it holds, failing t after a minute (a bound
// for a loaded machine, not a speed measured).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); !cond(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("waited a minute for %s", what)
		}
	}
}

// runHasher runs svc's background hasher until the test ends.
func runHasher(t *testing.T, svc core.Services) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); svc.Resemblance.RunHasher(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
}

// hashOf is the PDQ hash of picture body, as the hasher computes it.
func hashOf(t *testing.T, body []byte) core.Fingerprint {
	t.Helper()
	d, err := pdq.File(body, api.JPEG)
	if err != nil {
		t.Fatal(err)
	}
	return core.Fingerprint{PDQ: d.Hash().String(), Quality: d.Quality}
}

// TestHashLater: while nothing is blocked a PUT hashes nothing, and the
// background hasher stores the hash of what it accepted, on the image
// when it is claimed before the hasher comes to it and on the received
// upload (which its claim publishes) when not; images published while no
// hasher ran (a stop) are backfilled when one starts; an image whose
// bytes are gone is recorded as unhashable and not tried again.
func TestHashLater(t *testing.T) {
	f := newFlowFixture(t, true)
	ctx := t.Context()
	photoA, photoB := jpegOf(t, testphoto.Natural(640, 480, 11), 90), jpegOf(t, testphoto.Natural(640, 480, 12), 90)
	upA, err := f.putJPEG(t, photoA)
	if err != nil {
		t.Fatal(err)
	}
	imgA, err := f.svc.Uploads.Claim(ctx, upA.Token, "10016", 0)
	if err != nil || imgA.PDQ != "" {
		t.Fatalf("claim before the hasher ran: %+v, %v; want no hash yet", imgA, err)
	}
	upB, err := f.putJPEG(t, photoB)
	if err != nil {
		t.Fatal(err)
	}
	runHasher(t, f.svc)
	imageHash := func(id string) core.Fingerprint {
		img, err := f.db.Image(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		return core.Fingerprint{PDQ: img.PDQ, Quality: img.PDQQuality}
	}
	waitFor(t, "the claimed image's hash", func() bool { return imageHash(imgA.ID) != core.Fingerprint{} })
	if got, want := imageHash(imgA.ID), hashOf(t, photoA); got != want {
		t.Errorf("claimed image: stored %+v, want %+v", got, want)
	}
	waitFor(t, "the received upload's hash", func() bool {
		st, err := f.db.TokenStatus(ctx, upB.Token)
		return err == nil && st.Upload != nil && st.Upload.PDQ != ""
	})
	imgB, err := f.svc.Uploads.Claim(ctx, upB.Token, "10016", 0)
	if want := hashOf(t, photoB); err != nil || imgB.PDQ != want.PDQ || imgB.PDQQuality != want.Quality {
		t.Errorf("claimed after the hasher: %+v, %v; want hash %+v", imgB, err, want)
	}

	// Published while no hasher runs, then an instance starts: backfilled.
	g := newFlowFixture(t, true)
	var imgs []core.Image
	for seed := range uint64(3) {
		up, err := g.putJPEG(t, jpegOf(t, testphoto.Natural(320, 240, 20+seed), 90))
		if err != nil {
			t.Fatal(err)
		}
		img, err := g.svc.Uploads.Claim(ctx, up.Token, "10016", 0)
		if err != nil {
			t.Fatal(err)
		}
		imgs = append(imgs, img)
	}
	if err := g.disk.Delete(ctx, core.ImageKey(imgs[2].ID)); err != nil {
		t.Fatal(err)
	}
	restarted := g.restart(t)
	runHasher(t, restarted)
	waitFor(t, "the backfill", func() bool {
		left, err := g.db.Unfingerprinted(ctx, "", 10)
		return err == nil && len(left) == 0
	})
	for _, img := range imgs[:2] {
		if got, err := g.db.Image(ctx, img.ID); err != nil || got.PDQ == "" || got.PDQQuality < pdq.ReliableQuality {
			t.Errorf("backfilled image: %+v, %v; want a reliable hash", got, err)
		}
	}
	if got, err := g.db.Image(ctx, imgs[2].ID); err != nil || got.PDQ != "" || got.PDQQuality != -1 {
		t.Errorf("image whose bytes are gone: %+v, %v; want unhashable (quality -1)", got, err)
	}
}

// TestScreenClaim: an upload accepted while nothing was blocked is refused
// at its claim (BlockedContent) when a picture it resembles was blocked
// since its PUT, whether the hasher came to it first (its stored hash) or
// not (hashed at the claim, the hash stored); an unrelated upload is
// claimed with its hash.
func TestScreenClaim(t *testing.T) {
	f := newFlowFixture(t, true)
	ctx := t.Context()
	photo := testphoto.Natural(640, 480, 31)
	unhashed, err := f.putJPEG(t, jpegOf(t, photo, 90))
	if err != nil {
		t.Fatal(err)
	}
	other, err := f.putJPEG(t, jpegOf(t, testphoto.Natural(640, 480, 32), 90))
	if err != nil {
		t.Fatal(err)
	}
	// A re-encoded copy of the photo, hashed before the block.
	hashed, err := f.putJPEG(t, jpegOf(t, photo, 60))
	if err != nil {
		t.Fatal(err)
	}
	st, err := f.db.TokenStatus(ctx, hashed.Token)
	if err != nil {
		t.Fatal(err)
	}
	fp := hashOf(t, jpegOf(t, photo, 60))
	if err := f.db.SetFingerprint(ctx, st.Upload.ImageID, fp); err != nil {
		t.Fatal(err)
	}

	h, _ := pdq.ParseHash(hashOf(t, jpegOf(t, photo, 95)).PDQ)
	if _, _, err := f.svc.Resemblance.ImportList(ctx, "shared", []pdq.ListEntry{{Hash: h, Quality: 100}}, "cli:test", "test"); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.Resemblance.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	for _, up := range []core.Upload{unhashed, hashed} {
		if _, err := f.svc.Uploads.Claim(ctx, up.Token, "10016", 0); core.ErrorCode(err) != api.CodeBlockedContent {
			t.Errorf("claim of an upload resembling a picture blocked since its PUT: got %v, want BlockedContent", err)
		}
	}
	if st, err := f.db.TokenStatus(ctx, unhashed.Token); err != nil || st.Upload == nil || st.Upload.PDQ == "" {
		t.Errorf("the refused upload hashed at its claim: %+v, %v; want its hash stored", st.Upload, err)
	}
	img, err := f.svc.Uploads.Claim(ctx, other.Token, "10016", 0)
	if err != nil || img.PDQ == "" {
		t.Errorf("claim of an unrelated upload: %+v, %v; want it published with its hash", img, err)
	}
}
