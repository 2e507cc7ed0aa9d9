package core_test

import (
	"bytes"
	"image"
	"image/draw"
	"image/jpeg"
	"image/png"
	"slices"
	"testing"

	"github.com/userimages/userimages/client/api"

	"userimages/core"
	"userimages/internal/testkit/testphoto"
	"userimages/pdq"
)

func jpegOf(t testing.TB, m image.Image, q int) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := jpeg.Encode(&b, m, &jpeg.Options{Quality: q}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// putJPEG PUTs body as a carried JPEG upload and returns the upload and
// the PUT's error.
func (f *flowFixture) putJPEG(t *testing.T, body []byte) (core.Upload, error) {
	t.Helper()
	up := carriedUpload(body)
	up.ContentType = api.JPEG.MIME
	return up, f.put(t, up, body)
}

// TestResemblance: while nothing is blocked a PUT hashes nothing; once a
// moderator takes a picture down with block, a PUT stores the picture's
// PDQ hash with it and a re-encoded copy is refused as
// BlockedContent while another picture is not; unblocking lets it through;
// an imported hash list blocks as a takedown does, until it is removed. A
// flat picture's hash (quality under 50) is never blocked.
func TestResemblance(t *testing.T) {
	f := newFlowFixture(t, true)
	ctx := t.Context()
	r := f.svc.Resemblance
	photo := testphoto.Natural(800, 600, 1)
	up, err := f.putJPEG(t, jpegOf(t, photo, 90))
	if err != nil {
		t.Fatal(err)
	}
	img, err := f.svc.Uploads.Claim(ctx, up.Token, "10016", 0)
	if err != nil {
		t.Fatal(err)
	}
	if img.PDQ != "" {
		t.Fatalf("claimed while nothing is blocked: PDQ %q, want none (nothing is hashed then)", img.PDQ)
	}
	if _, err := f.svc.Moderation.DeleteImage(ctx, img.ID, "cli:test", "abuse", true); err != nil {
		t.Fatal(err)
	}
	if got := r.Blocked(); got != 8 {
		t.Fatalf("after a blocking takedown: %d hashes blocked, want the 8 dihedral ones", got)
	}
	copyQ50 := jpegOf(t, photo, 50)
	if _, err := f.putJPEG(t, copyQ50); core.ErrorCode(err) != api.CodeBlockedContent {
		t.Errorf("re-encoded copy: got %v, want BlockedContent", err)
	}
	other, err := f.putJPEG(t, jpegOf(t, testphoto.Natural(800, 600, 2), 90))
	if err != nil {
		t.Fatalf("another picture: got %v, want it accepted", err)
	}
	otherImg, err := f.svc.Uploads.Claim(ctx, other.Token, "10016", 0)
	if err != nil {
		t.Fatal(err)
	}
	if otherImg.PDQ == "" || otherImg.PDQQuality < pdq.ReliableQuality {
		t.Fatalf("claimed while hashes are blocked: PDQ %q quality %d, want a reliable hash", otherImg.PDQ, otherImg.PDQQuality)
	}
	if stored, err := f.db.Image(ctx, otherImg.ID); err != nil || stored.PDQ != otherImg.PDQ {
		t.Fatalf("stored image: %+v, %v", stored, err)
	}

	// A flat picture: hashed, but not blocked by its takedown.
	flat := image.NewGray(image.Rect(0, 0, 300, 200))
	draw.Draw(flat, flat.Bounds(), image.NewUniform(image.White.C), image.Point{}, draw.Src)
	var flatPNG bytes.Buffer
	if err := png.Encode(&flatPNG, flat); err != nil {
		t.Fatal(err)
	}
	fu := carriedUpload(flatPNG.Bytes())
	if err := f.put(t, fu, flatPNG.Bytes()); err != nil {
		t.Fatal(err)
	}
	flatImg, err := f.svc.Uploads.Claim(ctx, fu.Token, "10016", 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Moderation.DeleteImage(ctx, flatImg.ID, "cli:test", "abuse", true); err != nil {
		t.Fatal(err)
	}
	if got := r.Blocked(); got != 8 {
		t.Errorf("after blocking a flat picture (quality %d): %d hashes blocked, want 8", flatImg.PDQQuality, got)
	}

	if err := f.svc.Moderation.Unblock(ctx, img.SHA256, "cli:test", "mistake"); err != nil {
		t.Fatal(err)
	}
	if got := r.Blocked(); got != 0 {
		t.Errorf("after unblocking: %d hashes blocked, want 0", got)
	}
	if _, err := f.putJPEG(t, copyQ50); err != nil {
		t.Errorf("re-encoded copy after unblocking: got %v, want it accepted", err)
	}

	d, err := pdq.File(jpegOf(t, photo, 90), api.JPEG)
	if err != nil {
		t.Fatal(err)
	}
	h := d.Hash()
	list := []pdq.ListEntry{{Hash: h, Quality: 100}, {Hash: pdq.Hash{1}, Quality: 10}}
	if added, skipped, err := r.ImportList(ctx, "shared", list, "cli:test", "test"); err != nil || added != 1 || skipped != 1 {
		t.Fatalf("ImportList: got %d, %d, %v; want 1 added, 1 of low quality skipped", added, skipped, err)
	}
	if _, _, err := r.ImportList(ctx, "shared", list, "cli:test", "test"); core.ErrorCode(err) != api.CodeConflict {
		t.Errorf("ImportList of an existing name: got %v, want Conflict", err)
	}
	if _, _, err := r.ImportList(ctx, core.ListTakedowns, list, "cli:test", "test"); core.ErrorCode(err) != api.CodeConflict {
		t.Errorf("ImportList as %q: got %v, want Conflict", core.ListTakedowns, err)
	}
	if err := r.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := f.putJPEG(t, copyQ50); core.ErrorCode(err) != api.CodeBlockedContent {
		t.Errorf("re-encoded copy of a listed picture: got %v, want BlockedContent", err)
	}
	if n, err := r.RemoveList(ctx, "shared", "cli:test", "test"); err != nil || n != 1 {
		t.Fatalf("RemoveList: got %d, %v", n, err)
	}
	if err := r.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := f.putJPEG(t, copyQ50); err != nil {
		t.Errorf("after the list's removal: got %v, want it accepted", err)
	}
	if _, err := r.RemoveList(ctx, "shared", "cli:test", "test"); core.ErrorCode(err) != api.CodeNotFound {
		t.Errorf("RemoveList again: got %v, want NotFound", err)
	}
}

// TestResembling: the published images that resemble one (a re-encoded
// and a half-size copy) are listed nearest first with their distance, an
// unrelated picture is not; TakeDownResembling takes the image and each
// listed one down, each with its audit record and blocked as asked, and
// skips an id that does not resemble it.
func TestResembling(t *testing.T) {
	f := newFlowFixture(t, true)
	ctx := t.Context()
	// Images are hashed while some hash is blocked.
	if _, _, err := f.svc.Resemblance.ImportList(ctx, "other", []pdq.ListEntry{{Hash: pdq.Hash{1, 2, 3}, Quality: -1}}, "cli:test", "test"); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.Resemblance.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	publish := func(body []byte) core.Image {
		t.Helper()
		up, err := f.putJPEG(t, body)
		if err != nil {
			t.Fatal(err)
		}
		img, err := f.svc.Uploads.Claim(ctx, up.Token, "10016", 0)
		if err != nil {
			t.Fatal(err)
		}
		return img
	}
	photo := testphoto.Natural(800, 600, 3)
	half := image.NewRGBA(image.Rect(0, 0, 400, 300))
	for y := range 300 {
		for x := range 400 {
			half.Set(x, y, photo.At(2*x, 2*y))
		}
	}
	img := publish(jpegOf(t, photo, 90))
	reencoded := publish(jpegOf(t, photo, 50))
	halved := publish(jpegOf(t, half, 90))
	other := publish(jpegOf(t, testphoto.Natural(800, 600, 4), 90))

	alike, err := f.svc.Resemblance.Resembling(ctx, img, 10)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for i, a := range alike {
		ids = append(ids, a.Image.ID)
		if a.Distance > core.DefaultNearDuplicateDistance || i > 0 && a.Distance < alike[i-1].Distance {
			t.Errorf("Resembling: %s at distance %d after %d; want them within %d, nearest first", a.Image.ID, a.Distance, alike[max(i-1, 0)].Distance, core.DefaultNearDuplicateDistance)
		}
	}
	if len(ids) != 2 || !slices.Contains(ids, reencoded.ID) || !slices.Contains(ids, halved.ID) {
		t.Fatalf("Resembling: got %v, want the re-encoded %s and half-size %s copies", ids, reencoded.ID, halved.ID)
	}
	if got, err := f.svc.Resemblance.Resembling(ctx, img, 1); err != nil || len(got) != 1 || got[0] != alike[0] {
		t.Errorf("Resembling, limit 1: got %+v, %v; want the nearest", got, err)
	}
	if got, err := f.svc.Resemblance.Resembling(ctx, core.Image{ID: "x"}, 10); err != nil || len(got) != 0 {
		t.Errorf("Resembling of an image without a hash: got %+v, %v; want none", got, err)
	}

	taken, err := f.svc.Moderation.TakeDownResembling(ctx, core.TakedownOrder{ID: img.ID, By: "cli:test", Reason: "campaign", Block: true},
		[]string{reencoded.ID, other.ID, halved.ID})
	if err != nil {
		t.Fatal(err)
	}
	var gone []string
	for _, i := range taken {
		gone = append(gone, i.ID)
	}
	if want := []string{reencoded.ID, halved.ID, img.ID}; !slices.Equal(gone, want) {
		t.Errorf("TakeDownResembling: took down %v, want %v", gone, want)
	}
	if _, err := f.db.Image(ctx, other.ID); err != nil {
		t.Errorf("the unrelated image: %v, want it still published", err)
	}
	for _, id := range []string{img.ID, reencoded.ID, halved.ID} {
		d, err := f.svc.Moderation.Deletion(ctx, id)
		if err != nil || d.Reason != "campaign" || d.By != "cli:test" || !d.Blocked {
			t.Errorf("takedown record of %s: got %+v, %v; want by cli:test for campaign, blocked", id, d, err)
		}
	}
	if _, err := f.svc.Moderation.TakeDownResembling(ctx, core.TakedownOrder{ID: img.ID, By: "cli:test", Reason: "again"}, nil); core.ErrorCode(err) != api.CodeNotFound {
		t.Errorf("TakeDownResembling of an image taken down: got %v, want NotFound", err)
	}
}
