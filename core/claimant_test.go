package core_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/oklog/ulid/v2"

	"github.com/userimages/userimages/client/api"

	"userimages/core"
)

// TestClaimOnlyByUploader: an upload made by a signed-in user is claimed
// only by that user; anyone else, anonymous callers included, gets the
// answer a token no upload has gets (the same code and message), before
// and after the owner's claim. An anonymous upload is claimed by whoever
// holds its token. On the embedded default (carried: the PUT checks the
// bytes) and with staged bytes (object store: the claim checks them).
func TestClaimOnlyByUploader(t *testing.T) {
	const owner, other = 5, 6
	for _, carried := range []bool{true, false} {
		name := map[bool]string{true: "carried", false: "staged"}[carried]
		t.Run(name, func(t *testing.T) {
			f := newFlowFixture(t, carried)
			body, _ := pngWithText(t)
			upload := func(user int64) string {
				t.Helper()
				if carried {
					up := carriedUpload(body)
					up.Uploader.UserID = user
					if err := f.put(t, up, body); err != nil {
						t.Fatalf("PUT: %v", err)
					}
					return up.Token
				}
				created, err := f.svc.Uploads.CreateUpload(t.Context(), core.CreateUploadInput{ContentType: "image/png", FileSize: int64(len(body)),
					Uploader: core.Uploader{UserID: user, ClientAddr: "192.0.2.7"}})
				if err != nil {
					t.Fatal(err)
				}
				if err := f.disk.Put(t.Context(), "staging/"+created.Token, bytes.NewReader(body)); err != nil {
					t.Fatal(err)
				}
				return created.Token
			}
			_, unknownErr := f.svc.Uploads.Claim(t.Context(), ulid.Make().String(), "10016", owner)
			var unknown *core.Error
			if !errors.As(unknownErr, &unknown) {
				t.Fatalf("claim of an unknown token: got %v, want a *core.Error", unknownErr)
			}
			refusedAsUnknown := func(what, token string, claimant int64) {
				t.Helper()
				img, err := f.svc.Uploads.Claim(t.Context(), token, "10016", claimant)
				var e *core.Error
				if !errors.As(err, &e) || e.Code != unknown.Code || e.Message != unknown.Message || e.Field != unknown.Field {
					t.Errorf("%s: got %+v, %v; want the unknown token's %s %q", what, img, err, unknown.Code, unknown.Message)
				}
			}

			token := upload(owner)
			refusedAsUnknown("anonymous claim of a user's upload", token, 0)
			refusedAsUnknown("another user's claim of a user's upload", token, other)
			img, err := f.svc.Uploads.Claim(t.Context(), token, "10016", owner)
			if err != nil {
				t.Fatalf("the owner's claim: %v", err)
			}
			if img.Uploader.UserID != owner {
				t.Errorf("claimed image's uploader: got %+v, want user %d", img.Uploader, owner)
			}
			refusedAsUnknown("anonymous claim after the owner's", token, 0)
			refusedAsUnknown("another user's claim after the owner's", token, other)
			if again, err := f.svc.Uploads.Claim(t.Context(), token, "10016", owner); err != nil || again != img {
				t.Errorf("the owner's claim again: got %+v, %v; want the same image", again, err)
			}
			// Taken down: the owner is told so; nobody else learns it.
			if _, err := f.svc.Moderation.DeleteImage(t.Context(), img.ID, "test", "spam", false); err != nil {
				t.Fatal(err)
			}
			refusedAsUnknown("another user's claim after the takedown", token, other)
			if _, err := f.svc.Uploads.Claim(t.Context(), token, "10016", owner); core.ErrorCode(err) != api.CodeAlreadyClaimed {
				t.Errorf("the owner's claim after the takedown: got %v, want AlreadyClaimed", err)
			}

			anonymous := upload(0)
			if _, err := f.svc.Uploads.Claim(t.Context(), anonymous, "10016", other); err != nil {
				t.Errorf("a user's claim of an anonymous upload: %v", err)
			}
			if _, err := f.svc.Uploads.Claim(t.Context(), anonymous, "10016", 0); err != nil {
				t.Errorf("an anonymous claim again of an anonymous upload: %v", err)
			}
		})
	}
}
