package storetest

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"userimages/core"

	"github.com/userimages/userimages/client/api"
)

// MetadataStore is every metadata role of core (store.go) together: what
// an adapter such as sqlite or postgres implements, and this kit checks.
type MetadataStore interface {
	core.UploadStore
	core.UploadExpirer
	core.ImageReader
	core.ImageLister
	core.ImageHashLister
	core.ReferenceChecker
	core.BrandChecker
	core.BrandRegistry
	core.BrandRemover
	core.BlockChecker
	core.ModerationStore
	core.ReportStore
	core.AccountStore
	core.ErasureStore
	core.SessionStore
	core.SessionExpirer
	core.TakedownStore
	core.OutboxStore
	core.OutboxReader
	core.HashBlocklist
	core.FingerprintStore
	core.SignInFailureStore
	core.HostUserStore
	core.WebhookStore
}

// TestMetadataStore checks that the stores open returns keep the contract of
// core's metadata roles (store.go). open must return a fresh, empty store on each call; it
// is called once per subtest with that subtest's t, so it can register its
// cleanup there.
func TestMetadataStore(t *testing.T, open func(t *testing.T) MetadataStore) {
	t.Run("UploadRoundTrip", func(t *testing.T) { testUploadRoundTrip(t, open) })
	t.Run("UploadMissing", func(t *testing.T) { testUploadMissing(t, open) })
	t.Run("UploadDuplicate", func(t *testing.T) { testUploadDuplicate(t, open) })
	t.Run("ReceiveUpload", func(t *testing.T) { testReceiveUpload(t, open) })
	t.Run("ClaimUpload", func(t *testing.T) { testClaimUpload(t, open) })
	t.Run("ClaimDuplicateID", func(t *testing.T) { testClaimDuplicateID(t, open) })
	t.Run("ImageMissing", func(t *testing.T) { testImageMissing(t, open) })
	t.Run("ExpireUploads", func(t *testing.T) { testExpireUploads(t, open) })
	t.Run("RaceReceiveReceive", func(t *testing.T) { testRaceReceiveReceive(t, open) })
	t.Run("RaceReceiveClaim", func(t *testing.T) { testRaceReceiveClaim(t, open) })
	t.Run("RaceClaimClaim", func(t *testing.T) { testRaceClaimClaim(t, open) })
	t.Run("RaceClaimExpire", func(t *testing.T) { testRaceClaimExpire(t, open) })
	t.Run("RaceTakedownReceive", func(t *testing.T) { testRaceTakedownReceive(t, open) })
	t.Run("ImageSize", func(t *testing.T) { testImageSize(t, open) })
	t.Run("Brands", func(t *testing.T) { testBrands(t, open) })
	t.Run("DeleteBrand", func(t *testing.T) { testDeleteBrand(t, open) })
	t.Run("Users", func(t *testing.T) { testUsers(t, open) })
	t.Run("UserDuplicateEmail", func(t *testing.T) { testUserDuplicateEmail(t, open) })
	t.Run("UserMissing", func(t *testing.T) { testUserMissing(t, open) })
	t.Run("APITokens", func(t *testing.T) { testAPITokens(t, open) })
	t.Run("Accounts", func(t *testing.T) { testAccounts(t, open) })
	t.Run("ListImages", func(t *testing.T) { testListImages(t, open) })
	t.Run("DeleteImage", func(t *testing.T) { testDeleteImage(t, open) })
	t.Run("ListImagesConsole", func(t *testing.T) { testListImagesConsole(t, open) })
	t.Run("Sessions", func(t *testing.T) { testSessions(t, open) })
	t.Run("Reports", func(t *testing.T) { testReports(t, open) })
	t.Run("ErasePersonalData", func(t *testing.T) { testErasePersonalData(t, open) })
	t.Run("Blocklist", func(t *testing.T) { testBlocklist(t, open) })
	t.Run("PerceptualHashes", func(t *testing.T) { testPerceptualHashes(t, open) })
	t.Run("Fingerprints", func(t *testing.T) { testFingerprints(t, open) })
	t.Run("RaceFingerprintClaim", func(t *testing.T) { testRaceFingerprintClaim(t, open) })
	t.Run("ImageHashes", func(t *testing.T) { testImageHashes(t, open) })
	t.Run("SignInFailures", func(t *testing.T) { testSignInFailures(t, open) })
	t.Run("HostUsers", func(t *testing.T) { testHostUsers(t, open) })
	t.Run("RaceHostUser", func(t *testing.T) { testRaceHostUser(t, open) })
}

type openMeta = func(t *testing.T) MetadataStore

// base is a time with sub-microsecond digits, in a zone other than UTC, so
// that round trips check both the conversion to UTC and the precision.
var base = time.Date(2025, 3, 14, 15, 9, 26, 535897932, time.FixedZone("UTC+5:30", 5*3600+1800))

// checkTime fails t unless got is in UTC and equals want to the microsecond.
func checkTime(t *testing.T, what string, got, want time.Time) {
	t.Helper()
	if got.Location() != time.UTC {
		t.Errorf("%s: got location %v, want UTC", what, got.Location())
	}
	if d := got.Sub(want); d <= -time.Microsecond || d >= time.Microsecond {
		t.Errorf("%s: got %v, want %v to the microsecond", what, got, want.UTC())
	}
}

// checkRecord fails t unless got equals want, comparing the time createdAt
// points into with checkTime and every other field exactly.
func checkRecord[T comparable](t *testing.T, what string, got, want T, createdAt func(*T) *time.Time) {
	t.Helper()
	checkTime(t, what+": CreatedAt", *createdAt(&got), *createdAt(&want))
	*createdAt(&got), *createdAt(&want) = time.Time{}, time.Time{}
	if got != want {
		t.Errorf("%s: got %+v, want %+v", what, got, want)
	}
}

func checkUpload(t *testing.T, what string, got, want core.Upload) {
	t.Helper()
	checkRecord(t, what, got, want, func(u *core.Upload) *time.Time { return &u.CreatedAt })
}

