package core_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/userimages/userimages/client/api"

	"userimages/core"
)

// fakeImages is an ImageReader over a map; fail makes every lookup fail as
// a store that does not answer.
type fakeImages struct {
	images map[string]core.Image
	fail   bool
}

func (f *fakeImages) Image(_ context.Context, id string) (core.Image, error) {
	if f.fail {
		return core.Image{}, core.StoreFault(errors.New("connection refused")) // marked, as adapters mark their faults
	}
	img, ok := f.images[id]
	if !ok {
		return core.Image{}, core.ErrNotFound
	}
	return img, nil
}

func (f *fakeImages) ListImages(_ context.Context, flt core.ImageFilter) ([]core.Image, error) {
	var out []core.Image
	for _, img := range f.images {
		if img.Uploader.UserID == flt.UserID && len(out) < flt.Limit {
			out = append(out, img)
		}
	}
	return out, nil
}

// fakeUsers knows ann@example.com (user 7); steps records what was done,
// in order, with the takedowns and the erasure.
type fakeUsers struct {
	steps *[]string
}

func (f fakeUsers) User(_ context.Context, id int64) (core.User, error) {
	if id != 7 {
		return core.User{}, core.ErrNotFound
	}
	return core.User{ID: 7, Email: "ann@example.com"}, nil
}

func (f fakeUsers) UserByEmail(ctx context.Context, email string) (core.User, error) {
	if email != "ann@example.com" {
		return core.User{}, core.ErrNotFound
	}
	return f.User(ctx, 7)
}

func (f fakeUsers) DisableUser(_ context.Context, id int64) error {
	*f.steps = append(*f.steps, fmt.Sprintf("disable %d", id))
	return nil
}

type fakeErasures struct {
	steps *[]string
	got   []core.PersonalDataErasure
}

func (f *fakeErasures) ErasePersonalData(_ context.Context, e core.PersonalDataErasure) error {
	*f.steps = append(*f.steps, fmt.Sprintf("erase %d", e.UserID))
	f.got = append(f.got, e)
	return nil
}

// takedowns records the takedowns asked of it, as Moderation would do them.
type takedowns struct {
	steps  *[]string
	images *fakeImages
	got    []core.Deletion
}

func (t *takedowns) DeleteImage(_ context.Context, id, by, reason string, block bool) (core.Image, error) {
	img, ok := t.images.images[id]
	if !ok {
		return core.Image{}, core.Errorf(api.CodeNotFound, "no image has id %q", id)
	}
	delete(t.images.images, id)
	if t.steps != nil {
		*t.steps = append(*t.steps, "take down "+id)
	}
	t.got = append(t.got, core.Deletion{Image: img, By: by, Reason: reason, Blocked: block})
	return img, nil
}

const (
	annsImage  = "AAAAAAAAAAAAAAAAAAAAAA"
	anonImage  = "BBBBBBBBBBBBBBBBBBBBBA"
	anonToken  = "01HZX3ABCDEFGHJKMNPQRSTVWX"
	annsToken  = "01HZX3ABCDEFGHJKMNPQRSTVWY"
	missingImg = "CCCCCCCCCCCCCCCCCCCCCA"
)

var claimedAt = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// newErasure is Erasure over two images claimed at claimedAt: annsImage,
// uploaded by user 7, and anonImage, uploaded anonymously; now is the
// clock.
func newErasure(t *testing.T, cfg core.Config, now *time.Time) (*core.Erasure, *takedowns, *fakeImages) {
	t.Helper()
	imgs := &fakeImages{images: map[string]core.Image{
		annsImage: {ID: annsImage, Token: annsToken, ContentType: "image/png", CreatedAt: claimedAt, Uploader: core.Uploader{UserID: 7}},
		anonImage: {ID: anonImage, Token: anonToken, ContentType: "image/png", CreatedAt: claimedAt, Uploader: core.Uploader{ClientAddr: "192.0.2.1"}},
	}}
	td := &takedowns{images: imgs}
	e, err := core.NewErasure(cfg, core.ErasureDeps{Images: imgs, Lister: imgs, Users: fakeUsers{steps: new([]string)}, Erasures: &fakeErasures{steps: new([]string)},
		TakeDown: td, Runtime: core.Runtime{Now: func() time.Time { return *now }}})
	if err != nil {
		t.Fatal(err)
	}
	return e, td, imgs
}

