package storetest

import (
	"slices"
	"strings"
	"testing"
	"time"

	"userimages/core"
)

// pdqHash returns a distinct 64-hex-digit hash for each n.
func pdqHash(n int) string { return strings.Repeat(string("0123456789abcdef"[n%16]), 64) }

// testPerceptualHashes: an image's perceptual hash goes from its received
// upload to its image row; blocked hashes are added, listed in version
// order and paged, removed by list or with their takedown's bytes, each
// change moving HashesVersion, each import and removal audited.
func testPerceptualHashes(t *testing.T, open openMeta) {
	s := open(t)
	ctx := t.Context()
	up := newUpload(1, 0)
	up.PDQ, up.PDQQuality = pdqHash(1), 87
	img := newImage(1, up)
	img.PDQ, img.PDQQuality = up.PDQ, up.PDQQuality
	mustPublish(t, s, up, img)
	got, err := s.Image(ctx, img.ID)
	noErr(t, "Image", err)
	checkImage(t, "Image", got, img)

	version := func(want core.HashesVersion) {
		t.Helper()
		if v, err := s.HashesVersion(ctx); err != nil || v != want {
			t.Errorf("HashesVersion: got %+v, %v, want %+v", v, err, want)
		}
	}
	list := func(name string, c core.HashCursor, limit int, want ...string) []core.BlockedHash {
		t.Helper()
		hs, err := s.BlockedHashes(ctx, name, c, limit)
		noErr(t, "BlockedHashes", err)
		var hashes []string
		for _, h := range hs {
			hashes = append(hashes, h.Hash)
		}
		if !slices.Equal(hashes, want) {
			t.Errorf("BlockedHashes(%q, %+v, %d): got %v, want %v", name, c, limit, hashes, want)
		}
		return hs
	}
	version(core.HashesVersion{})
	at := base.Add(5 * time.Hour)
	imported := []core.BlockedHash{{List: "shared", Hash: pdqHash(2), Quality: -1}, {List: "shared", Hash: pdqHash(3), Quality: 90}, {List: "shared", Hash: pdqHash(4), Quality: 100}}
	noErr(t, "AddBlockedHashes", s.AddBlockedHashes(ctx, imported, core.ModerationEvent{Action: core.ActionImportHashes, Target: "shared", By: "cli:root", Reason: "3 hashes", At: at}))
	version(core.HashesVersion{Version: 1})
	hs := list("", core.HashCursor{}, 10, pdqHash(2), pdqHash(3), pdqHash(4))
	if hs[0].Quality != -1 || hs[1].Quality != 90 || hs[0].List != "shared" || hs[0].Version != 1 || hs[1].Seq <= hs[0].Seq {
		t.Errorf("BlockedHashes: got %+v", hs)
	}
	page := list("", core.HashCursor{}, 2, pdqHash(2), pdqHash(3))
	list("", core.HashCursor{Version: page[1].Version, Seq: page[1].Seq}, 2, pdqHash(4))

	// A takedown without block adds no hashes; a blocking one adds its.
	other := newImage(2, newUpload(2, 0))
	mustPublish(t, s, newUpload(2, 0), other)
	forms := []core.BlockedHash{{List: core.ListTakedowns, Hash: pdqHash(5), Quality: 87, Source: img.SHA256}, {List: core.ListTakedowns, Hash: pdqHash(6), Quality: 87, Source: img.SHA256}}
	_, err = s.TakeDown(ctx, core.Takedown{ImageID: other.ID, By: "cli:root", Reason: "r", At: at, Hashes: forms})
	noErr(t, "TakeDown(not blocked)", err)
	version(core.HashesVersion{Version: 1})
	_, err = s.TakeDown(ctx, core.Takedown{ImageID: img.ID, By: "cli:root", Reason: "r", Block: true, At: at, Hashes: forms})
	noErr(t, "TakeDown(blocked)", err)
	version(core.HashesVersion{Version: 2})
	hs = list(core.ListTakedowns, core.HashCursor{Version: 1, Seq: page[1].Seq}, 10, pdqHash(5), pdqHash(6))
	if hs[0].Source != img.SHA256 {
		t.Errorf("takedown hash source: got %q, want %q", hs[0].Source, img.SHA256)
	}
	lists, err := s.HashLists(ctx)
	noErr(t, "HashLists", err)
	if len(lists) != 2 || lists[0].Name != "shared" || lists[0].Hashes != 3 || lists[1].Name != core.ListTakedowns || lists[1].Hashes != 2 {
		t.Errorf("HashLists: got %+v", lists)
	} else {
		checkTime(t, "HashLists At", lists[0].At, at)
	}

	// Unblocking the bytes removes their takedown's hashes.
	noErr(t, "Unblock", s.Unblock(ctx, core.ModerationEvent{Action: core.ActionUnblock, Target: img.SHA256, By: "cli:root", Reason: "r", At: at.Add(time.Second)}))
	version(core.HashesVersion{Version: 3, Removals: 2})
	list(core.ListTakedowns, core.HashCursor{}, 10)

	n, err := s.RemoveHashList(ctx, "shared", core.ModerationEvent{Action: core.ActionRemoveHashes, Target: "shared", By: "cli:root", Reason: "expired", At: at.Add(2 * time.Second)})
	if err != nil || n != 3 {
		t.Errorf("RemoveHashList: got %d, %v, want 3, nil", n, err)
	}
	version(core.HashesVersion{Version: 4, Removals: 5})
	_, err = s.RemoveHashList(ctx, "shared", core.ModerationEvent{Action: core.ActionRemoveHashes, Target: "shared", By: "cli:root", Reason: "again", At: at.Add(3 * time.Second)})
	wantErr(t, "RemoveHashList again", err, core.ErrNotFound)
	version(core.HashesVersion{Version: 4, Removals: 5})
	list("", core.HashCursor{}, 10)
	evs, err := s.ModerationEvents(ctx, "shared", 10)
	noErr(t, "ModerationEvents", err)
	if len(evs) != 2 || evs[0].Action != core.ActionRemoveHashes || evs[1].Action != core.ActionImportHashes {
		t.Errorf("ModerationEvents(shared): got %+v, want the removal and the import", evs)
	}
}