func checkImage(t *testing.T, what string, got, want core.Image) {
	t.Helper()
	checkRecord(t, what, got, want, func(i *core.Image) *time.Time { return &i.CreatedAt })
}

func checkUser(t *testing.T, what string, got, want core.User) {
	t.Helper()
	checkTime(t, what+": CreatedAt", got.CreatedAt, want.CreatedAt)
	if got.ID != want.ID || got.Email != want.Email || !bytes.Equal(got.PasswordHash, want.PasswordHash) || got.Admin != want.Admin || got.Disabled != want.Disabled {
		t.Errorf("%s: got {ID:%d Email:%q PasswordHash:%q Admin:%v Disabled:%v}, want {ID:%d Email:%q PasswordHash:%q Admin:%v Disabled:%v}",
			what, got.ID, got.Email, got.PasswordHash, got.Admin, got.Disabled, want.ID, want.Email, want.PasswordHash, want.Admin, want.Disabled)
	}
	if got.Issuer != want.Issuer || got.Subject != want.Subject || got.Name != want.Name || got.ContactEmail != want.ContactEmail {
		t.Errorf("%s: got {Issuer:%q Subject:%q Name:%q ContactEmail:%q}, want {Issuer:%q Subject:%q Name:%q ContactEmail:%q}",
			what, got.Issuer, got.Subject, got.Name, got.ContactEmail, want.Issuer, want.Subject, want.Name, want.ContactEmail)
	}
}

func checkAPIToken(t *testing.T, what string, got, want core.APIToken) {
	t.Helper()
	checkTime(t, what+": CreatedAt", got.CreatedAt, want.CreatedAt)
	if want.LastUsed.IsZero() != got.LastUsed.IsZero() {
		t.Errorf("%s: LastUsed: got %v, want %v", what, got.LastUsed, want.LastUsed)
	} else if !want.LastUsed.IsZero() {
		checkTime(t, what+": LastUsed", got.LastUsed, want.LastUsed)
	}
	if got.ID != want.ID || got.Selector != want.Selector || got.UserID != want.UserID || !bytes.Equal(got.Hash, want.Hash) {
		t.Errorf("%s: got {ID:%q Selector:%q UserID:%d Hash:%q}, want {ID:%q Selector:%q UserID:%d Hash:%q}",
			what, got.ID, got.Selector, got.UserID, got.Hash, want.ID, want.Selector, want.UserID, want.Hash)
	}
}

// newUpload returns an upload for token n created at base+offset.
func newUpload(n int, offset time.Duration) core.Upload {
	return core.Upload{
		Token:       ulid(n),
		ContentType: api.PNG.MIME,
		FileSize:    int64(1000 + n),
		CreatedAt:   base.Add(offset),
		Uploader:    core.Uploader{UserID: int64(n), ClientAddr: "192.0.2.1"},
	}
}

// newImage returns the image claimed from up under id n.
func newImage(n int, up core.Upload) core.Image {
	return core.Image{
		ID:          imageID(n),
		Token:       up.Token,
		BrandID:     "brand1",
		ContentType: up.ContentType,
		Size:        up.FileSize,
		SHA256:      sha(n),
		CreatedAt:   base.Add(time.Hour + time.Duration(n)*time.Microsecond),
		Uploader:    up.Uploader,
	}
}

// mustUpload creates up in s or fails t now.
func mustUpload(t *testing.T, s MetadataStore, up core.Upload) {
	t.Helper()
	noErr(t, "CreateUpload("+up.Token+")", s.CreateUpload(t.Context(), up))
}

// received returns up received as the checked copy of image n.
func received(up core.Upload, n int) core.Upload {
	up.State, up.ImageID, up.Size, up.SHA256 = core.StateReceived, imageID(n), up.FileSize-int64(n), sha(n)
	return up
}

// sha returns a SHA-256 in hex, distinct for each n.
func sha(n int) string { return fmt.Sprintf("%064x", n) }

// claimOf asks to claim up for brand as of at, while it is valid, as its
// uploader.
func claimOf(up core.Upload, brand string, at time.Time) core.UploadClaim {
	return core.UploadClaim{Token: up.Token, BrandID: brand, Claimant: up.Uploader.UserID, NotBefore: up.CreatedAt, At: at}
}

// claimBy is claimOf by claimant.
func claimBy(up core.Upload, brand string, at time.Time, claimant int64) core.UploadClaim {
	c := claimOf(up, brand, at)
	c.Claimant = claimant
	return c
}

// mustPublish publishes img from up (received as img), or fails t now.
func mustPublish(t *testing.T, s MetadataStore, up core.Upload, img core.Image) {
	t.Helper()
	ctx := t.Context()
	noErr(t, "AddBrand", s.AddBrand(ctx, img.BrandID))
	up.ImageID, up.Size, up.SHA256, up.Width, up.Height = img.ID, img.Size, img.SHA256, img.Width, img.Height
	noErr(t, "ReceiveUpload("+up.Token+")", s.ReceiveUpload(ctx, up))
	got, err := s.ClaimUpload(ctx, claimOf(up, img.BrandID, img.CreatedAt))
	noErr(t, "ClaimUpload("+up.Token+")", err)
	checkImage(t, "ClaimUpload("+up.Token+")", got, img)
}

