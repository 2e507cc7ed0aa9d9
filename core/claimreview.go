package core

import (
	"context"
	"fmt"
	"strings"
	"time"
	"unicode"

	"github.com/userimages/userimages/client/api"

	"userimages/internal/config"
)

// ClaimReviewer is the host app's review of an image before it is
// published (the claim hook; package claimhook calls it over HTTP).
//
// Contract: Review returns the host app's verdict on r, or an error when
// it gave none: no answer before ctx's deadline (Uploads sets it to
// Config.ClaimReviewTimeout), a non-2xx answer, an answer that is no
// verdict. It publishes nothing and keeps no state; Uploads may call it
// again for the same image (a claim retried after a refusal or a failure).
type ClaimReviewer interface {
	Review(ctx context.Context, r ClaimReview) (ClaimVerdict, error)
}

// ClaimReview is what the reviewer is told of an image about to be
// published: the received upload's checked copy (ImageKey(ImageID)), the
// brand it is claimed for and who uploaded it.
type ClaimReview struct {
	ImageID     string
	BrandID     string
	ContentType string
	Size        int64
	SHA256      string
	PDQ         string // "" when not hashed
	PDQQuality  int
	Uploader    Uploader
}

// ClaimVerdict is the reviewer's answer. Reason, for a refusal, is the
// host app's text, unchecked: Uploads cleans it (CleanReason) before
// showing it.
type ClaimVerdict struct {
	Allow  bool
	Reason string
}

// Values of Config.ClaimReviewOnError.
const (
	// ReviewFailClosed: a claim whose review failed is refused, 503
	// ServiceUnavailable with Retry-After; nothing is published.
	ReviewFailClosed = "fail"
	// ReviewAllow: a claim whose review failed is published, with a
	// warning logged.
	ReviewAllow = "allow"
)

// DefaultClaimReviewTimeout is how long a claim waits for the reviewer's
// verdict by default.
const DefaultClaimReviewTimeout = 5 * time.Second

// maxClaimReviewTimeout bounds Config.ClaimReviewTimeout: a claim is a
// request a person waits on.
const maxClaimReviewTimeout = time.Minute

// claimReviewRetryAfter is the Retry-After of a claim refused because the
// review failed.
const claimReviewRetryAfter = 5 * time.Second

// review asks the reviewer about up, received and claimable for brandID:
// nil to publish it, a ContentRejected *Error when refused, a
// ServiceUnavailable one when the review failed (unless
// ClaimReviewOnError allows).
func (s *Uploads) review(ctx context.Context, up Upload, brandID string) error {
	rctx, cancel := context.WithTimeout(ctx, s.cfg.ClaimReviewTimeout)
	defer cancel()
	v, err := s.reviewer.Review(rctx, ClaimReview{ImageID: up.ImageID, BrandID: brandID, ContentType: up.ContentType, Size: up.Size,
		SHA256: up.SHA256, PDQ: up.PDQ, PDQQuality: up.PDQQuality, Uploader: up.Uploader})
	switch {
	case err != nil && s.cfg.ClaimReviewOnError == ReviewAllow:
		s.log.WarnContext(ctx, "claim hook failed; publishing as --claim-hook-on-error allow says", "image", up.ImageID, "err", err)
		return nil
	case err != nil:
		s.log.WarnContext(ctx, "claim hook failed; the claim is refused (503)", "image", up.ImageID, "err", err)
		return &Error{Code: api.CodeServiceUnavailable, RetryAfter: claimReviewRetryAfter,
			Message: "the site's review of images did not answer; nothing was published, retry later", Err: reviewFault{err}}
	case !v.Allow:
		reason := CleanReason(v.Reason)
		s.log.InfoContext(ctx, "claim hook refused an image", "image", up.ImageID, "hook_reason", reason)
		if reason == "" {
			reason = "the site refused this image"
		}
		return Errorf(api.CodeContentRejected, "%s", reason)
	}
	return nil
}

// reviewFault wraps the reviewer's error so that Classify never reads its
// deadline or cancellation as a store's fault.
type reviewFault struct{ err error }

func (f reviewFault) Error() string { return "claim review: " + f.err.Error() }

// CleanReason makes a reviewer's reason fit to show: invalid UTF-8 and
// control or formatting characters (bidirectional overrides among them)
// dropped, runs of white space made one space, at most
// api.MaxClaimHookReason characters, the last "…" when cut.
func CleanReason(s string) string {
	const most = api.MaxClaimHookReason
	var b strings.Builder
	space := false
	for _, r := range strings.ToValidUTF8(s, "") {
		switch {
		case unicode.IsSpace(r):
			space = b.Len() > 0
		case !unicode.IsGraphic(r) || unicode.Is(unicode.Cf, r):
		default:
			if space {
				b.WriteByte(' ')
				space = false
			}
			b.WriteRune(r)
		}
		if b.Len() > 4*(most+1) { // enough runes to cut at most
			break
		}
	}
	out := []rune(b.String())
	if len(out) <= most {
		return string(out)
	}
	return strings.TrimRight(string(out[:most-1]), " ") + "…"
}

// checkClaimReview checks the claim hook's settings.
func (c Config) checkClaimReview() error {
	switch {
	case c.ClaimReviewTimeout < 100*time.Millisecond || c.ClaimReviewTimeout > maxClaimReviewTimeout:
		return config.Invalid(ConfigClaimReviewTimeout, c.ClaimReviewTimeout, fmt.Sprintf("must be between 100ms and %s", maxClaimReviewTimeout))
	case c.ClaimReviewOnError != ReviewFailClosed && c.ClaimReviewOnError != ReviewAllow:
		return config.Invalid(ConfigClaimReviewOnError, c.ClaimReviewOnError, "want fail or allow")
	}
	return nil
}