func TestDeleteOwnImage(t *testing.T) {
	for _, tt := range []struct {
		name string
		id   string
		user int64
		want api.Code
	}{
		{"the uploader", annsImage, 7, ""},
		{"another user", annsImage, 8, api.CodeNotFound},
		{"anonymous caller", annsImage, 0, api.CodeNotFound},
		{"an anonymous upload", anonImage, 7, api.CodeNotFound},
		{"no such image", missingImg, 7, api.CodeNotFound},
		{"malformed id", "nope", 7, api.CodeNotFound},
	} {
		t.Run(tt.name, func(t *testing.T) {
			now := claimedAt.Add(time.Hour)
			e, td, _ := newErasure(t, core.Config{}, &now)
			err := e.DeleteOwnImage(t.Context(), tt.id, tt.user)
			if got := codeOf(err); got != tt.want {
				t.Fatalf("DeleteOwnImage: got %q (%v), want %q", got, err, tt.want)
			}
			if tt.want != "" {
				if len(td.got) != 0 {
					t.Errorf("takedowns after a refusal: got %+v, want none", td.got)
				}
				return
			}
			want := core.Deletion{By: "user:7", Reason: core.ReasonDeletedByUploader}
			if len(td.got) != 1 || td.got[0].Image.ID != tt.id || td.got[0].By != want.By || td.got[0].Reason != want.Reason || td.got[0].Blocked {
				t.Errorf("takedowns: got %+v, want one of %s by %s, %q, not blocked", td.got, tt.id, want.By, want.Reason)
			}
		})
	}
}

func TestDeleteWithUploadToken(t *testing.T) {
	for _, tt := range []struct {
		name   string
		window time.Duration // Config.TokenDeleteWindow
		after  time.Duration // since the claim
		id     string
		token  string
		want   api.Code
	}{
		{"its token", 0, time.Hour, anonImage, anonToken, ""},
		{"its token, just before the default window ends", 0, core.DefaultTokenDeleteWindow, anonImage, anonToken, ""},
		{"its token after the default window", 0, core.DefaultTokenDeleteWindow + time.Second, anonImage, anonToken, api.CodeForbidden},
		{"its token within a longer window", 72 * time.Hour, 48 * time.Hour, anonImage, anonToken, ""},
		{"its token with the capability off", -1, time.Minute, anonImage, anonToken, api.CodeForbidden},
		{"a signed-in upload's own token", 0, time.Hour, annsImage, annsToken, ""},
		{"another image's token", 0, time.Hour, anonImage, annsToken, api.CodeNotFound},
		{"its token less one character", 0, time.Hour, anonImage, anonToken[:25], api.CodeNotFound},
		{"its token in lower case", 0, time.Hour, anonImage, "01hzx3abcdefghjkmnpqrstvwx", api.CodeNotFound},
		{"an empty token", 0, time.Hour, anonImage, "", api.CodeNotFound},
		{"no such image", 0, time.Hour, missingImg, anonToken, api.CodeNotFound},
		{"after expiry, another image's token", 0, 48 * time.Hour, anonImage, annsToken, api.CodeNotFound},
	} {
		t.Run(tt.name, func(t *testing.T) {
			now := claimedAt.Add(tt.after)
			e, td, imgs := newErasure(t, core.Config{TokenDeleteWindow: tt.window}, &now)
			err := e.DeleteWithUploadToken(t.Context(), tt.id, tt.token)
			if got := codeOf(err); got != tt.want {
				t.Fatalf("DeleteWithUploadToken: got %q (%v), want %q", got, err, tt.want)
			}
			if tt.want != "" {
				if len(td.got) != 0 || len(imgs.images) != 2 {
					t.Errorf("after a refusal: got takedowns %+v and %d images, want none and 2", td.got, len(imgs.images))
				}
				return
			}
			if len(td.got) != 1 || td.got[0].Image.ID != tt.id || td.got[0].By != core.ByUploadToken || td.got[0].Reason != core.ReasonDeletedByUploader {
				t.Errorf("takedowns: got %+v, want one of %s by %s, %q", td.got, tt.id, core.ByUploadToken, core.ReasonDeletedByUploader)
			}
		})
	}
}