// testImageSize: the picture's size recorded at the PUT is kept with the
// received upload and published with it by the claim; an upload received
// without one (0×0: an image stored before sizes were kept) publishes none.
func testImageSize(t *testing.T, open openMeta) {
	s := open(t)
	ctx := t.Context()
	noErr(t, "AddBrand", s.AddBrand(ctx, "brand1"))
	sized := received(newUpload(1, 0), 1)
	sized.Width, sized.Height = 500, 375
	unsized := received(newUpload(2, 0), 2)
	for _, up := range []core.Upload{sized, unsized} {
		noErr(t, "ReceiveUpload("+up.Token+")", s.ReceiveUpload(ctx, up))
		checkUploadRow(t, s, up)
	}
	for _, up := range []core.Upload{sized, unsized} {
		want := newImage(0, up)
		want.ID, want.Size, want.SHA256, want.Width, want.Height = up.ImageID, up.Size, up.SHA256, up.Width, up.Height
		got, err := s.ClaimUpload(ctx, claimOf(up, "brand1", want.CreatedAt))
		noErr(t, "ClaimUpload("+up.Token+")", err)
		checkImage(t, "ClaimUpload", got, want)
		got, err = s.Image(ctx, want.ID)
		noErr(t, "Image("+want.ID+")", err)
		checkImage(t, "Image", got, want)
		if st := status(t, s, up.Token); st.Image == nil || st.Image.Width != up.Width || st.Image.Height != up.Height {
			t.Errorf("TokenStatus(%s).Image: got %+v, want %dx%d", up.Token, st.Image, up.Width, up.Height)
		}
	}
}

// status returns the status of token in s, or fails t now.
func status(t *testing.T, s MetadataStore, token string) core.TokenStatus {
	t.Helper()
	st, err := s.TokenStatus(t.Context(), token)
	noErr(t, "TokenStatus("+token+")", err)
	return st
}

// checkUploadRow fails t unless token's status is exactly the upload row
// want.
func checkUploadRow(t *testing.T, s MetadataStore, want core.Upload) {
	t.Helper()
	st := status(t, s, want.Token)
	if st.Upload == nil || st.Image != nil || st.TakenDown {
		t.Fatalf("TokenStatus(%s): got %+v, want only the upload row", want.Token, st)
	}
	checkUpload(t, "TokenStatus("+want.Token+").Upload", *st.Upload, want)
}

// checkClaimed fails t unless token's status is exactly the image want.
func checkClaimed(t *testing.T, s MetadataStore, want core.Image) {
	t.Helper()
	st := status(t, s, want.Token)
	if st.Image == nil || st.Upload != nil || st.TakenDown {
		t.Fatalf("TokenStatus(%s): got %+v, want only the image", want.Token, st)
	}
	checkImage(t, "TokenStatus("+want.Token+").Image", *st.Image, want)
	got, err := s.Image(t.Context(), want.ID)
	noErr(t, "Image", err)
	checkImage(t, "Image", got, want)
	checkReferenced(t, s, want.ID, true)
}

// checkNoUpload fails t unless s has no upload row for token.
func checkNoUpload(t *testing.T, s MetadataStore, token string) {
	t.Helper()
	if st := status(t, s, token); st.Upload != nil {
		t.Errorf("TokenStatus(%s).Upload: got %+v, want none", token, *st.Upload)
	}
}

// checkUnknown fails t unless nothing is recorded of token.
func checkUnknown(t *testing.T, s MetadataStore, token string) {
	t.Helper()
	if st := status(t, s, token); st != (core.TokenStatus{}) {
		t.Errorf("TokenStatus(%s): got %+v, want nothing", token, st)
	}
}

// checkReferenced fails t unless ImageReferenced(id) is want.
func checkReferenced(t *testing.T, s MetadataStore, id string, want bool) {
	t.Helper()
	if ok, err := s.ImageReferenced(t.Context(), id); err != nil || ok != want {
		t.Errorf("ImageReferenced(%s): got %v, %v, want %v, nil", id, ok, err, want)
	}
}

// checkNoImage fails t unless s has no image with this id.
func checkNoImage(t *testing.T, s MetadataStore, id string) {
	t.Helper()
	_, err := s.Image(t.Context(), id)
	wantErr(t, "Image("+id+")", err, core.ErrNotFound)
	checkReferenced(t, s, id, false)
}

func testUploadRoundTrip(t *testing.T, open openMeta) {
	s := open(t)
	ctx := t.Context()
	tests := []struct {
		name string
		up   core.Upload
	}{
		{"anonymous", core.Upload{Token: ulid(1), ContentType: api.JPEG.MIME, FileSize: 1, CreatedAt: base,
			Uploader: core.Uploader{ClientAddr: "198.51.100.7"}}},
		{"user", core.Upload{Token: ulid(2), ContentType: api.PNG.MIME, FileSize: 2_000_000, CreatedAt: base.Add(time.Nanosecond),
			Uploader: core.Uploader{UserID: 42, ClientAddr: "[2001:db8::1]:443"}}},
		{"utc-micro", core.Upload{Token: ulid(3), ContentType: api.WebP.MIME, FileSize: 12345, CreatedAt: time.UnixMicro(1741946966123456).UTC(),
			Uploader: core.Uploader{UserID: 1 << 40}}},
		{"empty-addr", core.Upload{Token: ulid(4), ContentType: api.GIF.MIME, FileSize: 7, CreatedAt: base.Add(999 * time.Nanosecond)}},
	}
	for _, tt := range tests {
		noErr(t, tt.name+": CreateUpload", s.CreateUpload(ctx, tt.up))
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := tt.up
			want.State = core.StateCreated
			checkUploadRow(t, s, want)
		})
	}
}

func testUploadMissing(t *testing.T, open openMeta) {
	s := open(t)
	checkUnknown(t, s, ulid(1))
	mustUpload(t, s, newUpload(2, 0))
	checkUnknown(t, s, ulid(1))
}

func testUploadDuplicate(t *testing.T, open openMeta) {
	s := open(t)
	ctx := t.Context()
	orig := newUpload(1, 0)
	mustUpload(t, s, orig)
	dup := core.Upload{Token: orig.Token, ContentType: api.GIF.MIME, FileSize: 99, CreatedAt: base.Add(time.Minute),
		Uploader: core.Uploader{UserID: 7, ClientAddr: "203.0.113.9"}}
	wantErr(t, "CreateUpload of an existing token", s.CreateUpload(ctx, dup), core.ErrExist)
	orig.State = core.StateCreated
	checkUploadRow(t, s, orig)
}

