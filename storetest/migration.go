package storetest

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"userimages/core"
	"userimages/migrate"
)

// MigrationStore is a metadata store that a migration can read from and
// write to.
type MigrationStore interface {
	MetadataStore
	migrate.Source
	migrate.Destination
}

// TestMigrationStore checks that the stores open returns keep the contracts
// of migrate.Source and migrate.Destination, and that what a Destination
// imports behaves as the records its MetadataStore methods write. open is
// as for TestMetadataStore.
func TestMigrationStore(t *testing.T, open func(t *testing.T) MigrationStore) {
	t.Run("Empty", func(t *testing.T) { testMigrationEmpty(t, open) })
	t.Run("ImportUser", func(t *testing.T) { testImportUser(t, open) })
	t.Run("UsersAfter", func(t *testing.T) { testUsersAfter(t, open) })
	t.Run("APITokensAfter", func(t *testing.T) { testAPITokensAfter(t, open) })
	t.Run("ImportImage", func(t *testing.T) { testImportImage(t, open) })
	t.Run("ImagesAfter", func(t *testing.T) { testImagesAfter(t, open) })
	t.Run("ImportDeletion", func(t *testing.T) { testImportDeletion(t, open) })
	t.Run("DeletionsAfter", func(t *testing.T) { testDeletionsAfter(t, open) })
	t.Run("Block", func(t *testing.T) { testBlock(t, open) })
	t.Run("MoveAll", func(t *testing.T) { testMoveAll(t, open) })
	t.Run("MoveReportsAndEvents", func(t *testing.T) { testMoveReportsAndEvents(t, open) })
}

type openMigration = func(t *testing.T) MigrationStore

// pager is one of the listings of migrate.Source.
type pager[K cmp.Ordered, R any] func(ctx context.Context, after K, limit int) ([]R, error)

// The key each listing pages by.
func keyOfUser(u core.User) int64          { return u.ID }
func keyOfAPIToken(t core.APIToken) string { return t.ID }
func keyOfImage(i core.Image) string       { return i.ID }
func keyOfDeletion(d core.Deletion) string { return d.Image.ID }
func keyOfHash(h string) string            { return h }

// trapIDs are image ids in byte order, each 22 characters of URL-safe
// base64. They mix characters whose byte order differs from dictionary order
// ('-' < '0' < 'B' < '_' < 'a'), so that a store sorting by a locale's
// collation fails.
var trapIDs = []string{"-aaaaaaaaaaaaaaaaaaaaa", "0aaaaaaaaaaaaaaaaaaaaa", "Baaaaaaaaaaaaaaaaaaaaa", "_aaaaaaaaaaaaaaaaaaaaa", "aaaaaaaaaaaaaaaaaaaaaa", "aaaaaaaaaaaaaaaaaaaaab"}

// absentID sorts between trapIDs[2] and trapIDs[3] and is never stored.
const absentID = "Zzzzzzzzzzzzzzzzzzzzzz"

// shuffled returns s in a fixed order other than its own, so that stores
// are filled out of key order.
func shuffled[T any](s []T) []T {
	out := slices.Clone(s)
	slices.Reverse(out)
	if len(out) > 2 {
		out[0], out[len(out)/2] = out[len(out)/2], out[0]
	}
	return out
}

func keysOf[K cmp.Ordered, R any](records []R, key func(R) K) []K {
	out := []K{}
	for _, r := range records {
		out = append(out, key(r))
	}
	return out
}

// walk pages through list, limit records at a time, from the start to the
// empty page that ends it, checking that every page holds at most limit
// records with keys ascending from the previous page's; it returns every
// record in order.
func walk[K cmp.Ordered, R any](t *testing.T, what string, list pager[K, R], key func(R) K, limit int) []R {
	t.Helper()
	var after K
	var out []R
	for range 1000 {
		page, err := list(t.Context(), after, limit)
		noErr(t, fmt.Sprintf("%s(%v, %d)", what, after, limit), err)
		if len(page) == 0 {
			return out
		}
		if len(page) > limit {
			t.Fatalf("%s(%v, %d): got %d records, want at most %d", what, after, limit, len(page), limit)
		}
		for _, r := range page {
			if k := key(r); len(out) > 0 && k <= key(out[len(out)-1]) {
				t.Fatalf("%s(%v, %d): got key %v after %v, want ascending keys", what, after, limit, k, key(out[len(out)-1]))
			}
			out = append(out, r)
		}
		after = key(page[len(page)-1])
	}
	t.Fatalf("%s: got no empty page after 1000 pages", what)
	return nil
}

