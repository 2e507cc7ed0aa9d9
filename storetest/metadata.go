package storetest

import (
	"bytes"
	"slices"
	"sync"
	"testing"
	"time"

	"userimages/core"
)

// TestMetadataStore checks that the stores open returns keep the contract of
// core.MetadataStore. open must return a fresh, empty store on each call; it
// is called once per subtest with that subtest's t, so it can register its
// cleanup there.
func TestMetadataStore(t *testing.T, open func(t *testing.T) core.MetadataStore) {
	t.Run("UploadRoundTrip", func(t *testing.T) { testUploadRoundTrip(t, open) })
	t.Run("UploadMissing", func(t *testing.T) { testUploadMissing(t, open) })
	t.Run("UploadDuplicate", func(t *testing.T) { testUploadDuplicate(t, open) })
	t.Run("PublishImage", func(t *testing.T) { testPublishImage(t, open) })
	t.Run("ImageMissing", func(t *testing.T) { testImageMissing(t, open) })
	t.Run("PublishDuplicateToken", func(t *testing.T) { testPublishDuplicateToken(t, open) })
	t.Run("PublishDuplicateID", func(t *testing.T) { testPublishDuplicateID(t, open) })
	t.Run("PublishUploadGone", func(t *testing.T) { testPublishUploadGone(t, open) })
	t.Run("PublishConcurrent", func(t *testing.T) { testPublishConcurrent(t, open) })
	t.Run("DeleteExpiredUpload", func(t *testing.T) { testDeleteExpiredUpload(t, open) })
	t.Run("ExpiredUploads", func(t *testing.T) { testExpiredUploads(t, open) })
	t.Run("Brands", func(t *testing.T) { testBrands(t, open) })
	t.Run("Users", func(t *testing.T) { testUsers(t, open) })
	t.Run("UserDuplicateEmail", func(t *testing.T) { testUserDuplicateEmail(t, open) })
	t.Run("UserMissing", func(t *testing.T) { testUserMissing(t, open) })
	t.Run("APITokens", func(t *testing.T) { testAPITokens(t, open) })
	t.Run("ListImages", func(t *testing.T) { testListImages(t, open) })
	t.Run("DeleteImage", func(t *testing.T) { testDeleteImage(t, open) })
}

type openMeta = func(t *testing.T) core.MetadataStore

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
	if got.ID != want.ID || got.Email != want.Email || !bytes.Equal(got.PasswordHash, want.PasswordHash) || got.Admin != want.Admin {
		t.Errorf("%s: got {ID:%d Email:%q PasswordHash:%q Admin:%v}, want {ID:%d Email:%q PasswordHash:%q Admin:%v}",
			what, got.ID, got.Email, got.PasswordHash, got.Admin, want.ID, want.Email, want.PasswordHash, want.Admin)
	}
}

func checkAPIToken(t *testing.T, what string, got, want core.APIToken) {
	t.Helper()
	checkTime(t, what+": CreatedAt", got.CreatedAt, want.CreatedAt)
	if got.ID != want.ID || got.UserID != want.UserID || !bytes.Equal(got.Hash, want.Hash) {
		t.Errorf("%s: got {ID:%q UserID:%d Hash:%q}, want {ID:%q UserID:%d Hash:%q}",
			what, got.ID, got.UserID, got.Hash, want.ID, want.UserID, want.Hash)
	}
}

// newUpload returns an upload for token n created at base+offset.
func newUpload(n int, offset time.Duration) core.Upload {
	return core.Upload{
		Token:       ulid(n),
		ContentType: "image/png",
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
		SHA256:      "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
		CreatedAt:   base.Add(time.Hour + time.Duration(n)*time.Microsecond),
		Uploader:    up.Uploader,
	}
}

// mustUpload creates up in s or fails t now.
func mustUpload(t *testing.T, s core.MetadataStore, up core.Upload) {
	t.Helper()
	noErr(t, "CreateUpload("+up.Token+")", s.CreateUpload(t.Context(), up))
}

// mustPublish creates up and publishes img from it, or fails t now.
func mustPublish(t *testing.T, s core.MetadataStore, up core.Upload, img core.Image) {
	t.Helper()
	mustUpload(t, s, up)
	noErr(t, "PublishImage("+img.ID+")", s.PublishImage(t.Context(), img))
}

// checkNoUpload fails t unless s has no upload row for token.
func checkNoUpload(t *testing.T, s core.MetadataStore, token string) {
	t.Helper()
	_, err := s.Upload(t.Context(), token)
	wantErr(t, "Upload("+token+")", err, core.ErrNotFound)
}