// testReceiveUpload: the transitions into received, and the ones refused.
func testReceiveUpload(t *testing.T, open openMeta) {
	s := open(t)
	ctx := t.Context()
	noErr(t, "AddBrand", s.AddBrand(ctx, "brand1"))

	// none → received, as on the embedded default.
	fresh := received(newUpload(1, 0), 1)
	noErr(t, "ReceiveUpload of a new token", s.ReceiveUpload(ctx, fresh))
	checkUploadRow(t, s, fresh)
	checkReferenced(t, s, fresh.ImageID, true)

	// created → received, as when a claim checks an object store's bytes.
	created := newUpload(2, 0)
	mustUpload(t, s, created)
	rec := received(created, 2)
	noErr(t, "ReceiveUpload of a created upload", s.ReceiveUpload(ctx, rec))
	checkUploadRow(t, s, rec)

	// received → received is refused, the first copy kept.
	again := received(newUpload(1, time.Minute), 3)
	wantErr(t, "ReceiveUpload of a received upload", s.ReceiveUpload(ctx, again), core.ErrExist)
	checkUploadRow(t, s, fresh)
	checkReferenced(t, s, again.ImageID, false)

	// A claimed token, even with its row gone, is never received again.
	img, err := s.ClaimUpload(ctx, claimOf(fresh, "brand1", base.Add(time.Hour)))
	noErr(t, "ClaimUpload", err)
	wantErr(t, "ReceiveUpload of a claimed token", s.ReceiveUpload(ctx, again), core.ErrExist)
	checkClaimed(t, s, img)

	// Nor is one whose image was taken down.
	noErr(t, "DeleteImage", s.DeleteImage(ctx, core.Deletion{Image: img, By: "test", Reason: "spam", At: base.Add(2 * time.Hour)}))
	wantErr(t, "ReceiveUpload of a taken-down token", s.ReceiveUpload(ctx, again), core.ErrExist)
	if st := status(t, s, img.Token); st != (core.TokenStatus{TakenDown: true, TakenDownUploader: img.Uploader.UserID}) {
		t.Errorf("TokenStatus after the takedown: got %+v, want only TakenDown, by uploader %d", st, img.Uploader.UserID)
	}
}

// testClaimUpload: received → claimed, and every condition that refuses
// it changing nothing.
func testClaimUpload(t *testing.T, open openMeta) {
	s := open(t)
	ctx := t.Context()
	noErr(t, "AddBrand", s.AddBrand(ctx, "brand1"))
	up := received(newUpload(1, 0), 1)
	noErr(t, "ReceiveUpload", s.ReceiveUpload(ctx, up))
	created := newUpload(2, 0)
	mustUpload(t, s, created)
	blocked := received(newUpload(3, 0), 3)
	noErr(t, "ReceiveUpload", s.ReceiveUpload(ctx, blocked))
	noErr(t, "Block", blockSHA(t, s, blocked.SHA256))

	refused := []struct {
		name  string
		claim core.UploadClaim
	}{
		{"unknown token", claimOf(newUpload(9, 0), "brand1", base)},
		{"created, not received", claimOf(created, "brand1", base)},
		{"expired", core.UploadClaim{Token: up.Token, BrandID: "brand1", Claimant: up.Uploader.UserID, NotBefore: up.CreatedAt.Add(time.Second), At: base}},
		{"a signed-in user's upload, claimed by another", claimBy(up, "brand1", base, up.Uploader.UserID+1)},
		{"a signed-in user's upload, claimed anonymously", claimBy(up, "brand1", base, 0)},
		{"unknown brand", claimOf(up, "brand2", base)},
		{"blocklisted bytes", claimOf(blocked, "brand1", base)},
	}
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			_, err := s.ClaimUpload(ctx, tt.claim)
			wantErr(t, "ClaimUpload", err, core.ErrNotFound)
		})
	}
	checkUploadRow(t, s, up)
	checkNoImage(t, s, imageID(9))
	created.State = core.StateCreated
	checkUploadRow(t, s, created)
	checkUploadRow(t, s, blocked)

	// At the very start of its window it is claimed, with what was received.
	at := base.Add(time.Hour)
	img, err := s.ClaimUpload(ctx, claimOf(up, "brand1", at))
	noErr(t, "ClaimUpload", err)
	want := core.Image{ID: up.ImageID, Token: up.Token, BrandID: "brand1", ContentType: up.ContentType, Size: up.Size,
		SHA256: up.SHA256, CreatedAt: at, Uploader: up.Uploader}
	checkImage(t, "ClaimUpload", img, want)
	checkClaimed(t, s, want)
	_, err = s.ClaimUpload(ctx, claimOf(up, "brand1", at))
	wantErr(t, "ClaimUpload again", err, core.ErrNotFound)
	checkClaimed(t, s, want)

	// An anonymous upload is claimed by whoever holds its token, as on
	// Zendesk.
	anonymous := received(newUpload(4, 0), 4)
	anonymous.Uploader.UserID = 0
	noErr(t, "ReceiveUpload", s.ReceiveUpload(ctx, anonymous))
	img, err = s.ClaimUpload(ctx, claimBy(anonymous, "brand1", at, 7))
	noErr(t, "ClaimUpload of an anonymous upload by a user", err)
	if img.Uploader != anonymous.Uploader {
		t.Errorf("ClaimUpload of an anonymous upload: got uploader %+v, want the upload's %+v", img.Uploader, anonymous.Uploader)
	}
}

// blockSHA blocklists sha256 through a takedown of an image holding it.
func blockSHA(t *testing.T, s MetadataStore, sha256 string) error {
	t.Helper()
	up := newUpload(90, 0)
	img := newImage(90, up)
	img.SHA256 = sha256
	mustPublish(t, s, up, img)
	return s.DeleteImage(t.Context(), core.Deletion{Image: img, By: "test", Reason: "blocked by the kit", Blocked: true, At: base})
}