// checkPages fails t unless list pages exactly the keys want (in ascending
// order, at least four) as migrate.Source documents. absent is a key
// between two of want that is not stored.
func checkPages[K cmp.Ordered, R any](t *testing.T, what string, list pager[K, R], key func(R) K, want []K, absent K) {
	t.Helper()
	var zero K
	n := len(want)
	above := slices.IndexFunc(want, func(k K) bool { return k > absent })
	if n < 4 || !slices.IsSorted(want) || slices.Contains(want, absent) || above < 1 {
		t.Fatalf("checkPages(%s): got keys %v and absent key %v, want four or more ascending keys and absent between two of them", what, want, absent)
	}
	tests := []struct {
		name  string
		after K
		limit int
		want  []K
	}{
		{"first page", zero, 2, want[:2]},
		{"limit one", zero, 1, want[:1]},
		{"limit exact", zero, n, want},
		{"limit over", zero, n + 1, want},
		{"after the first", want[0], 2, want[1:3]},
		{"after an absent key", absent, n, want[above:]},
		{"last page short", want[n-2], 2, want[n-1:]},
		{"after the last", want[n-1], 2, []K{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			page, err := list(t.Context(), tt.after, tt.limit)
			noErr(t, what, err)
			if got := keysOf(page, key); !slices.Equal(got, tt.want) {
				t.Errorf("%s(%v, %d): got keys %v, want %v", what, tt.after, tt.limit, got, tt.want)
			}
		})
	}
	for _, limit := range []int{1, 3, n} {
		if got := keysOf(walk(t, what, list, key, limit), key); !slices.Equal(got, want) {
			t.Errorf("%s, walked %d at a time: got keys %v, want %v", what, limit, got, want)
		}
	}
}

// checkAll fails t unless got and want hold the same records in order, as
// check compares them.
func checkAll[R any](t *testing.T, what string, got, want []R, check func(t *testing.T, what string, got, want R)) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: got %d records, want %d", what, len(got), len(want))
		return
	}
	for i := range got {
		check(t, fmt.Sprintf("%s[%d]", what, i), got[i], want[i])
	}
}

func checkDeletion(t *testing.T, what string, got, want core.Deletion) {
	t.Helper()
	checkImage(t, what+": Image", got.Image, want.Image)
	got.Image.CreatedAt, want.Image.CreatedAt = time.Time{}, time.Time{}
	checkRecord(t, what, got, want, func(d *core.Deletion) *time.Time { return &d.At })
}

func checkString(t *testing.T, what string, got, want string) {
	t.Helper()
	if got != want {
		t.Errorf("%s: got %q, want %q", what, got, want)
	}
}

// newUser returns a user to import with id n.
func newUser(n int64) core.User {
	u := core.User{ID: n, Email: fmt.Sprintf("user%d@example.com", n), PasswordHash: []byte{byte(n), 0, 0xff},
		Admin: n%2 == 0, CreatedAt: base.Add(time.Duration(n) * time.Nanosecond * 1001)}
	if n%3 == 0 { // one in three is a user a host app vouches for
		u.Issuer, u.Subject, u.Name, u.ContactEmail = "https://app.example.com", fmt.Sprint(n), fmt.Sprintf("User %d", n), u.Email
		u.Email, u.PasswordHash, u.Admin = core.HostUserKey(u.Issuer, u.Subject), []byte{}, false
	}
	return u
}

// newDeletion returns the deletion of img, blocked for odd n.
func newDeletion(n int, img core.Image) core.Deletion {
	return core.Deletion{Image: img, By: fmt.Sprintf("user:%d", n), Reason: fmt.Sprintf("reason %d", n), Blocked: n%2 == 1,
		At: base.Add(2*time.Hour + time.Duration(n)*time.Nanosecond*1001)}
}

// trapImages returns images with the ids trapIDs, ascending.
func trapImages() []core.Image {
	var out []core.Image
	for n, id := range trapIDs {
		img := newImage(n, newUpload(n, 0))
		img.ID = id
		out = append(out, img)
	}
	return out
}