// checkNoImage fails t unless s has no image with this id.
func checkNoImage(t *testing.T, s core.MetadataStore, id string) {
	t.Helper()
	_, err := s.Image(t.Context(), id)
	wantErr(t, "Image("+id+")", err, core.ErrNotFound)
	ok, err := s.ImageExists(t.Context(), id)
	if err != nil || ok {
		t.Errorf("ImageExists(%s): got %v, %v, want false, nil", id, ok, err)
	}
}

func testUploadRoundTrip(t *testing.T, open openMeta) {
	s := open(t)
	ctx := t.Context()
	tests := []struct {
		name string
		up   core.Upload
	}{
		{"anonymous", core.Upload{Token: ulid(1), ContentType: "image/jpeg", FileSize: 1, CreatedAt: base,
			Uploader: core.Uploader{ClientAddr: "198.51.100.7"}}},
		{"user", core.Upload{Token: ulid(2), ContentType: "image/png", FileSize: 2_000_000, CreatedAt: base.Add(time.Nanosecond),
			Uploader: core.Uploader{UserID: 42, ClientAddr: "[2001:db8::1]:443"}}},
		{"utc-micro", core.Upload{Token: ulid(3), ContentType: "image/webp", FileSize: 12345, CreatedAt: time.UnixMicro(1741946966123456).UTC(),
			Uploader: core.Uploader{UserID: 1 << 40}}},
		{"empty-addr", core.Upload{Token: ulid(4), ContentType: "image/gif", FileSize: 7, CreatedAt: base.Add(999 * time.Nanosecond)}},
	}
	for _, tt := range tests {
		noErr(t, tt.name+": CreateUpload", s.CreateUpload(ctx, tt.up))
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.Upload(ctx, tt.up.Token)
			noErr(t, "Upload", err)
			checkUpload(t, "Upload", got, tt.up)
		})
	}
}

func testUploadMissing(t *testing.T, open openMeta) {
	s := open(t)
	_, err := s.Upload(t.Context(), ulid(1))
	wantErr(t, "Upload of a missing token", err, core.ErrNotFound)
	mustUpload(t, s, newUpload(2, 0))
	_, err = s.Upload(t.Context(), ulid(1))
	wantErr(t, "Upload of a missing token next to another", err, core.ErrNotFound)
}

func testUploadDuplicate(t *testing.T, open openMeta) {
	s := open(t)
	ctx := t.Context()
	orig := newUpload(1, 0)
	mustUpload(t, s, orig)
	dup := core.Upload{Token: orig.Token, ContentType: "image/gif", FileSize: 99, CreatedAt: base.Add(time.Minute),
		Uploader: core.Uploader{UserID: 7, ClientAddr: "203.0.113.9"}}
	wantErr(t, "CreateUpload of an existing token", s.CreateUpload(ctx, dup), core.ErrExist)
	got, err := s.Upload(ctx, orig.Token)
	noErr(t, "Upload", err)
	checkUpload(t, "Upload after the duplicate", got, orig)
}

func testPublishImage(t *testing.T, open openMeta) {
	s := open(t)
	ctx := t.Context()
	up := newUpload(1, 0)
	other := newUpload(2, time.Second)
	mustUpload(t, s, up)
	mustUpload(t, s, other)
	img := newImage(1, up)
	noErr(t, "PublishImage", s.PublishImage(ctx, img))

	got, err := s.Image(ctx, img.ID)
	noErr(t, "Image", err)
	checkImage(t, "Image", got, img)
	got, err = s.ImageByToken(ctx, img.Token)
	noErr(t, "ImageByToken", err)
	checkImage(t, "ImageByToken", got, img)
	if ok, err := s.ImageExists(ctx, img.ID); err != nil || !ok {
		t.Errorf("ImageExists: got %v, %v, want true, nil", ok, err)
	}
	checkNoUpload(t, s, up.Token)
	wantErr(t, "DeleteExpiredUpload of the published token", s.DeleteExpiredUpload(ctx, up.Token, base.Add(time.Hour)), core.ErrNotFound)

	// The other upload is untouched.
	gotUp, err := s.Upload(ctx, other.Token)
	noErr(t, "Upload of the other token", err)
	checkUpload(t, "Upload of the other token", gotUp, other)
	tokens, err := s.ExpiredUploads(ctx, base.Add(time.Hour), 10)
	noErr(t, "ExpiredUploads", err)
	if want := []string{other.Token}; !slices.Equal(tokens, want) {
		t.Errorf("ExpiredUploads: got %q, want %q", tokens, want)
	}
}

func testImageMissing(t *testing.T, open openMeta) {
	s := open(t)
	ctx := t.Context()
	check := func() {
		t.Helper()
		checkNoImage(t, s, imageID(9))
		_, err := s.ImageByToken(ctx, ulid(9))
		wantErr(t, "ImageByToken of a missing token", err, core.ErrNotFound)
	}
	check()
	up := newUpload(1, 0)
	mustPublish(t, s, up, newImage(1, up))
	check()
}