// testClaimDuplicateID: an image id already published refuses the claim
// (ErrExist) and changes nothing.
func testClaimDuplicateID(t *testing.T, open openMeta) {
	s := open(t)
	ctx := t.Context()
	up1 := newUpload(1, 0)
	first := newImage(1, up1)
	mustPublish(t, s, up1, first)

	up2 := received(newUpload(2, time.Second), 1) // the id of image 1
	noErr(t, "ReceiveUpload", s.ReceiveUpload(ctx, up2))
	_, err := s.ClaimUpload(ctx, claimOf(up2, "brand1", base.Add(time.Hour)))
	wantErr(t, "ClaimUpload onto an existing id", err, core.ErrExist)
	checkClaimed(t, s, first)
	checkUploadRow(t, s, up2)
}

func testImageMissing(t *testing.T, open openMeta) {
	s := open(t)
	checkNoImage(t, s, imageID(9))
	checkUnknown(t, s, ulid(9))
	up := newUpload(1, 0)
	mustPublish(t, s, up, newImage(1, up))
	checkNoImage(t, s, imageID(9))
	checkUnknown(t, s, ulid(9))
}

func testExpireUploads(t *testing.T, open openMeta) {
	ctx := t.Context()
	tests := []struct {
		name   string
		cutoff time.Time
		limit  int
		want   []int
	}{
		{"before-all", base.Add(-time.Minute), 10, nil},
		{"at-oldest", base, 10, nil},
		{"just-after-oldest", base.Add(time.Microsecond), 10, []int{0}},
		{"three", base.Add(3 * time.Minute), 10, []int{0, 1, 2}},
		{"limit", base.Add(3 * time.Minute), 2, []int{0, 1}},
		{"limit-one", base.Add(time.Hour), 1, []int{0}},
		{"all", base.Add(time.Hour), 10, []int{0, 1, 2, 3, 4}},
		{"limit-exact", base.Add(time.Hour), 5, []int{0, 1, 2, 3, 4}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := open(t)
			// Tokens 0..4 created a minute apart, inserted out of order;
			// the odd ones received.
			ups := map[int]core.Upload{}
			for _, i := range []int{3, 0, 4, 1, 2} {
				up := newUpload(i, time.Duration(i)*time.Minute)
				if i%2 == 1 {
					up = received(up, i)
					noErr(t, "ReceiveUpload", s.ReceiveUpload(ctx, up))
				} else {
					mustUpload(t, s, up)
					up.State = core.StateCreated
				}
				ups[i] = up
			}
			// Token 5 is the oldest but claimed: never expired.
			old := newUpload(5, -time.Hour)
			mustPublish(t, s, old, newImage(5, old))

			got, err := s.ExpireUploads(ctx, tt.cutoff, tt.limit)
			noErr(t, "ExpireUploads", err)
			if len(got) != len(tt.want) {
				t.Fatalf("ExpireUploads(%v, %d): got %d uploads, want %d", tt.cutoff, tt.limit, len(got), len(tt.want))
			}
			slices.SortFunc(got, func(a, b core.Upload) int { return strings.Compare(a.Token, b.Token) })
			for k, i := range tt.want {
				checkUpload(t, "ExpireUploads", got[k], ups[i])
				checkNoUpload(t, s, ups[i].Token)
				delete(ups, i)
			}
			for _, up := range ups {
				checkUploadRow(t, s, up)
			}
			checkClaimed(t, s, newImage(5, old))
		})
	}
}

// raceRuns is how many times each race is run: races are found by running
// them often, under -race.
const raceRuns = 25

// race runs each of fns once, all at once, and returns their errors.
func race(fns ...func() error) []error {
	errs := make([]error, len(fns))
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i, fn := range fns {
		wg.Go(func() {
			<-start
			errs[i] = fn()
		})
	}
	close(start)
	wg.Wait()
	return errs
}

// winner returns the index of the one nil error among errs, failing t
// unless there is exactly one and every other matches one of losers.
func winner(t *testing.T, what string, errs []error, losers ...error) int {
	t.Helper()
	won := -1
	for i, err := range errs {
		switch {
		case err == nil && won < 0:
			won = i
		case err == nil:
			t.Errorf("%s %d: got nil, but %d won already", what, i, won)
		case !errorsIsAny(err, losers...):
			t.Errorf("%s %d: got error %v, want nil or one of %v", what, i, err, losers)
		}
	}
	if won < 0 {
		t.Fatalf("%s: got no winner among %d, want exactly one", what, len(errs))
	}
	return won
}

// testRaceReceiveReceive: PUTs of one URL at once record exactly one copy.
func testRaceReceiveReceive(t *testing.T, open openMeta) {
	s := open(t)
	for run := range raceRuns {
		up := newUpload(run, 0)
		var fns []func() error
		for i := range 4 {
			fns = append(fns, func() error { return s.ReceiveUpload(t.Context(), received(up, 100*run+i)) })
		}
		won := winner(t, "ReceiveUpload", race(fns...), core.ErrExist)
		checkUploadRow(t, s, received(up, 100*run+won))
		for i := range 4 {
			checkReferenced(t, s, imageID(100*run+i), i == won)
		}
	}
}

// testRaceReceiveClaim: a replayed PUT racing the claim of its token's
// first copy never replaces that copy, and the claim publishes it.
func testRaceReceiveClaim(t *testing.T, open openMeta) {
	s := open(t)
	noErr(t, "AddBrand", s.AddBrand(t.Context(), "brand1"))
	for run := range raceRuns {
		up := received(newUpload(run, 0), 100*run)
		noErr(t, "ReceiveUpload", s.ReceiveUpload(t.Context(), up))
		var img core.Image
		errs := race(
			func() error { return s.ReceiveUpload(t.Context(), received(up, 100*run+1)) },
			func() (err error) { img, err = s.ClaimUpload(t.Context(), claimOf(up, "brand1", base)); return err },
		)
		noErr(t, "ClaimUpload", errs[1])
		if img.ID != up.ImageID {
			t.Errorf("ClaimUpload: got image %s, want the first copy %s", img.ID, up.ImageID)
		}
		// The replay lost, or (PostgreSQL) recorded a copy that can never
		// be claimed.
		if errs[0] == nil {
			_, err := s.ClaimUpload(t.Context(), claimOf(up, "brand1", base))
			wantErr(t, "ClaimUpload of the replay's copy", err, core.ErrExist)
		} else {
			wantErr(t, "ReceiveUpload racing the claim", errs[0], core.ErrExist)
		}
		st := status(t, s, up.Token)
		if st.Image == nil || st.Image.ID != up.ImageID {
			t.Errorf("TokenStatus: got %+v, want the image %s", st, up.ImageID)
		}
	}
}

