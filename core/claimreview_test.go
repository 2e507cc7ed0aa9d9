package core_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/userimages/userimages/client/api"

	"userimages/core"
	"userimages/internal/config"
	"userimages/pdq"
)

// reviewer is a ClaimReviewer answering verdict, or err; with block set it
// waits for its context's end instead. It records what it was asked and
// whether its context had a deadline.
type reviewer struct {
	mu       sync.Mutex
	verdict  core.ClaimVerdict
	err      error
	block    bool
	asked    []core.ClaimReview
	deadline []time.Duration // left before each call's deadline
}

func (r *reviewer) Review(ctx context.Context, cr core.ClaimReview) (core.ClaimVerdict, error) {
	r.mu.Lock()
	r.asked = append(r.asked, cr)
	if d, ok := ctx.Deadline(); ok {
		r.deadline = append(r.deadline, time.Until(d))
	}
	v, err, block := r.verdict, r.err, r.block
	r.mu.Unlock()
	if block {
		<-ctx.Done()
		return core.ClaimVerdict{}, ctx.Err()
	}
	return v, err
}

func (r *reviewer) set(v core.ClaimVerdict, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.verdict, r.err = v, err
}

func (r *reviewer) calls() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.asked)
}

// reviewedFixture is a flow fixture whose claims rev reviews, with
// configure applied to the configuration.
func reviewedFixture(t *testing.T, carried bool, rev *reviewer, configure ...func(*core.Config)) *flowFixture {
	return newFlowFixture(t, carried, func(c *core.Config, st *core.Stores) {
		st.Reviewer = rev
		for _, f := range configure {
			f(c)
		}
	})
}

// received PUTs a PNG for a signed-in uploader (user 7) and returns its
// token, with the upload as recorded.
func (f *flowFixture) received(t *testing.T) (core.Upload, []byte) {
	t.Helper()
	body, stripped := pngWithText(t)
	up := carriedUpload(body)
	up.Uploader.UserID = 7
	if err := f.put(t, up, body); err != nil {
		t.Fatalf("PUT: %v", err)
	}
	st, err := f.db.TokenStatus(t.Context(), up.Token)
	if err != nil || st.Upload == nil {
		t.Fatalf("TokenStatus: %+v, %v", st, err)
	}
	return *st.Upload, stripped
}

func wantCode(t *testing.T, err error, code api.Code) *core.Error {
	t.Helper()
	var e *core.Error
	if !errors.As(err, &e) || e.Code != code {
		t.Fatalf("got %v, want %s", err, code)
	}
	return e
}

// checkUnpublished fails t unless token's upload is still received,
// unclaimed, and its image is not served.
func (f *flowFixture) checkUnpublished(t *testing.T, up core.Upload) {
	t.Helper()
	st, err := f.db.TokenStatus(t.Context(), up.Token)
	if err != nil || st.Image != nil || st.Upload == nil || st.Upload.State != core.StateReceived {
		t.Errorf("TokenStatus: %+v, %v; want the upload received, no image", st, err)
	}
	if _, _, err := f.svc.Serving.OpenImage(t.Context(), up.ImageID, "png"); !errors.Is(err, core.ErrNotFound) && core.ErrorCode(err) != api.CodeNotFound {
		t.Errorf("OpenImage of the refused image: %v, want not found", err)
	}
}