// testFingerprints: a hash computed after the PUT is recorded on the
// received upload (and published by its claim) or on the published image;
// Unfingerprinted lists the published images never hashed, by id, paged,
// leaving out those that cannot be hashed (quality -1); an unknown id is
// no error.
func testFingerprints(t *testing.T, open openMeta) {
	s := open(t)
	ctx := t.Context()
	unhashed := func(after string, limit int, want ...string) {
		t.Helper()
		imgs, err := s.Unfingerprinted(ctx, after, limit)
		noErr(t, "Unfingerprinted", err)
		var ids []string
		for _, img := range imgs {
			ids = append(ids, img.ID)
		}
		if !slices.Equal(ids, want) {
			t.Errorf("Unfingerprinted(%q, %d): got %v, want %v", after, limit, ids, want)
		}
	}
	var imgs []core.Image
	for n := 1; n <= 4; n++ {
		up := newUpload(n, 0)
		img := newImage(n, up)
		mustPublish(t, s, up, img)
		imgs = append(imgs, img)
	}
	slices.SortFunc(imgs, func(a, b core.Image) int { return strings.Compare(a.ID, b.ID) })
	unhashed("", 10, imgs[0].ID, imgs[1].ID, imgs[2].ID, imgs[3].ID)
	unhashed("", 2, imgs[0].ID, imgs[1].ID)
	unhashed(imgs[1].ID, 2, imgs[2].ID, imgs[3].ID)

	fp := core.Fingerprint{PDQ: pdqHash(7), Quality: 93}
	noErr(t, "SetFingerprint", s.SetFingerprint(ctx, imgs[1].ID, fp))
	noErr(t, "SetFingerprint(cannot)", s.SetFingerprint(ctx, imgs[2].ID, core.Fingerprint{Quality: -1}))
	unhashed("", 10, imgs[0].ID, imgs[3].ID)
	want := imgs[1]
	want.PDQ, want.PDQQuality = fp.PDQ, fp.Quality
	got, err := s.Image(ctx, want.ID)
	noErr(t, "Image", err)
	checkImage(t, "Image after SetFingerprint", got, want)
	if got, err := s.Image(ctx, imgs[2].ID); err != nil || got.PDQ != "" || got.PDQQuality != -1 {
		t.Errorf("Image after SetFingerprint(cannot): got %+v, %v, want PDQ \"\" quality -1", got, err)
	}
	noErr(t, "SetFingerprint(unknown)", s.SetFingerprint(ctx, imageID(99), fp))

	// A received upload's hash goes with it to its image.
	up := newUpload(5, 0)
	img := newImage(5, up)
	up.ImageID, up.Size, up.SHA256 = img.ID, img.Size, img.SHA256
	noErr(t, "ReceiveUpload", s.ReceiveUpload(ctx, up))
	fp = core.Fingerprint{PDQ: pdqHash(8), Quality: 61}
	noErr(t, "SetFingerprint(received)", s.SetFingerprint(ctx, img.ID, fp))
	got, err = s.ClaimUpload(ctx, claimOf(up, img.BrandID, img.CreatedAt))
	noErr(t, "ClaimUpload", err)
	img.PDQ, img.PDQQuality = fp.PDQ, fp.Quality
	checkImage(t, "ClaimUpload after SetFingerprint", got, img)
	unhashed("", 10, imgs[0].ID, imgs[3].ID)
}