// testRaceClaimClaim: claims of one upload at once publish it once.
func testRaceClaimClaim(t *testing.T, open openMeta) {
	s := open(t)
	brands := []string{"brand1", "brand2", "brand3", "brand4"}
	for _, b := range brands {
		noErr(t, "AddBrand", s.AddBrand(t.Context(), b))
	}
	for run := range raceRuns {
		up := received(newUpload(run, 0), run)
		noErr(t, "ReceiveUpload", s.ReceiveUpload(t.Context(), up))
		imgs := make([]core.Image, len(brands))
		var fns []func() error
		for i, b := range brands {
			fns = append(fns, func() (err error) { imgs[i], err = s.ClaimUpload(t.Context(), claimOf(up, b, base)); return err })
		}
		won := winner(t, "ClaimUpload", race(fns...), core.ErrNotFound, core.ErrExist)
		checkClaimed(t, s, imgs[won])
		if imgs[won].BrandID != brands[won] {
			t.Errorf("ClaimUpload %d: got brand %s, want %s", won, imgs[won].BrandID, brands[won])
		}
	}
}

// testRaceClaimExpire: a claim and the sweeper, on clocks that disagree
// about whether the upload expired, never both take it.
func testRaceClaimExpire(t *testing.T, open openMeta) {
	s := open(t)
	noErr(t, "AddBrand", s.AddBrand(t.Context(), "brand1"))
	for run := range raceRuns {
		up := received(newUpload(run, 0), run)
		noErr(t, "ReceiveUpload", s.ReceiveUpload(t.Context(), up))
		var expired []core.Upload
		errs := race(
			func() error { _, err := s.ClaimUpload(t.Context(), claimOf(up, "brand1", base)); return err },
			func() (err error) {
				expired, err = s.ExpireUploads(t.Context(), up.CreatedAt.Add(time.Microsecond), 10)
				return err
			},
		)
		noErr(t, "ExpireUploads", errs[1])
		claimed := errs[0] == nil
		if !claimed {
			wantErr(t, "ClaimUpload racing the sweeper", errs[0], core.ErrNotFound)
		}
		if swept := len(expired) == 1; swept == claimed || len(expired) > 1 {
			t.Fatalf("run %d: claimed %v and expired %d uploads, want exactly one of them to take it", run, claimed, len(expired))
		}
		if claimed {
			checkReferenced(t, s, up.ImageID, true)
		} else {
			checkUnknown(t, s, up.Token)
			checkReferenced(t, s, up.ImageID, false)
		}
	}
}

// testRaceTakedownReceive: a PUT replayed while the token's image is
// taken down never records the token again.
func testRaceTakedownReceive(t *testing.T, open openMeta) {
	s := open(t)
	for run := range raceRuns {
		up := newUpload(run, 0)
		img := newImage(run, up)
		mustPublish(t, s, up, img)
		errs := race(
			func() error { return s.ReceiveUpload(t.Context(), received(up, 100+run)) },
			func() error {
				return s.DeleteImage(t.Context(), core.Deletion{Image: img, By: "test", Reason: "spam", At: base})
			},
		)
		wantErr(t, "ReceiveUpload racing a takedown", errs[0], core.ErrExist)
		noErr(t, "DeleteImage", errs[1])
		if st := status(t, s, up.Token); st != (core.TokenStatus{TakenDown: true, TakenDownUploader: img.Uploader.UserID}) {
			t.Errorf("TokenStatus: got %+v, want only TakenDown, by uploader %d", st, img.Uploader.UserID)
		}
	}
}

func testBrands(t *testing.T, open openMeta) {
	s := open(t)
	ctx := t.Context()
	got, err := s.Brands(ctx)
	noErr(t, "Brands of an empty store", err)
	if len(got) != 0 {
		t.Errorf("Brands of an empty store: got %q, want none", got)
	}
	if ok, err := s.BrandExists(ctx, "acme"); err != nil || ok {
		t.Errorf("BrandExists of an empty store: got %v, %v, want false, nil", ok, err)
	}
	for _, id := range []string{"globex", "acme", "initech", "acme", "Acme", "globex"} {
		noErr(t, "AddBrand("+id+")", s.AddBrand(ctx, id))
	}
	got, err = s.Brands(ctx)
	noErr(t, "Brands", err)
	if want := []string{"Acme", "acme", "globex", "initech"}; !slices.Equal(got, want) {
		t.Errorf("Brands: got %q, want %q", got, want)
	}
	for id, want := range map[string]bool{"acme": true, "Acme": true, "initech": true, "umbrella": false, "": false} {
		if ok, err := s.BrandExists(ctx, id); err != nil || ok != want {
			t.Errorf("BrandExists(%q): got %v, %v, want %v, nil", id, ok, err, want)
		}
	}
}