// firstPageLen returns the length of list's first page of up to 10.
func firstPageLen[K cmp.Ordered, R any](ctx context.Context, list pager[K, R]) (int, error) {
	var zero K
	page, err := list(ctx, zero, 10)
	return len(page), err
}

func testMigrationEmpty(t *testing.T, open openMigration) {
	s := open(t)
	ctx := t.Context()
	tests := []struct {
		name string
		len  func() (int, error)
	}{
		{"UsersAfter", func() (int, error) { return firstPageLen(ctx, s.UsersAfter) }},
		{"APITokensAfter", func() (int, error) { return firstPageLen(ctx, s.APITokensAfter) }},
		{"ImagesAfter", func() (int, error) { return firstPageLen(ctx, s.ImagesAfter) }},
		{"DeletionsAfter", func() (int, error) { return firstPageLen(ctx, s.DeletionsAfter) }},
		{"BlockedAfter", func() (int, error) { return firstPageLen(ctx, s.BlockedAfter) }},
	}
	for _, tt := range tests {
		if n, err := tt.len(); err != nil || n != 0 {
			t.Errorf("%s of an empty store: got %d records, %v, want 0, nil", tt.name, n, err)
		}
	}
}

func testImportUser(t *testing.T, open openMigration) {
	s := open(t)
	ctx := t.Context()
	added, err := s.AddUser(ctx, core.User{Email: "ann@example.com", PasswordHash: []byte("h"), CreatedAt: base})
	noErr(t, "AddUser", err)
	high, low := newUser(added+50), newUser(added+10) // imported out of order
	for _, u := range []core.User{high, low} {
		noErr(t, "ImportUser("+u.Email+")", s.ImportUser(ctx, u))
	}
	check := func(what string) {
		t.Helper()
		for _, u := range []core.User{high, low} {
			got, err := s.User(ctx, u.ID)
			noErr(t, what+": User", err)
			checkUser(t, what+": User", got, u)
			got, err = s.UserByEmail(ctx, u.Email)
			noErr(t, what+": UserByEmail", err)
			checkUser(t, what+": UserByEmail", got, u)
		}
	}
	check("after import")

	tests := []struct {
		name string
		u    core.User
	}{
		{"imported id", core.User{ID: high.ID, Email: "other@example.com", PasswordHash: []byte("x"), CreatedAt: base}},
		{"added id", core.User{ID: added, Email: "other@example.com", PasswordHash: []byte("x"), CreatedAt: base}},
		{"imported email", core.User{ID: added + 100, Email: low.Email, PasswordHash: []byte("x"), CreatedAt: base}},
		{"added email", core.User{ID: added + 100, Email: "ann@example.com", PasswordHash: []byte("x"), CreatedAt: base}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantErr(t, "ImportUser", s.ImportUser(ctx, tt.u), core.ErrExist)
			if _, err := s.User(ctx, added+100); err == nil {
				t.Errorf("User(%d) after a failed import: got a user, want %v", added+100, core.ErrNotFound)
			}
			_, err := s.UserByEmail(ctx, "other@example.com")
			wantErr(t, "UserByEmail after a failed import", err, core.ErrNotFound)
			check("after a failed import")
		})
	}

	// Users added later get ids above every imported one, however large.
	for _, imported := range []int64{high.ID, 1 << 40} {
		if imported != high.ID {
			noErr(t, "ImportUser", s.ImportUser(ctx, newUser(imported)))
		}
		id, err := s.AddUser(ctx, core.User{Email: fmt.Sprintf("later%d@example.com", imported), PasswordHash: []byte("h"), CreatedAt: base})
		noErr(t, "AddUser after ImportUser", err)
		if id <= imported {
			t.Errorf("AddUser after ImportUser of id %d: got id %d, want above it", imported, id)
		}
	}
}

func testUsersAfter(t *testing.T, open openMigration) {
	s := open(t)
	var want []core.User
	for _, id := range []int64{3, 5, 17, 42, 1000} {
		want = append(want, newUser(id))
	}
	for _, u := range shuffled(want) {
		noErr(t, "ImportUser", s.ImportUser(t.Context(), u))
	}
	checkPages(t, "UsersAfter", s.UsersAfter, keyOfUser, keysOf(want, keyOfUser), 10)
	checkAll(t, "UsersAfter", walk(t, "UsersAfter", s.UsersAfter, keyOfUser, 2), want, checkUser)
}

