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