// TestClaimReviewAllows: the reviewer is asked once, before the claim
// publishes, about exactly the received copy, with its perceptual hash
// (made at the claim when the background hasher has not come to it); a
// repeated claim returns the image without asking again.
func TestClaimReviewAllows(t *testing.T) {
	rev := &reviewer{verdict: core.ClaimVerdict{Allow: true}}
	f := reviewedFixture(t, true, rev)
	up, stripped := f.received(t)
	img, err := f.svc.Uploads.Claim(t.Context(), up.Token, "10016", 7)
	if err != nil {
		t.Fatalf("claim: %v", err)
	}
	f.checkServed(t, img, stripped)
	// Nothing is blocked and no background hasher runs: the claim hashes
	// the picture for the reviewer, and publishes the hash.
	d, err := pdq.File(stripped, api.PNG)
	if err != nil {
		t.Fatal(err)
	}
	want := core.ClaimReview{ImageID: up.ImageID, BrandID: "10016", ContentType: "image/png", Size: up.Size, SHA256: up.SHA256,
		PDQ: d.Hash().String(), PDQQuality: d.Quality, Uploader: core.Uploader{UserID: 7, ClientAddr: "192.0.2.7"}}
	if len(rev.asked) != 1 || rev.asked[0] != want {
		t.Fatalf("asked %+v, want once %+v", rev.asked, want)
	}
	if img.PDQ != want.PDQ || img.PDQQuality != want.PDQQuality {
		t.Errorf("published with hash %q quality %d, want the reviewed %q %d", img.PDQ, img.PDQQuality, want.PDQ, want.PDQQuality)
	}
	if img.ID != up.ImageID || img.SHA256 != up.SHA256 {
		t.Errorf("published %s (%s), reviewed %s (%s)", img.ID, img.SHA256, up.ImageID, up.SHA256)
	}
	if len(rev.deadline) != 1 || rev.deadline[0] > core.DefaultClaimReviewTimeout {
		t.Errorf("the review's deadline: %v, want one within %s", rev.deadline, core.DefaultClaimReviewTimeout)
	}
	if again, err := f.svc.Uploads.Claim(t.Context(), up.Token, "10016", 7); err != nil || again.ID != img.ID {
		t.Errorf("claim again: %+v, %v", again, err)
	}
	if rev.calls() != 1 {
		t.Errorf("asked %d times, want once: a claimed image is not reviewed again", rev.calls())
	}
}

// TestClaimReviewRefuses: a refusal is ContentRejected with the reason,
// cleaned, and nothing is published; the upload stays unclaimed, so that
// claiming again asks again, and is published once allowed.
func TestClaimReviewRefuses(t *testing.T) {
	rev := &reviewer{verdict: core.ClaimVerdict{Reason: "  nudity\n\x1b[31mpolicy \u202eevil  "}}
	f := reviewedFixture(t, true, rev)
	up, stripped := f.received(t)
	_, err := f.svc.Uploads.Claim(t.Context(), up.Token, "10016", 7)
	if e := wantCode(t, err, api.CodeContentRejected); e.Message != "nudity [31mpolicy evil" {
		t.Errorf("detail %q, want the reason cleaned", e.Message)
	}
	f.checkUnpublished(t, up)
	rev.set(core.ClaimVerdict{}, nil)
	_, err = f.svc.Uploads.Claim(t.Context(), up.Token, "10016", 7)
	if e := wantCode(t, err, api.CodeContentRejected); e.Message != "the site refused this image" {
		t.Errorf("detail %q for no reason", e.Message)
	}
	rev.set(core.ClaimVerdict{Allow: true}, nil)
	img, err := f.svc.Uploads.Claim(t.Context(), up.Token, "10016", 7)
	if err != nil {
		t.Fatalf("claim once allowed: %v", err)
	}
	f.checkServed(t, img, stripped)
	if rev.calls() != 3 {
		t.Errorf("asked %d times, want 3", rev.calls())
	}
}

// TestClaimReviewFails: no verdict (an error, or none before the
// timeout) refuses the claim with 503 ServiceUnavailable and a
// Retry-After, publishing nothing, unless ClaimReviewOnError allows.
func TestClaimReviewFails(t *testing.T) {
	for _, tc := range []struct {
		name    string
		rev     *reviewer
		onError string
	}{
		{"error", &reviewer{err: errors.New("hook answered 500")}, ""},
		{"timeout", &reviewer{block: true}, ""},
		{"error allowed", &reviewer{err: errors.New("hook answered 500")}, core.ReviewAllow},
		{"timeout allowed", &reviewer{block: true}, core.ReviewAllow},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := reviewedFixture(t, true, tc.rev, func(c *core.Config) {
				c.ClaimReviewTimeout, c.ClaimReviewOnError = 100*time.Millisecond, tc.onError
			})
			up, _ := f.received(t)
			img, err := f.svc.Uploads.Claim(t.Context(), up.Token, "10016", 7)
			if tc.onError == core.ReviewAllow {
				if err != nil || img.ID != up.ImageID {
					t.Fatalf("claim: %+v, %v; want it published", img, err)
				}
				return
			}
			e := wantCode(t, err, api.CodeServiceUnavailable)
			if e.RetryAfter <= 0 || e.Field != "" {
				t.Errorf("error %+v: want a Retry-After and no property at fault", e)
			}
			f.checkUnpublished(t, up)
			if tc.rev.calls() != 1 {
				t.Errorf("asked %d times", tc.rev.calls())
			}
		})
	}
}