func testAPITokensAfter(t *testing.T, open openMigration) {
	s := open(t)
	ctx := t.Context()
	uid, err := s.AddUser(ctx, core.User{Email: "ann@example.com", PasswordHash: []byte("h"), CreatedAt: base})
	noErr(t, "AddUser", err)
	var want []core.APIToken
	for n, id := range []string{"tok-", "tok0", "tokB", "tok_", "toka"} {
		want = append(want, core.APIToken{ID: id, Selector: "sel" + id, UserID: uid, Hash: []byte{byte(n), 0}, CreatedAt: base.Add(time.Duration(n) * time.Second)})
	}
	for _, tok := range shuffled(want) {
		noErr(t, "AddAPIToken", s.AddAPIToken(ctx, tok))
	}
	checkPages(t, "APITokensAfter", s.APITokensAfter, keyOfAPIToken, keysOf(want, keyOfAPIToken), "tokC")
	checkAll(t, "APITokensAfter", walk(t, "APITokensAfter", s.APITokensAfter, keyOfAPIToken, 2), want, checkAPIToken)
}

func testImportImage(t *testing.T, open openMigration) {
	s := open(t)
	ctx := t.Context()
	img := newImage(1, newUpload(1, 0))
	noErr(t, "ImportImage", s.ImportImage(ctx, img))
	check := func(what string) {
		t.Helper()
		got, err := s.Image(ctx, img.ID)
		noErr(t, what+": Image", err)
		checkImage(t, what+": Image", got, img)
		checkClaimed(t, s, img)
		list, err := s.ListImages(ctx, core.ImageFilter{Limit: 10})
		noErr(t, what+": ListImages", err)
		checkAll(t, what+": ListImages", list, []core.Image{img}, checkImage)
	}
	check("after import")
	checkNoUpload(t, s, img.Token)

	other := newImage(2, newUpload(2, 0))
	sameID, sameToken := other, other
	sameID.ID, sameToken.Token = img.ID, img.Token
	tests := []struct {
		name string
		img  core.Image
	}{
		{"same image", img},
		{"taken id", sameID},
		{"taken token", sameToken},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantErr(t, "ImportImage", s.ImportImage(ctx, tt.img), core.ErrExist)
			checkNoImage(t, s, other.ID)
			checkUnknown(t, s, other.Token)
			check("after a failed import")
		})
	}

	// The imported image's token stays claimed, as a published one's does.
	wantErr(t, "ReceiveUpload of an imported image's token", s.ReceiveUpload(ctx, received(newUpload(1, time.Minute), 3)), core.ErrExist)
	check("after a refused receive")
}

func testImagesAfter(t *testing.T, open openMigration) {
	s := open(t)
	want := trapImages()
	for n := range want {
		want[n].Width, want[n].Height = 100+n, 50+n // copied with the rest
	}
	for n, img := range shuffled(want) {
		if n%2 == 0 {
			noErr(t, "ImportImage", s.ImportImage(t.Context(), img))
		} else {
			mustPublish(t, s, core.Upload{Token: img.Token, ContentType: img.ContentType, FileSize: img.Size, CreatedAt: base, Uploader: img.Uploader}, img)
		}
	}
	checkPages(t, "ImagesAfter", s.ImagesAfter, keyOfImage, keysOf(want, keyOfImage), absentID)
	checkAll(t, "ImagesAfter", walk(t, "ImagesAfter", s.ImagesAfter, keyOfImage, 2), want, checkImage)
}

func testImportDeletion(t *testing.T, open openMigration) {
	s := open(t)
	ctx := t.Context()
	imported := newDeletion(1, newImage(1, newUpload(1, 0)))
	noErr(t, "ImportDeletion", s.ImportDeletion(ctx, imported))
	if ok, err := s.IsBlocked(ctx, imported.Image.SHA256); err != nil || ok {
		t.Errorf("IsBlocked after ImportDeletion of a blocked deletion: got %v, %v, want false, nil", ok, err)
	}
	up := newUpload(2, 0)
	deleted := newDeletion(2, newImage(2, up))
	mustPublish(t, s, up, deleted.Image)
	noErr(t, "DeleteImage", s.DeleteImage(ctx, deleted))
	want := []core.Deletion{deleted, imported} // newest first

	check := func(what string) {
		t.Helper()
		log, err := s.Deletions(ctx, 10)
		noErr(t, what+": Deletions", err)
		checkAll(t, what+": Deletions", log, want, checkDeletion)
	}
	check("after import")
	tests := []struct {
		name string
		d    core.Deletion
	}{
		{"imported", newDeletion(3, imported.Image)},
		{"deleted", newDeletion(4, deleted.Image)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantErr(t, "ImportDeletion of a recorded image", s.ImportDeletion(ctx, tt.d), core.ErrExist)
			check("after a failed import")
		})
	}
}