func testUsers(t *testing.T, open openMeta) {
	s := open(t)
	ctx := t.Context()
	users := []core.User{
		{Email: "ann@example.com", PasswordHash: []byte("$2a$10$annannannannannannannuV3ZQ0f7yUe"), CreatedAt: base},
		{Email: "bob@example.com", PasswordHash: []byte{0, 1, 2, 0xff}, CreatedAt: base.Add(time.Nanosecond)},
		{Email: "cy@example.org", PasswordHash: []byte("x"), Admin: true, CreatedAt: base.Add(time.Hour)},
	}
	seen := map[int64]string{}
	for i := range users {
		id, err := s.AddUser(ctx, users[i])
		noErr(t, "AddUser("+users[i].Email+")", err)
		if id == 0 {
			t.Errorf("AddUser(%s): got id 0, which means anonymous", users[i].Email)
		}
		if other, ok := seen[id]; ok {
			t.Errorf("AddUser(%s): got id %d, already given to %s", users[i].Email, id, other)
		}
		seen[id] = users[i].Email
		users[i].ID = id
	}
	for _, u := range users {
		got, err := s.User(ctx, u.ID)
		noErr(t, "User", err)
		checkUser(t, "User", got, u)
		got, err = s.UserByEmail(ctx, u.Email)
		noErr(t, "UserByEmail", err)
		checkUser(t, "UserByEmail", got, u)
	}
}

func testUserDuplicateEmail(t *testing.T, open openMeta) {
	s := open(t)
	ctx := t.Context()
	orig := core.User{Email: "ann@example.com", PasswordHash: []byte("first"), CreatedAt: base}
	id, err := s.AddUser(ctx, orig)
	noErr(t, "AddUser", err)
	orig.ID = id
	_, err = s.AddUser(ctx, core.User{Email: orig.Email, PasswordHash: []byte("second"), CreatedAt: base.Add(time.Hour)})
	wantErr(t, "AddUser of a taken email", err, core.ErrExist)
	got, err := s.UserByEmail(ctx, orig.Email)
	noErr(t, "UserByEmail", err)
	checkUser(t, "UserByEmail after the duplicate", got, orig)

	// A later user still gets a fresh id.
	id2, err := s.AddUser(ctx, core.User{Email: "bob@example.com", PasswordHash: []byte("b"), CreatedAt: base})
	noErr(t, "AddUser after the duplicate", err)
	if id2 == id {
		t.Errorf("AddUser after the duplicate: got id %d, the same as the first user's", id2)
	}
}

func testUserMissing(t *testing.T, open openMeta) {
	s := open(t)
	ctx := t.Context()
	check := func(what string) {
		t.Helper()
		_, err := s.UserByEmail(ctx, "nobody@example.com")
		wantErr(t, what+": UserByEmail of a missing email", err, core.ErrNotFound)
		for _, id := range []int64{0, -1, 12345} {
			_, err := s.User(ctx, id)
			wantErr(t, what+": User of a missing id", err, core.ErrNotFound)
		}
	}
	check("empty store")
	_, err := s.AddUser(ctx, core.User{Email: "ann@example.com", PasswordHash: []byte("h"), CreatedAt: base})
	noErr(t, "AddUser", err)
	check("with a user")
}

func testAPITokens(t *testing.T, open openMeta) {
	s := open(t)
	ctx := t.Context()
	_, err := s.APITokenBySelector(ctx, "sel1")
	wantErr(t, "APITokenBySelector of an empty store", err, core.ErrNotFound)

	uid, err := s.AddUser(ctx, core.User{Email: "ann@example.com", PasswordHash: []byte("h"), CreatedAt: base})
	noErr(t, "AddUser", err)
	// A token's id and its selector are two columns: lists and
	// revocations name it by id, authentication finds it by selector.
	tokens := []core.APIToken{
		{ID: "tok_1", Selector: "sel1", UserID: uid, Hash: []byte{0xde, 0xad, 0xbe, 0xef, 0}, CreatedAt: base},
		{ID: "tok_2", Selector: "sel2", UserID: uid, Hash: []byte("another hash"), CreatedAt: base.Add(time.Nanosecond)},
	}
	for _, tok := range tokens {
		noErr(t, "AddAPIToken("+tok.ID+")", s.AddAPIToken(ctx, tok))
	}
	dup := core.APIToken{ID: "tok_1", Selector: "sel3", UserID: uid, Hash: []byte("replaced"), CreatedAt: base.Add(time.Hour)}
	wantErr(t, "AddAPIToken of an existing id", s.AddAPIToken(ctx, dup), core.ErrExist)
	dup = core.APIToken{ID: "tok_3", Selector: "sel1", UserID: uid, Hash: []byte("replaced"), CreatedAt: base.Add(time.Hour)}
	wantErr(t, "AddAPIToken of an existing selector", s.AddAPIToken(ctx, dup), core.ErrExist)
	for _, tok := range tokens {
		got, err := s.APITokenBySelector(ctx, tok.Selector)
		noErr(t, "APITokenBySelector("+tok.Selector+")", err)
		checkAPIToken(t, "APITokenBySelector", got, tok)
	}
	for _, missing := range []string{"sel3", "tok_1", ""} {
		_, err = s.APITokenBySelector(ctx, missing)
		wantErr(t, "APITokenBySelector("+missing+"), no token's selector", err, core.ErrNotFound)
	}
	if list, err := s.APITokens(ctx, uid); err != nil || len(list) != 2 {
		t.Fatalf("APITokens: got %v, %v, want 2 tokens", list, err)
	} else {
		checkAPIToken(t, "APITokens[0]", list[0], tokens[0])
	}
	noErr(t, "DeleteAPIToken by id", s.DeleteAPIToken(ctx, "tok_1"))
	_, err = s.APITokenBySelector(ctx, "sel1")
	wantErr(t, "APITokenBySelector of a revoked token", err, core.ErrNotFound)
	wantErr(t, "DeleteAPIToken by selector", s.DeleteAPIToken(ctx, "sel2"), core.ErrNotFound)
}

