package core_test

import (
	"context"
	"errors"
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

// takedowns records the takedowns asked of it, as Moderation would do them.
type takedowns struct {
	images *fakeImages
	got    []core.Deletion
}

func (t *takedowns) DeleteImage(_ context.Context, id, by, reason string, block bool) (core.Image, error) {
	img, ok := t.images.images[id]
	if !ok {
		return core.Image{}, core.Errorf(api.CodeNotFound, "no image has id %q", id)
	}
	delete(t.images.images, id)
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
	e, err := core.NewErasure(cfg, core.ErasureDeps{Images: imgs, TakeDown: td, Runtime: core.Runtime{Now: func() time.Time { return *now }}})
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