// testImageHashes: ImageHashes lists the published images that have a
// perceptual hash, the latest published first, paged by Seq; a taken-down
// image is not listed.
func testImageHashes(t *testing.T, open openMeta) {
	s := open(t)
	ctx := t.Context()
	for n := 1; n <= 5; n++ {
		up := newUpload(n, 0)
		if n != 3 { // published without a hash
			up.PDQ, up.PDQQuality = pdqHash(n), 50+n
		}
		img := newImage(n, up)
		img.PDQ, img.PDQQuality = up.PDQ, up.PDQQuality
		mustPublish(t, s, up, img)
	}
	list := func(before int64, limit int, want ...int) []core.ImageHash {
		t.Helper()
		hs, err := s.ImageHashes(ctx, before, limit)
		noErr(t, "ImageHashes", err)
		var got, wantIDs []string
		for _, h := range hs {
			got = append(got, h.ID)
			if n := slices.Index([]string{imageID(1), imageID(2), imageID(3), imageID(4), imageID(5)}, h.ID) + 1; h.PDQ != pdqHash(n) || h.Quality != 50+n {
				t.Errorf("ImageHashes: image %s has PDQ %q quality %d, want %q %d", h.ID, h.PDQ, h.Quality, pdqHash(n), 50+n)
			}
		}
		for _, n := range want {
			wantIDs = append(wantIDs, imageID(n))
		}
		if !slices.Equal(got, wantIDs) {
			t.Errorf("ImageHashes(%d, %d): got %v, want %v", before, limit, got, wantIDs)
		}
		return hs
	}
	list(0, 10, 5, 4, 2, 1)
	page := list(0, 2, 5, 4)
	if page[0].Seq <= page[1].Seq {
		t.Errorf("ImageHashes: Seq %d then %d, want them decreasing", page[0].Seq, page[1].Seq)
	}
	page = list(page[1].Seq, 2, 2, 1)
	list(page[1].Seq, 2)
	_, err := s.TakeDown(ctx, core.Takedown{ImageID: imageID(4), By: "cli:root", Reason: "r", At: base.Add(5 * time.Hour)})
	noErr(t, "TakeDown", err)
	list(0, 10, 5, 2, 1)
}

// testRaceFingerprintClaim: a hash recorded while the upload is claimed
// is on the published image, whichever goes first.
func testRaceFingerprintClaim(t *testing.T, open openMeta) {
	s := open(t)
	ctx := t.Context()
	noErr(t, "AddBrand", s.AddBrand(ctx, "brand1"))
	for run := range raceRuns {
		up := received(newUpload(run, 0), run)
		noErr(t, "ReceiveUpload", s.ReceiveUpload(ctx, up))
		fp := core.Fingerprint{PDQ: pdqHash(run), Quality: 50 + run}
		errs := race(
			func() error { return s.SetFingerprint(ctx, up.ImageID, fp) },
			func() error { _, err := s.ClaimUpload(ctx, claimOf(up, "brand1", base)); return err },
		)
		noErr(t, "SetFingerprint", errs[0])
		noErr(t, "ClaimUpload", errs[1])
		img, err := s.Image(ctx, up.ImageID)
		noErr(t, "Image", err)
		if img.PDQ != fp.PDQ || img.PDQQuality != fp.Quality {
			t.Errorf("run %d: the image has hash %q quality %d, want %q %d", run, img.PDQ, img.PDQQuality, fp.PDQ, fp.Quality)
		}
	}
}