// A store that does not answer is a retryable 503, never a 404 that would
// tell the page its image is gone.
func TestErasureStoreFault(t *testing.T) {
	now := claimedAt
	e, _, imgs := newErasure(t, core.Config{}, &now)
	imgs.fail = true
	if err := e.DeleteWithUploadToken(t.Context(), anonImage, anonToken); codeOf(err) != api.CodeStorageUnavailable {
		t.Errorf("DeleteWithUploadToken: got %v, want %s", err, api.CodeStorageUnavailable)
	}
	if err := e.DeleteOwnImage(t.Context(), annsImage, 7); codeOf(err) != api.CodeStorageUnavailable {
		t.Errorf("DeleteOwnImage: got %v, want %s", err, api.CodeStorageUnavailable)
	}
}

// TestEraseUser: the account is disabled before anything else, so that
// nothing new arrives; every image of the user is taken down, by whom the
// erasure names, and nobody else's; then the personal data goes, with an
// audit record.
func TestEraseUser(t *testing.T) {
	var steps []string
	imgs := &fakeImages{images: map[string]core.Image{
		annsImage:  {ID: annsImage, Uploader: core.Uploader{UserID: 7}},
		anonImage:  {ID: anonImage, Uploader: core.Uploader{ClientAddr: "192.0.2.1"}},
		missingImg: {ID: missingImg, Uploader: core.Uploader{UserID: 7}},
	}}
	td := &takedowns{steps: &steps, images: imgs}
	er := &fakeErasures{steps: &steps}
	e, err := core.NewErasure(core.Config{}, core.ErasureDeps{Images: imgs, Lister: imgs, Users: fakeUsers{steps: &steps}, Erasures: er, TakeDown: td})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.EraseUser(t.Context(), "bob@example.com", "cli:root", "request"); codeOf(err) != api.CodeNotFound {
		t.Fatalf("EraseUser of an unknown email: got %v, want %s", err, api.CodeNotFound)
	}
	got, err := e.EraseUser(t.Context(), "Ann@Example.com", "cli:root", "her request")
	if err != nil {
		t.Fatal(err)
	}
	if len(got.TakenDown) != 2 || got.User.ID != 7 {
		t.Errorf("EraseUser: got %+v, want user 7 and 2 images", got)
	}
	if len(steps) != 4 || steps[0] != "disable 7" || steps[3] != "erase 7" || !slices.Contains(steps, "take down "+annsImage) || !slices.Contains(steps, "take down "+missingImg) {
		t.Errorf("steps: got %q, want disable, ann's two takedowns, erase", steps)
	}
	for _, d := range td.got {
		if d.By != "cli:root" || d.Reason != "erasure of user:7" {
			t.Errorf("takedown: got by %q for %q, want cli:root for erasure of user:7", d.By, d.Reason)
		}
	}
	if _, ok := imgs.images[anonImage]; !ok {
		t.Error("someone else's image was taken down")
	}
	if len(er.got) != 1 || er.got[0].Reporter != "u:7" || er.got[0].Event.Action != core.ActionErase || er.got[0].Event.Target != "user:7" || er.got[0].Event.Reason != "her request" {
		t.Errorf("erasure: got %+v, want u:7's, recorded as erase of user:7 for her request", er.got)
	}
}