func testPublishDuplicateToken(t *testing.T, open openMeta) {
	s := open(t)
	ctx := t.Context()
	up := newUpload(1, 0)
	first := newImage(1, up)
	mustPublish(t, s, up, first)
	check := func(what string) {
		t.Helper()
		got, err := s.ImageByToken(ctx, up.Token)
		noErr(t, what+": ImageByToken", err)
		checkImage(t, what+": ImageByToken", got, first)
		checkNoImage(t, s, imageID(2))
	}

	// The upload row is gone and the image exists: a concurrent claim won,
	// which callers tell from a sweep by ErrExist.
	wantErr(t, "PublishImage of a claimed token", s.PublishImage(ctx, newImage(2, up)), core.ErrExist)
	check("after the duplicate")

	// Even if the upload row came back, the token stays claimed and the row
	// stays.
	again := newUpload(1, time.Minute)
	mustUpload(t, s, again)
	wantErr(t, "PublishImage of a claimed token with an upload row", s.PublishImage(ctx, newImage(2, again)), core.ErrExist)
	check("after the duplicate with an upload row")
	got, err := s.Upload(ctx, again.Token)
	noErr(t, "Upload after the failed publish", err)
	checkUpload(t, "Upload after the failed publish", got, again)
}

func testPublishDuplicateID(t *testing.T, open openMeta) {
	s := open(t)
	ctx := t.Context()
	up1 := newUpload(1, 0)
	first := newImage(1, up1)
	mustPublish(t, s, up1, first)

	up2 := newUpload(2, time.Second)
	mustUpload(t, s, up2)
	dup := newImage(1, up2) // same id, other token
	wantErr(t, "PublishImage of an existing id", s.PublishImage(ctx, dup), core.ErrExist)

	got, err := s.Image(ctx, first.ID)
	noErr(t, "Image", err)
	checkImage(t, "Image after the duplicate", got, first)
	_, err = s.ImageByToken(ctx, up2.Token)
	wantErr(t, "ImageByToken of the duplicate's token", err, core.ErrNotFound)
	gotUp, err := s.Upload(ctx, up2.Token)
	noErr(t, "Upload of the duplicate's token", err)
	checkUpload(t, "Upload of the duplicate's token", gotUp, up2)

	// The upload can still be published under a fresh id.
	noErr(t, "PublishImage under a fresh id", s.PublishImage(ctx, newImage(2, up2)))
}

func testPublishUploadGone(t *testing.T, open openMeta) {
	tests := []struct {
		name  string
		setup func(t *testing.T, s core.MetadataStore, up core.Upload)
	}{
		{"never-created", func(t *testing.T, s core.MetadataStore, up core.Upload) {}},
		{"swept", func(t *testing.T, s core.MetadataStore, up core.Upload) {
			mustUpload(t, s, up)
			noErr(t, "DeleteExpiredUpload", s.DeleteExpiredUpload(t.Context(), up.Token, up.CreatedAt.Add(time.Second)))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := open(t)
			up := newUpload(1, 0)
			tt.setup(t, s, up)
			img := newImage(1, up)
			wantErr(t, "PublishImage without an upload row", s.PublishImage(t.Context(), img), core.ErrNotFound)
			checkNoImage(t, s, img.ID)
			_, err := s.ImageByToken(t.Context(), up.Token)
			wantErr(t, "ImageByToken", err, core.ErrNotFound)
			checkNoUpload(t, s, up.Token)
		})
	}
}

func testPublishConcurrent(t *testing.T, open openMeta) {
	s := open(t)
	ctx := t.Context()
	up := newUpload(1, 0)
	mustUpload(t, s, up)

	const n = 20
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			errs[i] = s.PublishImage(ctx, newImage(i, up))
		})
	}
	close(start)
	wg.Wait()

	winner := -1
	for i, err := range errs {
		switch {
		case err == nil && winner < 0:
			winner = i
		case err == nil:
			t.Errorf("PublishImage %d: got nil, but %d succeeded already", i, winner)
		case !errorsIsAny(err, core.ErrExist, core.ErrNotFound):
			t.Errorf("PublishImage %d: got error %v, want nil, %v or %v", i, err, core.ErrExist, core.ErrNotFound)
		}
	}
	if winner < 0 {
		t.Fatalf("PublishImage: got no success among %d, want exactly one", n)
	}
	got, err := s.ImageByToken(ctx, up.Token)
	noErr(t, "ImageByToken", err)
	checkImage(t, "ImageByToken", got, newImage(winner, up))
	for i := range n {
		ok, err := s.ImageExists(ctx, imageID(i))
		if err != nil || ok != (i == winner) {
			t.Errorf("ImageExists(%s): got %v, %v, want %v, nil", imageID(i), ok, err, i == winner)
		}
	}
	checkNoUpload(t, s, up.Token)
}

