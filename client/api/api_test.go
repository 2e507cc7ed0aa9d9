package api

import (
	"strings"
	"testing"
)

// TestPlainSentences: every code has a plain sentence the CLI and the
// composer can add to: lower case first, no final stop.
func TestPlainSentences(t *testing.T) {
	for _, ci := range Codes() {
		p := ci.Plain
		if p == "" || strings.ToLower(p[:1]) != p[:1] || strings.HasSuffix(p, ".") {
			t.Errorf("%s: got plain sentence %q, want one in lower case first with no final stop", ci.Code, p)
		}
	}
	ci, _ := CodeInvalidImage.Info()
	if got, want := ci.Sentence("a.png"), "a.png is not a valid image: it is damaged or has no pixels"; got != want {
		t.Errorf("Sentence: got %q, want %q", got, want)
	}
}

func TestNeedsNewUpload(t *testing.T) {
	for _, tc := range []struct {
		code Code
		want bool
	}{
		{CodeUploadURLExpired, true},
		{"ExpiredToken", true}, // S3's word for an expired presigned URL
		{CodeTokenExpired, true},
		{CodeAlreadyClaimed, true},
		{CodeStorageUnavailable, false}, // the same step again
		{CodeContentMismatch, false},
		{"NoSuchBucket", false},
	} {
		if got := tc.code.NeedsNewUpload(); got != tc.want {
			t.Errorf("%s.NeedsNewUpload(): got %v, want %v", tc.code, got, tc.want)
		}
	}
}

func TestRetryable(t *testing.T) {
	for _, tc := range []struct {
		code Code
		want bool
	}{
		{CodeStorageUnavailable, true},
		{CodeRateLimited, true},
		{CodeInsufficientStorage, true},
		{CodeIncompleteBody, true},
		{"ExpiredToken", true}, // S3's UploadURLExpired: a fresh URL
		{CodeBlockedContent, false},
		{CodeContentRejected, false},
		{CodeContentMismatch, false},
		{CodeFileTooLarge, false},
		{CodeUnauthorized, false},
		{CodeBrandNotFound, false},
		{"NoSuchBucket", false},
	} {
		if got := tc.code.Retryable(); got != tc.want {
			t.Errorf("%s.Retryable(): got %v, want %v", tc.code, got, tc.want)
		}
	}
	// A retry that needs a new upload is still a retry.
	for c := range StoreCodes() {
		if c.NeedsNewUpload() && !c.Retryable() {
			t.Errorf("%s needs a new upload but is not Retryable", c)
		}
	}
	for _, ci := range Codes() {
		if ci.Code.NeedsNewUpload() && !ci.Code.Retryable() {
			t.Errorf("%s needs a new upload but is not Retryable", ci.Code)
		}
		// Every code the server answers with Retry-After invites a retry.
		if ci.RetryAfter > 0 && !ci.Code.Retryable() {
			t.Errorf("%s has a Retry-After but is not Retryable", ci.Code)
		}
	}
}