// testAccounts: listing users, disabling one, listing, touching and
// deleting API tokens, each at once visible to every reader.
func testAccounts(t *testing.T, open openMeta) {
	s := open(t)
	ctx := t.Context()
	users, err := s.Users(ctx)
	noErr(t, "Users of an empty store", err)
	if len(users) != 0 {
		t.Errorf("Users of an empty store: got %d, want none", len(users))
	}
	ann := core.User{Email: "ann@example.com", PasswordHash: []byte("h1"), CreatedAt: base}
	bob := core.User{Email: "bob@example.com", PasswordHash: []byte("h2"), Admin: true, CreatedAt: base.Add(time.Second), Disabled: true}
	ann.ID, err = s.AddUser(ctx, ann)
	noErr(t, "AddUser(ann)", err)
	bob.ID, err = s.AddUser(ctx, bob)
	noErr(t, "AddUser(bob, disabled)", err)
	users, err = s.Users(ctx)
	noErr(t, "Users", err)
	if len(users) != 2 {
		t.Fatalf("Users: got %d, want 2", len(users))
	}
	checkUser(t, "Users[0]", users[0], ann)
	checkUser(t, "Users[1]", users[1], bob)

	noErr(t, "DisableUser(ann)", s.DisableUser(ctx, ann.ID))
	ann.Disabled = true
	got, err := s.User(ctx, ann.ID)
	noErr(t, "User(ann)", err)
	checkUser(t, "User after DisableUser", got, ann)
	noErr(t, "DisableUser twice", s.DisableUser(ctx, ann.ID))
	wantErr(t, "DisableUser of a missing user", s.DisableUser(ctx, 999_999), core.ErrNotFound)
	noErr(t, "EnableUser(ann)", s.EnableUser(ctx, ann.ID))
	ann.Disabled = false
	got, err = s.User(ctx, ann.ID)
	noErr(t, "User(ann)", err)
	checkUser(t, "User after EnableUser", got, ann)
	wantErr(t, "EnableUser of a missing user", s.EnableUser(ctx, 999_999), core.ErrNotFound)
	noErr(t, "SetPasswordHash(ann)", s.SetPasswordHash(ctx, ann.ID, []byte("h3")))
	ann.PasswordHash = []byte("h3")
	got, err = s.UserByEmail(ctx, ann.Email)
	noErr(t, "UserByEmail(ann)", err)
	checkUser(t, "User after SetPasswordHash", got, ann)
	if bobNow, err := s.User(ctx, bob.ID); err != nil || string(bobNow.PasswordHash) != "h2" {
		t.Errorf("bob after SetPasswordHash(ann): got %q, %v; want his hash h2 unchanged", bobNow.PasswordHash, err)
	}
	wantErr(t, "SetPasswordHash of a missing user", s.SetPasswordHash(ctx, 999_999, []byte("h")), core.ErrNotFound)

	tokens := []core.APIToken{
		{ID: "tokb", Selector: "selb", UserID: ann.ID, Hash: []byte("1"), CreatedAt: base},
		{ID: "toka", Selector: "sela", UserID: ann.ID, Hash: []byte("2"), CreatedAt: base.Add(time.Minute)},
		{ID: "tokc", Selector: "selc", UserID: bob.ID, Hash: []byte("3"), CreatedAt: base},
	}
	for _, tok := range tokens {
		noErr(t, "AddAPIToken("+tok.ID+")", s.AddAPIToken(ctx, tok))
	}
	list, err := s.APITokens(ctx, ann.ID)
	noErr(t, "APITokens(ann)", err)
	if len(list) != 2 {
		t.Fatalf("APITokens(ann): got %d, want 2", len(list))
	}
	checkAPIToken(t, "APITokens[0]", list[0], tokens[0])
	checkAPIToken(t, "APITokens[1]", list[1], tokens[1])

	used := base.Add(time.Hour)
	noErr(t, "TouchAPIToken", s.TouchAPIToken(ctx, "tokb", used))
	noErr(t, "TouchAPIToken earlier", s.TouchAPIToken(ctx, "tokb", used.Add(-time.Minute)))
	noErr(t, "TouchAPIToken of a missing token", s.TouchAPIToken(ctx, "nope", used))
	tok, err := s.APITokenBySelector(ctx, "selb")
	noErr(t, "APITokenBySelector(selb)", err)
	tokens[0].LastUsed = used
	checkAPIToken(t, "APIToken after TouchAPIToken", tok, tokens[0])

	noErr(t, "DeleteAPIToken", s.DeleteAPIToken(ctx, "tokb"))
	_, err = s.APITokenBySelector(ctx, "selb")
	wantErr(t, "APITokenBySelector after DeleteAPIToken", err, core.ErrNotFound)
	wantErr(t, "DeleteAPIToken twice", s.DeleteAPIToken(ctx, "tokb"), core.ErrNotFound)
	if list, err := s.APITokens(ctx, ann.ID); err != nil || len(list) != 1 || list[0].ID != "toka" {
		t.Errorf("APITokens after DeleteAPIToken: got %v, %v; want toka only", list, err)
	}
}

// testDeleteBrand: a brand is deleted only while no image has it.
func testDeleteBrand(t *testing.T, open openMeta) {
	s := open(t)
	ctx := t.Context()
	wantErr(t, "DeleteBrand of a missing brand", s.DeleteBrand(ctx, "brand1"), core.ErrNotFound)
	up := newUpload(1, 0)
	mustUpload(t, s, up)
	img := newImage(1, up)
	mustPublish(t, s, up, img) // adds brand1
	noErr(t, "AddBrand(empty)", s.AddBrand(ctx, "empty"))
	wantErr(t, "DeleteBrand of a brand with an image", s.DeleteBrand(ctx, "brand1"), core.ErrExist)
	if ok, err := s.BrandExists(ctx, "brand1"); err != nil || !ok {
		t.Errorf("BrandExists after a refused DeleteBrand: got %v, %v, want true", ok, err)
	}
	noErr(t, "DeleteBrand(empty)", s.DeleteBrand(ctx, "empty"))
	noErr(t, "DeleteImage", s.DeleteImage(ctx, core.Deletion{Image: img, By: "test", Reason: "brand removed", At: base.Add(2 * time.Hour)}))
	noErr(t, "DeleteBrand once its image is gone", s.DeleteBrand(ctx, "brand1"))
	if got, err := s.Brands(ctx); err != nil || len(got) != 0 {
		t.Errorf("Brands after DeleteBrand: got %q, %v; want none", got, err)
	}
}