// TestClaimReviewStaged: with the bytes PUT to the object store, the
// claim checks them first, then asks about the checked copy.
func TestClaimReviewStaged(t *testing.T) {
	rev := &reviewer{verdict: core.ClaimVerdict{Reason: "no"}}
	f := reviewedFixture(t, false, rev)
	body, stripped := pngWithText(t)
	token := f.stage(t, body)
	_, err := f.svc.Uploads.Claim(t.Context(), token, "10016", 0)
	wantCode(t, err, api.CodeContentRejected)
	st, _ := f.db.TokenStatus(t.Context(), token)
	if st.Upload == nil || st.Upload.State != core.StateReceived || len(rev.asked) != 1 || rev.asked[0].ImageID != st.Upload.ImageID {
		t.Fatalf("status %+v, asked %+v: want the checked copy reviewed, unpublished", st, rev.asked)
	}
	f.checkUnpublished(t, *st.Upload)
	rev.set(core.ClaimVerdict{Allow: true}, nil)
	img, err := f.svc.Uploads.Claim(t.Context(), token, "10016", 0)
	if err != nil {
		t.Fatal(err)
	}
	f.checkServed(t, img, stripped)
}

// TestClaimReviewNotAsked: claims refused anyway (unknown brand, a token
// not the claimant's, not uploaded yet) are refused as without a
// reviewer, which is not asked.
func TestClaimReviewNotAsked(t *testing.T) {
	rev := &reviewer{verdict: core.ClaimVerdict{Allow: true}}
	f := reviewedFixture(t, true, rev)
	up, _ := f.received(t)
	_, err := f.svc.Uploads.Claim(t.Context(), up.Token, "nobrand", 7)
	wantCode(t, err, api.CodeBrandNotFound)
	_, err = f.svc.Uploads.Claim(t.Context(), up.Token, "10016", 8)
	wantCode(t, err, api.CodeNotUploaded) // as a token with no upload yet
	body, _ := pngWithText(t)
	_, err = f.svc.Uploads.Claim(t.Context(), carriedUpload(body).Token, "10016", 0)
	wantCode(t, err, api.CodeNotUploaded)
	if rev.calls() != 0 {
		t.Errorf("asked %d times, want never", rev.calls())
	}
}

func TestCleanReason(t *testing.T) {
	long := strings.Repeat("ab ", 100)
	for in, want := range map[string]string{
		"":                         "",
		"  spam  ":                 "spam",
		"line one\r\nline\ttwo":    "line one line two",
		"bell\a and \x00nul":       "bell and nul",
		"rtl \u202eoverride\u200b": "rtl override",
		"bad \xff\xfe utf8":        "bad utf8",
		"zwj emoji 👩\u200d💻 kept?": "zwj emoji 👩💻 kept?",
		long:                       strings.TrimSpace(long[:api.MaxClaimHookReason-1]) + "…",
	} {
		if got := core.CleanReason(in); got != want {
			t.Errorf("CleanReason(%q) = %q, want %q", in, got, want)
		}
		if n := len([]rune(core.CleanReason(in))); n > api.MaxClaimHookReason {
			t.Errorf("CleanReason(%q) has %d characters", in, n)
		}
	}
}

func TestClaimReviewConfig(t *testing.T) {
	for _, tc := range []struct {
		cfg   core.Config
		field core.ConfigField
	}{
		{core.Config{ClaimReviewTimeout: 50 * time.Millisecond}, core.ConfigClaimReviewTimeout},
		{core.Config{ClaimReviewTimeout: 2 * time.Minute}, core.ConfigClaimReviewTimeout},
		{core.Config{ClaimReviewOnError: "deny"}, core.ConfigClaimReviewOnError},
	} {
		var fe *config.FieldError
		if err := tc.cfg.Validate(); !errors.As(err, &fe) || fe.Field != tc.field {
			t.Errorf("Validate(%+v) = %v, want an error of %s", tc.cfg, err, tc.field)
		}
	}
	for _, ok := range []core.Config{{}, {ClaimReviewTimeout: time.Second, ClaimReviewOnError: core.ReviewAllow}} {
		if err := ok.Validate(); err != nil {
			t.Errorf("Validate(%+v) = %v", ok, err)
		}
	}
}
