package httpapi_test

import (
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"userimages/httpapi"

	"github.com/userimages/userimages/client/api"
)

// TestPutAnswersETag: a 200 PUT answers the ETag S3 does, the quoted MD5
// of the bytes, readable by a page on another origin.
func TestPutAnswersETag(t *testing.T) {
	e := newEnv(t, func(c *httpapi.Config) { c.CORSOrigins = []string{helpCenter} })
	for _, f := range []struct {
		contentType string
		body        []byte
	}{{"image/jpeg", testJPEG(t, 40, 30)}, {"image/png", testPNG(t, 30, 20)}} {
		u := e.create(f.contentType, len(f.body))
		req := e.putRequest(u, f.body)
		req.Header.Set("Origin", helpCenter)
		res := e.do(req)
		sum := md5.Sum(f.body)
		if want := `"` + hex.EncodeToString(sum[:]) + `"`; res.status != http.StatusOK || res.header.Get("ETag") != want {
			t.Errorf("PUT %s: got %d with ETag %q, want 200 with %s", f.contentType, res.status, res.header.Get("ETag"), want)
		}
		if exposed := headerTokens(res.header, "Access-Control-Expose-Headers"); !slices.Contains(exposed, "etag") {
			t.Errorf("Access-Control-Expose-Headers %q: want ETag in it", exposed)
		}
	}
}

// TestPutWithoutFixedHeaders: a PUT that sends none of the signed headers
// the server fixed (as Uppy 6's AwsS3 does: only Content-Type) is
// received and claimed; one whose sent header differs is refused.
func TestPutWithoutFixedHeaders(t *testing.T) {
	e := newEnv(t)
	img := testJPEG(t, 40, 30)
	u := e.create("image/jpeg", len(img))
	if u.Headers["Content-Disposition"] == "" || u.Headers["X-Amz-Server-Side-Encryption"] == "" {
		t.Fatalf("upload headers %v: want Content-Disposition and X-Amz-Server-Side-Encryption signed", u.Headers)
	}
	req := e.putRequest(upload{URL: u.URL, Headers: map[string]string{"Content-Type": "image/jpeg"}}, img)
	if res := e.do(req); res.status != http.StatusOK || res.header.Get("ETag") == "" {
		t.Fatalf("PUT with only Content-Type: got %d %s (ETag %q), want 200 with an ETag", res.status, res.body, res.header.Get("ETag"))
	}
	res := e.postJSON(claimPath, e.claimBody(u.Token, "10016"))
	if res.status != http.StatusCreated {
		t.Fatalf("claim: got %d %s, want 201", res.status, res.body)
	}

	other := e.create("image/jpeg", len(img))
	req = e.putRequest(upload{URL: other.URL, Headers: map[string]string{"Content-Type": "image/jpeg",
		"Content-Disposition": strings.Replace(other.Headers["Content-Disposition"], other.Token, u.Token, 1)}}, img)
	if res := e.do(req); res.status != http.StatusForbidden || res.header.Get("X-Amz-Error-Code") != "SignatureDoesNotMatch" {
		t.Errorf("PUT with another upload's Content-Disposition: got %d %s (X-Amz-Error-Code %q), want 403 SignatureDoesNotMatch",
			res.status, res.body, res.header.Get("X-Amz-Error-Code"))
	}
}

// TestPutRefusalsNameS3Codes: each refusal of the upload target keeps
// Zendesk's JSON errors body and says its S3 code in X-Amz-Error-Code,
// readable by a page on another origin.
func TestPutRefusalsNameS3Codes(t *testing.T) {
	img := testJPEG(t, 40, 30)
	tests := []struct {
		name   string
		setup  func(e *env) *http.Request
		status int
		code   api.Code
		s3Code string
	}{
		{"signed header changed", func(e *env) *http.Request {
			req := e.putRequest(e.create("image/jpeg", len(img)), img)
			req.Header.Set("X-Amz-Server-Side-Encryption", "aws:kms")
			return req
		}, 403, api.CodeSignatureMismatch, "SignatureDoesNotMatch"},
		{"not an upload URL", func(e *env) *http.Request {
			return e.putRequest(upload{URL: e.srv.URL + "/uploads/nope"}, img)
		}, 403, api.CodeSignatureMismatch, "SignatureDoesNotMatch"},
		{"expired", func(e *env) *http.Request {
			u := e.create("image/jpeg", len(img))
			e.Advance(time.Hour + time.Second)
			return e.putRequest(u, img)
		}, 403, api.CodeUploadURLExpired, "ExpiredToken"},
		{"longer than declared", func(e *env) *http.Request {
			return e.putRequest(e.create("image/jpeg", len(img)-1), img)
		}, 413, api.CodePayloadTooLarge, "EntityTooLarge"},
		{"shorter than declared", func(e *env) *http.Request {
			return e.putRequest(e.create("image/jpeg", len(img)+1), img)
		}, 400, api.CodeIncompleteBody, "IncompleteBody"},
		{"second PUT", func(e *env) *http.Request {
			u := e.create("image/jpeg", len(img))
			e.put(u, img)
			return e.putRequest(u, img)
		}, 409, api.CodeAlreadyUploaded, "PreconditionFailed"},
		// S3 checks no images: the API's own code.
		{"not the declared type", func(e *env) *http.Request {
			p := testPNG(t, 10, 10)
			return e.putRequest(e.create("image/jpeg", len(p)), p)
		}, 422, api.CodeContentMismatch, "ContentMismatch"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, func(c *httpapi.Config) { c.CORSOrigins = []string{helpCenter} })
			req := tt.setup(e)
			req.Header.Set("Origin", helpCenter)
			res := e.do(req)
			if res.status != tt.status {
				t.Errorf("status: got %d, want %d (body %s)", res.status, tt.status, res.body)
			}
			checkErrorBody(t, res, tt.status, tt.code)
			if got := res.header.Get("X-Amz-Error-Code"); got != tt.s3Code {
				t.Errorf("X-Amz-Error-Code: got %q, want %q", got, tt.s3Code)
			}
			if exposed := headerTokens(res.header, "Access-Control-Expose-Headers"); !slices.Contains(exposed, "x-amz-error-code") {
				t.Errorf("Access-Control-Expose-Headers %q: want X-Amz-Error-Code in it", exposed)
			}
		})
	}
}

// TestS3CodesMeanTheSame: a client that reads only X-Amz-Error-Code (see
// api.Code.Meaning) takes each refusal as it takes the API code: the same
// status, and the same need for a new upload URL.
func TestS3CodesMeanTheSame(t *testing.T) {
	for _, ci := range api.Codes() {
		s3 := api.Code(httpapi.S3ErrorCode(ci.Code))
		meant, ok := s3.Meaning()
		if !ok {
			continue // a code of S3's that clients do not know, or the API's own
		}
		if meant.Status != ci.Status || s3.NeedsNewUpload() != ci.Code.NeedsNewUpload() {
			b, _ := json.Marshal(meant)
			t.Errorf("%s is sent as %s, which means %s", ci.Code, s3, b)
		}
	}
}