func testDeleteExpiredUpload(t *testing.T, open openMeta) {
	s := open(t)
	ctx := t.Context()
	created := time.Date(2025, 1, 2, 3, 4, 5, 6000, time.UTC) // whole microseconds
	up := core.Upload{Token: ulid(1), ContentType: "image/png", FileSize: 10, CreatedAt: created}
	mustUpload(t, s, up)

	for _, cutoff := range []time.Time{created.Add(-time.Hour), created.Add(-time.Microsecond), created} {
		wantErr(t, "DeleteExpiredUpload with cutoff "+cutoff.Format(time.RFC3339Nano), s.DeleteExpiredUpload(ctx, up.Token, cutoff), core.ErrNotFound)
		got, err := s.Upload(ctx, up.Token)
		noErr(t, "Upload after a refused delete", err)
		checkUpload(t, "Upload after a refused delete", got, up)
	}
	wantErr(t, "DeleteExpiredUpload of a missing token", s.DeleteExpiredUpload(ctx, ulid(2), created.Add(time.Hour)), core.ErrNotFound)

	noErr(t, "DeleteExpiredUpload just after creation", s.DeleteExpiredUpload(ctx, up.Token, created.Add(time.Microsecond)))
	checkNoUpload(t, s, up.Token)
	wantErr(t, "DeleteExpiredUpload again", s.DeleteExpiredUpload(ctx, up.Token, created.Add(time.Hour)), core.ErrNotFound)
}

func testExpiredUploads(t *testing.T, open openMeta) {
	s := open(t)
	ctx := t.Context()
	// Tokens 0..4 created a minute apart, inserted out of order.
	for _, i := range []int{3, 0, 4, 1, 2} {
		mustUpload(t, s, newUpload(i, time.Duration(i)*time.Minute))
	}
	// Token 5 is the oldest but published: it must not be listed.
	old := newUpload(5, -time.Hour)
	mustPublish(t, s, old, newImage(5, old))

	tokens := func(ns ...int) []string {
		out := []string{}
		for _, n := range ns {
			out = append(out, ulid(n))
		}
		return out
	}
	tests := []struct {
		name   string
		cutoff time.Time
		limit  int
		want   []string
	}{
		{"before-all", base.Add(-time.Minute), 10, tokens()},
		{"at-oldest", base, 10, tokens()},
		{"just-after-oldest", base.Add(time.Microsecond), 10, tokens(0)},
		{"three", base.Add(3 * time.Minute), 10, tokens(0, 1, 2)},
		{"limit", base.Add(3 * time.Minute), 2, tokens(0, 1)},
		{"limit-one", base.Add(time.Hour), 1, tokens(0)},
		{"all", base.Add(time.Hour), 10, tokens(0, 1, 2, 3, 4)},
		{"limit-exact", base.Add(time.Hour), 5, tokens(0, 1, 2, 3, 4)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.ExpiredUploads(ctx, tt.cutoff, tt.limit)
			noErr(t, "ExpiredUploads", err)
			if !slices.Equal(got, tt.want) {
				t.Errorf("ExpiredUploads(%v, %d): got %q, want %q", tt.cutoff, tt.limit, got, tt.want)
			}
		})
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
	_, err := s.APIToken(ctx, "tok1")
	wantErr(t, "APIToken of an empty store", err, core.ErrNotFound)

	uid, err := s.AddUser(ctx, core.User{Email: "ann@example.com", PasswordHash: []byte("h"), CreatedAt: base})
	noErr(t, "AddUser", err)
	tokens := []core.APIToken{
		{ID: "tok1", UserID: uid, Hash: []byte{0xde, 0xad, 0xbe, 0xef, 0}, CreatedAt: base},
		{ID: "tok2", UserID: uid, Hash: []byte("another hash"), CreatedAt: base.Add(time.Nanosecond)},
	}
	for _, tok := range tokens {
		noErr(t, "AddAPIToken("+tok.ID+")", s.AddAPIToken(ctx, tok))
	}
	dup := core.APIToken{ID: "tok1", UserID: uid, Hash: []byte("replaced"), CreatedAt: base.Add(time.Hour)}
	wantErr(t, "AddAPIToken of an existing id", s.AddAPIToken(ctx, dup), core.ErrExist)
	for _, tok := range tokens {
		got, err := s.APIToken(ctx, tok.ID)
		noErr(t, "APIToken("+tok.ID+")", err)
		checkAPIToken(t, "APIToken", got, tok)
	}
	_, err = s.APIToken(ctx, "tok3")
	wantErr(t, "APIToken of a missing id", err, core.ErrNotFound)
}
