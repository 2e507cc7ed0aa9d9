package api

import "time"

// The claim hook (serve --claim-hook URL) is the host app's review of an
// image before it is published: during step 3 the server POSTs a
// ClaimHookRequest to the hook, signed as Standard Webhooks are (headers
// webhook-id, webhook-timestamp and webhook-signature, keyed with
// USERIMAGES_CLAIM_HOOK_SECRET), and the hook answers a ClaimHookVerdict.
// A refusal answers the claim 422 CodeContentRejected with the verdict's
// reason as detail; nothing is published.

// ClaimHookType is the Type of every ClaimHookRequest.
const ClaimHookType = "image.claim_review"

// ClaimHookRequest is the body the server POSTs to the claim hook, in the
// Standard Webhooks shape {"type", "timestamp", "data"}.
type ClaimHookRequest struct {
	Type      string        `json:"type"`
	Timestamp time.Time     `json:"timestamp"`
	Data      ClaimHookData `json:"data"`
}

// ClaimHookData is the image under review.
type ClaimHookData struct {
	// ImageID is the id the image will be published under (the path's
	// /hc/user_images/<id>.<ext>); nothing is served there yet.
	ImageID     string `json:"image_id"`
	BrandID     string `json:"brand_id"`
	ContentType string `json:"content_type"`
	// Size is the byte size of the copy that would be published (metadata
	// stripped unless the server keeps it), SHA256 its hex digest.
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
	// PDQ is the picture's PDQ perceptual hash (64 hex digits) and
	// PDQQuality its quality (0–100), when the server hashed it (it does
	// while any picture is blocked by resemblance); else absent.
	PDQ        string `json:"pdq,omitempty"`
	PDQQuality int    `json:"pdq_quality,omitempty"`
	// Uploader is who sent the upload; nil for an anonymous upload.
	Uploader *ClaimHookUploader `json:"uploader"`
	// BytesURL serves exactly the bytes that would be published, to a GET
	// with no credentials, until BytesURLExpires (short: the hook's
	// timeout plus a minute). It is signed; changed, it answers 403.
	BytesURL        string    `json:"bytes_url"`
	BytesURLExpires time.Time `json:"bytes_url_expires"`
}

// ClaimHookUploader is a signed-in uploader: the server's user id.
type ClaimHookUploader struct {
	UserID int64 `json:"user_id"`
}

// ClaimHookVerdict is the claim hook's answer, with a 2xx status:
// {"allow": true}, or {"allow": false, "reason": "…"}. Allow is required.
// The server shows Reason to the uploader as the detail of
// ContentRejected, reduced to one line of printable text of at most
// MaxClaimHookReason characters.
type ClaimHookVerdict struct {
	Allow  *bool  `json:"allow"`
	Reason string `json:"reason,omitempty"`
}

// MaxClaimHookReason is the most characters (runes) of a verdict's reason
// the server shows; a longer one is cut and ends in "…".
const MaxClaimHookReason = 200