func testDeletionsAfter(t *testing.T, open openMigration) {
	s := open(t)
	ctx := t.Context()
	var want []core.Deletion
	for n, img := range trapImages() {
		want = append(want, newDeletion(n, img))
	}
	for n, d := range shuffled(want) {
		if n%2 == 0 {
			noErr(t, "ImportDeletion", s.ImportDeletion(ctx, d))
			continue
		}
		mustPublish(t, s, core.Upload{Token: d.Image.Token, ContentType: d.Image.ContentType, FileSize: d.Image.Size, CreatedAt: base, Uploader: d.Image.Uploader}, d.Image)
		noErr(t, "DeleteImage", s.DeleteImage(ctx, d))
	}
	checkPages(t, "DeletionsAfter", s.DeletionsAfter, keyOfDeletion, keysOf(want, keyOfDeletion), absentID)
	checkAll(t, "DeletionsAfter", walk(t, "DeletionsAfter", s.DeletionsAfter, keyOfDeletion, 2), want, checkDeletion)
}

func testBlock(t *testing.T, open openMigration) {
	s := open(t)
	ctx := t.Context()
	hash := func(c byte) string { return string(slices.Repeat([]byte{c}, 64)) }
	want := []string{hash('0'), hash('3'), hash('a'), hash('c'), hash('f')}
	absent := hash('8')
	for _, h := range shuffled(want[1:]) {
		noErr(t, "Block", s.Block(ctx, h))
	}
	noErr(t, "Block again", s.Block(ctx, want[2]))
	img := newImage(1, newUpload(1, 0))
	img.SHA256 = want[0]
	mustPublish(t, s, newUpload(1, 0), img)
	noErr(t, "DeleteImage", s.DeleteImage(ctx, core.Deletion{Image: img, By: "cli:root", Reason: "abuse", Blocked: true, At: base}))
	noErr(t, "Block of a hash DeleteImage blocked", s.Block(ctx, want[0]))
	for _, h := range want {
		if ok, err := s.IsBlocked(ctx, h); err != nil || !ok {
			t.Errorf("IsBlocked(%s): got %v, %v, want true, nil", h, ok, err)
		}
	}
	if ok, err := s.IsBlocked(ctx, absent); err != nil || ok {
		t.Errorf("IsBlocked(%s): got %v, %v, want false, nil", absent, ok, err)
	}
	checkPages(t, "BlockedAfter", s.BlockedAfter, keyOfHash, want, absent)
}

// copyAll copies every record of list into put, limit at a time, as a
// migration does, and returns what put returned for each.
func copyAll[K cmp.Ordered, R any](t *testing.T, what string, list pager[K, R], key func(R) K, put func(context.Context, R) error) []error {
	t.Helper()
	var errs []error
	for _, r := range walk(t, what, list, key, 2) {
		errs = append(errs, put(t.Context(), r))
	}
	return errs
}

// testMoveAll moves a store filled through MetadataStore into another,
// twice, as a resumed migration would, and checks that the copy reads back
// as the original.
func testMoveAll(t *testing.T, open openMigration) {
	src, dst := open(t), open(t)
	ctx := t.Context()
	for _, b := range []string{"acme", "Acme", "globex"} {
		noErr(t, "AddBrand", src.AddBrand(ctx, b))
	}
	var maxID int64
	for n := range 3 {
		id, err := src.AddUser(ctx, core.User{Email: fmt.Sprintf("u%d@example.com", n), PasswordHash: []byte{byte(n)}, Admin: n == 0, CreatedAt: base.Add(time.Duration(n) * time.Nanosecond * 1001)})
		noErr(t, "AddUser", err)
		noErr(t, "AddAPIToken", src.AddAPIToken(ctx, core.APIToken{ID: fmt.Sprintf("tok%d", n), Selector: fmt.Sprintf("sel%d", n), UserID: id, Hash: []byte{byte(n)}, CreatedAt: base}))
		maxID = max(maxID, id)
	}
	for n, img := range trapImages() {
		img.SHA256 = fmt.Sprintf("%064x", n)
		img.Width, img.Height = 100+n, 50+n
		mustPublish(t, src, core.Upload{Token: img.Token, ContentType: img.ContentType, FileSize: img.Size, CreatedAt: base, Uploader: img.Uploader}, img)
		if n%2 == 0 {
			noErr(t, "DeleteImage", src.DeleteImage(ctx, newDeletion(n, img)))
		}
	}
	mustUpload(t, src, newUpload(99, 0)) // uploads in flight are not moved

	runs := []struct {
		name string
		want error // of every import; AddBrand and Block always return nil
	}{
		{"first", nil},
		{"resumed", core.ErrExist},
	}
	for _, run := range runs {
		brands, err := src.Brands(ctx)
		noErr(t, "Brands", err)
		for _, b := range brands {
			noErr(t, run.name+": AddBrand", dst.AddBrand(ctx, b))
		}
		imports := [][]error{
			copyAll(t, "UsersAfter", src.UsersAfter, keyOfUser, dst.ImportUser),
			copyAll(t, "APITokensAfter", src.APITokensAfter, keyOfAPIToken, dst.AddAPIToken),
			copyAll(t, "ImagesAfter", src.ImagesAfter, keyOfImage, dst.ImportImage),
			copyAll(t, "DeletionsAfter", src.DeletionsAfter, keyOfDeletion, dst.ImportDeletion),
		}
		for _, errs := range imports {
			for _, err := range errs {
				wantErr(t, run.name+" run: import", err, run.want)
			}
		}
		for _, err := range copyAll(t, "BlockedAfter", src.BlockedAfter, keyOfHash, dst.Block) {
			noErr(t, run.name+" run: Block", err)
		}
	}

	gotBrands, err := dst.Brands(ctx)
	noErr(t, "Brands of the copy", err)
	wantBrands, err := src.Brands(ctx)
	noErr(t, "Brands", err)
	checkAll(t, "Brands of the copy", gotBrands, wantBrands, checkString)
	checkAll(t, "UsersAfter of the copy", walk(t, "UsersAfter", dst.UsersAfter, keyOfUser, 10), walk(t, "UsersAfter", src.UsersAfter, keyOfUser, 10), checkUser)
	checkAll(t, "APITokensAfter of the copy", walk(t, "APITokensAfter", dst.APITokensAfter, keyOfAPIToken, 10), walk(t, "APITokensAfter", src.APITokensAfter, keyOfAPIToken, 10), checkAPIToken)
	checkAll(t, "ImagesAfter of the copy", walk(t, "ImagesAfter", dst.ImagesAfter, keyOfImage, 10), walk(t, "ImagesAfter", src.ImagesAfter, keyOfImage, 10), checkImage)
	checkAll(t, "DeletionsAfter of the copy", walk(t, "DeletionsAfter", dst.DeletionsAfter, keyOfDeletion, 10), walk(t, "DeletionsAfter", src.DeletionsAfter, keyOfDeletion, 10), checkDeletion)
	checkAll(t, "BlockedAfter of the copy", walk(t, "BlockedAfter", dst.BlockedAfter, keyOfHash, 10), walk(t, "BlockedAfter", src.BlockedAfter, keyOfHash, 10), checkString)
	gotLog, err := dst.Deletions(ctx, 10)
	noErr(t, "Deletions of the copy", err)
	wantLog, err := src.Deletions(ctx, 10)
	noErr(t, "Deletions", err)
	checkAll(t, "Deletions of the copy", gotLog, wantLog, checkDeletion)
	checkNoUpload(t, dst, newUpload(99, 0).Token)

	id, err := dst.AddUser(ctx, core.User{Email: "new@example.com", PasswordHash: []byte("h"), CreatedAt: base})
	noErr(t, "AddUser on the copy", err)
	if id <= maxID {
		t.Errorf("AddUser on the copy: got id %d, want above the copied users' %d", id, maxID)
	}
}
