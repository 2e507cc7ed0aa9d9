package httpapi_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/userimages/userimages/client/api"
)

const (
	createPath = "/api/v2/guide/user_images/uploads"
	claimPath  = "/api/v2/guide/user_images"
)

// chunked hides a body's length so it is sent with chunked encoding.
type chunked struct{ io.Reader }

// TestBadInput sends one bad request per case to a real server and checks
// the status, the error code, the error body's shape, and that nothing was
// stored by the bad request (setup may store; the snapshot is taken after).
func TestBadInput(t *testing.T) {
	img := testJPEG(t, 40, 30)
	png := testPNG(t, 40, 30)
	size := strconv.Itoa(len(img))
	basic := func(user, pass string) string {
		return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
	}
	withHeader := func(req *http.Request, k, v string) *http.Request {
		req.Header.Set(k, v)
		return req
	}
	createWith := func(e *env, body string) *http.Request {
		return e.request(http.MethodPost, createPath, strings.NewReader(body))
	}
	claimWith := func(e *env, body string) *http.Request {
		return e.request(http.MethodPost, claimPath, strings.NewReader(body))
	}
	good := `{"content_type":"image/jpeg","file_size":` + size + `}`
	tamperQuery := func(rawURL, k, v string) string {
		u, _ := url.Parse(rawURL)
		q := u.Query()
		q.Set(k, v)
		u.RawQuery = q.Encode()
		return u.String()
	}

	tests := []struct {
		name   string
		setup  func(e *env) *http.Request
		status int
		code   api.Code
	}{
		// Step 1: create upload.
		{"create: malformed JSON", func(e *env) *http.Request { return createWith(e, `{"content_type":`) }, 400, api.CodeInvalidJSON},
		{"create: JSON array", func(e *env) *http.Request { return createWith(e, `[]`) }, 400, api.CodeInvalidJSON},
		{"create: JSON string", func(e *env) *http.Request { return createWith(e, `"image/jpeg"`) }, 400, api.CodeInvalidJSON},
		{"create: JSON null", func(e *env) *http.Request { return createWith(e, `null`) }, 400, api.CodeInvalidJSON},
		{"create: trailing garbage", func(e *env) *http.Request { return createWith(e, good+` x`) }, 400, api.CodeInvalidJSON},
		{"create: empty body", func(e *env) *http.Request { return createWith(e, ``) }, 422, api.CodeInvalidProperty},
		{"create: file_size missing", func(e *env) *http.Request { return createWith(e, `{"content_type":"image/jpeg"}`) }, 422, api.CodeInvalidProperty},
		{"create: content_type a number", func(e *env) *http.Request { return createWith(e, `{"content_type":1,"file_size":10}`) }, 422, api.CodeInvalidProperty},
		{"create: text/html", func(e *env) *http.Request { return createWith(e, `{"content_type":"text/html","file_size":10}`) }, 422, api.CodeUnsupportedContentType},
		{"create: svg", func(e *env) *http.Request { return createWith(e, `{"content_type":"image/svg+xml","file_size":10}`) }, 422, api.CodeUnsupportedContentType},
		{"create: file_size zero", func(e *env) *http.Request { return createWith(e, `{"content_type":"image/png","file_size":0}`) }, 422, api.CodeInvalidFileSize},
		{"create: file_size negative", func(e *env) *http.Request { return createWith(e, `{"content_type":"image/png","file_size":-5}`) }, 422, api.CodeInvalidFileSize},
		{"create: file_size fraction", func(e *env) *http.Request { return createWith(e, `{"content_type":"image/png","file_size":1.5}`) }, 422, api.CodeInvalidFileSize},
		{"create: file_size exponent", func(e *env) *http.Request { return createWith(e, `{"content_type":"image/png","file_size":1e30}`) }, 422, api.CodeInvalidFileSize},
		{"create: file_size a string", func(e *env) *http.Request { return createWith(e, `{"content_type":"image/png","file_size":"100"}`) }, 422, api.CodeInvalidProperty},
		{"create: file_size over 2 MB", func(e *env) *http.Request { return createWith(e, `{"content_type":"image/png","file_size":2000001}`) }, 422, api.CodeFileTooLarge},
		{"create: file_size overflows int64", func(e *env) *http.Request {
			return createWith(e, `{"content_type":"image/png","file_size":99999999999999999999}`)
		}, 422, api.CodeFileTooLarge},
		{"create: body over 64 KiB", func(e *env) *http.Request {
			return createWith(e, `{"content_type":"image/png","file_size":10,"pad":"`+strings.Repeat("a", 70<<10)+`"}`)
		}, 413, api.CodeBodyTooLarge},
		{"create: wrong password", func(e *env) *http.Request {
			return withHeader(createWith(e, good), "Authorization", basic("ann@example.com", "wrong horse"))
		}, 401, api.CodeUnauthorized},
		{"create: unknown user", func(e *env) *http.Request {
			return withHeader(createWith(e, good), "Authorization", basic("bob@example.com", "correct horse"))
		}, 401, api.CodeUnauthorized},
		{"create: bad API token", func(e *env) *http.Request {
			return withHeader(createWith(e, good), "Authorization", basic("ann@example.com/token", strings.Repeat("a", 52)))
		}, 401, api.CodeUnauthorized},
		{"create: bad bearer", func(e *env) *http.Request {
			return withHeader(createWith(e, good), "Authorization", "Bearer nope")
		}, 401, api.CodeUnauthorized},
		{"create: basic not base64", func(e *env) *http.Request {
			return withHeader(createWith(e, good), "Authorization", "Basic !!!")
		}, 401, api.CodeUnauthorized},
		{"create: unknown scheme", func(e *env) *http.Request {
			return withHeader(createWith(e, good), "Authorization", "Digest abc")
		}, 401, api.CodeUnauthorized},
		{"create: malformed Host header", func(e *env) *http.Request {
			req := createWith(e, good)
			req.Host = "a%zz"
			return req
		}, 400, api.CodeInvalidHost},
		{"create: GET instead of POST", func(e *env) *http.Request { return e.request(http.MethodGet, createPath, nil) }, 405, api.CodeMethodNotAllowed},

		// Step 2: PUT to the upload URL.
		{"put: signature changed", func(e *env) *http.Request {
			u := e.create("image/jpeg", len(img))
			u.URL = tamperQuery(u.URL, "X-Amz-Signature", strings.Repeat("0", 64))
			return e.putRequest(u, img)
		}, 403, api.CodeSignatureMismatch},
		{"put: declared type changed in the URL", func(e *env) *http.Request {
			u := e.create("image/jpeg", len(img))
			u.URL = tamperQuery(u.URL, "Content-Type", "image/png")
			return e.putRequest(u, img)
		}, 403, api.CodeSignatureMismatch},
		{"put: PNG bytes under a JPEG URL, sent as image/png", func(e *env) *http.Request {
			return withHeader(e.putRequest(e.create("image/jpeg", len(png)), png), "Content-Type", "image/png")
		}, 422, api.CodeContentMismatch},
		{"put: signed header changed", func(e *env) *http.Request {
			req := e.putRequest(e.create("image/jpeg", len(img)), img)
			req.Header.Set("Content-Disposition", "inline")
			return req
		}, 403, api.CodeSignatureMismatch},
		{"put: signed header omitted, another changed", func(e *env) *http.Request {
			req := e.putRequest(e.create("image/jpeg", len(img)), img)
			req.Header.Del("Content-Disposition")
			req.Header.Set("X-Amz-Server-Side-Encryption", "aws:kms")
			return req
		}, 403, api.CodeSignatureMismatch},
		{"put: wrong host", func(e *env) *http.Request {
			req := e.putRequest(e.create("image/jpeg", len(img)), img)
			req.Host = "other.example.test"
			return req
		}, 403, api.CodeSignatureMismatch},
		{"put: no signature at all", func(e *env) *http.Request {
			u := e.create("image/jpeg", len(img))
			u.URL = e.srv.URL + "/uploads/" + u.Token
			return e.putRequest(u, img)
		}, 403, api.CodeSignatureMismatch},
		{"put: expired", func(e *env) *http.Request {
			u := e.create("image/jpeg", len(img))
			e.Advance(time.Hour + time.Second)
			return e.putRequest(u, img)
		}, 403, api.CodeUploadURLExpired},
		{"put: longer than declared", func(e *env) *http.Request {
			return e.putRequest(e.create("image/jpeg", len(img)-1), img)
		}, 413, api.CodePayloadTooLarge},
		{"put: longer than declared, chunked", func(e *env) *http.Request {
			req := e.putRequest(e.create("image/jpeg", len(img)-1), nil)
			req.Body, req.ContentLength = io.NopCloser(chunked{strings.NewReader(string(img))}), -1
			return req
		}, 413, api.CodePayloadTooLarge},
		{"put: shorter than declared", func(e *env) *http.Request {
			return e.putRequest(e.create("image/jpeg", len(img)+1), img)
		}, 400, api.CodeIncompleteBody},
		{"put: shorter than declared, chunked", func(e *env) *http.Request {
			req := e.putRequest(e.create("image/jpeg", len(img)+1), nil)
			req.Body, req.ContentLength = io.NopCloser(chunked{strings.NewReader(string(img))}), -1
			return req
		}, 400, api.CodeIncompleteBody},
		{"put: second PUT", func(e *env) *http.Request {
			u := e.create("image/jpeg", len(img))
			e.put(u, img)
			return e.putRequest(u, img)
		}, 409, api.CodeAlreadyUploaded},
		{"put: after claim", func(e *env) *http.Request {
			u, _ := e.claimed("image/jpeg", img)
			return e.putRequest(u, img)
		}, 409, api.CodeAlreadyUploaded},
		{"put: bad credentials", func(e *env) *http.Request {
			req := e.putRequest(e.create("image/jpeg", len(img)), img)
			return withHeader(req, "Authorization", basic("ann@example.com", "nope"))
		}, 401, api.CodeUnauthorized},

		// Step 3: claim.
		{"claim: token missing", func(e *env) *http.Request { return claimWith(e, `{"brand_id":"10016"}`) }, 422, api.CodeInvalidProperty},
		{"claim: token malformed", func(e *env) *http.Request { return claimWith(e, e.claimBody("../../etc/passwd", "10016")) }, 422, api.CodeInvalidProperty},
		{"claim: token lower case", func(e *env) *http.Request {
			u := e.create("image/jpeg", len(img))
			e.put(u, img)
			return claimWith(e, e.claimBody(strings.ToLower(u.Token), "10016"))
		}, 422, api.CodeInvalidProperty},
		{"claim: token unknown", func(e *env) *http.Request { return claimWith(e, e.claimBody("01GC9JEN2X052BAKW905PH9C36", "10016")) }, 404, api.CodeTokenNotFound},
		{"claim: brand missing", func(e *env) *http.Request {
			return claimWith(e, `{"token":"`+e.create("image/jpeg", len(img)).Token+`"}`)
		}, 422, api.CodeInvalidProperty},
		{"claim: brand unknown", func(e *env) *http.Request {
			u := e.create("image/jpeg", len(img))
			e.put(u, img)
			return claimWith(e, e.claimBody(u.Token, "99999"))
		}, 422, api.CodeBrandNotFound},
		{"claim: brand a fraction", func(e *env) *http.Request {
			return claimWith(e, `{"token":"`+e.create("image/jpeg", len(img)).Token+`","brand_id":1.5}`)
		}, 422, api.CodeInvalidProperty},
		{"claim: brand an object", func(e *env) *http.Request {
			return claimWith(e, `{"token":"`+e.create("image/jpeg", len(img)).Token+`","brand_id":{}}`)
		}, 422, api.CodeInvalidProperty},
		{"claim: before upload", func(e *env) *http.Request {
			return claimWith(e, e.claimBody(e.create("image/jpeg", len(img)).Token, "10016"))
		}, 409, api.CodeNotUploaded},
		{"claim: after the claim window", func(e *env) *http.Request {
			u := e.create("image/jpeg", len(img))
			e.put(u, img)
			e.Advance(24*time.Hour + time.Second)
			return claimWith(e, e.claimBody(u.Token, "10016"))
		}, 410, api.CodeTokenExpired},
		{"put: PNG bytes declared JPEG", func(e *env) *http.Request {
			p := testPNG(t, 10, 10)
			return e.putRequest(e.create("image/jpeg", len(p)), p)
		}, 422, api.CodeContentMismatch},
		{"put: HTML declared PNG", func(e *env) *http.Request {
			h := []byte("<html><script>alert(1)</script></html>")
			return e.putRequest(e.create("image/png", len(h)), h)
		}, 422, api.CodeContentMismatch},
		{"put: SVG declared GIF", func(e *env) *http.Request {
			h := []byte(`<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>`)
			return e.putRequest(e.create("image/gif", len(h)), h)
		}, 422, api.CodeContentMismatch},
		{"put: PNG decompression bomb header", func(e *env) *http.Request {
			p := pngWithDims(t, 30000, 30000)
			return e.putRequest(e.create("image/png", len(p)), p)
		}, 422, api.CodeImageTooLarge},
		// The whole image is checked as it arrives: a bad one is refused
		// at the PUT, before anything is stored.
		{"put: JPEG too wide", func(e *env) *http.Request {
			j := jpegWithDims(t, 30000, 10)
			return e.putRequest(e.create("image/jpeg", len(j)), j)
		}, 422, api.CodeImageTooLarge},
		{"put: JPEG with stray bytes", func(e *env) *http.Request {
			j := testJPEG(t, 10, 10)
			i := bytes.Index(j, []byte{0xFF, 0xC0})
			j = append(append(append([]byte{}, j[:i]...), 0x00, 0x01), j[i:]...)
			return e.putRequest(e.create("image/jpeg", len(j)), j)
		}, 422, api.CodeInvalidImage},
		{"put: truncated JPEG", func(e *env) *http.Request {
			j := testJPEG(t, 40, 40)
			j = j[:len(j)-30]
			return e.putRequest(e.create("image/jpeg", len(j)), j)
		}, 422, api.CodeTruncatedImage},
		{"put: truncated PNG header", func(e *env) *http.Request {
			b := testPNG(t, 10, 10)[:20]
			return e.putRequest(e.create("image/png", len(b)), b)
		}, 422, api.CodeTruncatedImage},
		{"claim: other brand", func(e *env) *http.Request {
			u, _ := e.claimed("image/jpeg", img)
			return claimWith(e, e.claimBody(u.Token, "20000"))
		}, 409, api.CodeAlreadyClaimed},
		{"claim: malformed JSON", func(e *env) *http.Request { return claimWith(e, `{token}`) }, 400, api.CodeInvalidJSON},

		// Serving.
		{"get: unknown id", func(e *env) *http.Request {
			return e.request(http.MethodGet, "/hc/user_images/AAAAAAAAAAAAAAAAAAAAAA.jpeg", nil)
		}, 404, api.CodeNotFound},
		{"get: wrong extension", func(e *env) *http.Request {
			_, path := e.claimed("image/jpeg", img)
			return e.request(http.MethodGet, strings.TrimSuffix(path, ".jpeg")+".png", nil)
		}, 404, api.CodeNotFound},
		{"get: no extension", func(e *env) *http.Request {
			_, path := e.claimed("image/jpeg", img)
			return e.request(http.MethodGet, strings.TrimSuffix(path, ".jpeg"), nil)
		}, 404, api.CodeNotFound},
		{"get: malformed id", func(e *env) *http.Request { return e.request(http.MethodGet, "/hc/user_images/..%2f..%2fdb.jpeg", nil) }, 404, api.CodeNotFound},
		{"get: unclaimed upload by token", func(e *env) *http.Request {
			u := e.create("image/jpeg", len(img))
			e.put(u, img)
			return e.request(http.MethodGet, "/hc/user_images/"+u.Token+".jpeg", nil)
		}, 404, api.CodeNotFound},
		{"get: unknown route", func(e *env) *http.Request { return e.request(http.MethodGet, "/api/v2/nope", nil) }, 404, api.CodeNotFound},
		{"get: POST to an image", func(e *env) *http.Request {
			_, path := e.claimed("image/jpeg", img)
			return e.request(http.MethodPost, path, nil)
		}, 405, api.CodeMethodNotAllowed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			req := tt.setup(e)
			before := e.snapshot()
			res := e.do(req)
			if res.status != tt.status {
				t.Errorf("status: got %d, want %d (body %s)", res.status, tt.status, res.body)
			}
			checkErrorBody(t, res, tt.status, tt.code)
			// The upload target's refusals name their S3 code too, for
			// S3 clients; no other route's do.
			isPut := req.Method == http.MethodPut && strings.HasPrefix(req.URL.Path, "/uploads/")
			if got := res.header.Get("X-Amz-Error-Code"); (got != "") != isPut {
				t.Errorf("X-Amz-Error-Code: got %q, want one only on an upload PUT's refusal", got)
			}
			if after := e.snapshot(); after != before {
				t.Errorf("stored state changed:\n got %s\nwant %s", after, before)
			}
		})
	}
	if len(tests) < 30 {
		t.Errorf("got %d cases, want at least 30", len(tests))
	}
}

// checkErrorBody checks a Guide-Medias-style error document: a non-empty
// errors array whose first item has the code and status.
func checkErrorBody(t *testing.T, res response, status int, code api.Code) {
	t.Helper()
	if ct := res.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type: got %q, want application/json", ct)
	}
	var body struct {
		Errors []struct {
			Code   api.Code `json:"code"`
			Title  string   `json:"title"`
			Detail string   `json:"detail"`
			Status string   `json:"status"`
		} `json:"errors"`
	}
	if err := json.Unmarshal(res.body, &body); err != nil || len(body.Errors) == 0 {
		t.Fatalf("body: got %s, want a non-empty errors array", res.body)
	}
	got := body.Errors[0]
	if got.Code != code {
		t.Errorf("code: got %s, want %s", got.Code, code)
	}
	if got.Status != strconv.Itoa(status) || got.Title == "" || got.Detail == "" {
		t.Errorf("error item: got %+v, want status %d and a title and detail", got, status)
	}
}

// TestFileTooLargeGivesItsLimit: the limit of a FileTooLarge is a number in
// meta.limit, so that no client parses the detail; other errors have no meta.
func TestFileTooLargeGivesItsLimit(t *testing.T) {
	e := newEnv(t)
	cases := []struct {
		body string
		want *api.ErrorMeta
	}{
		{`{"content_type":"image/png","file_size":2000001}`, &api.ErrorMeta{Limit: 2_000_000}},
		{`{"content_type":"image/png","file_size":0}`, nil},
	}
	for _, tc := range cases {
		res := e.do(e.request(http.MethodPost, createPath, strings.NewReader(tc.body)))
		var body api.ErrorBody
		if err := json.Unmarshal(res.body, &body); err != nil || len(body.Errors) != 1 {
			t.Fatalf("%s: got %d %s, want one error", tc.body, res.status, res.body)
		}
		if got := body.Errors[0].Meta; (got == nil) != (tc.want == nil) || got != nil && *got != *tc.want {
			t.Errorf("%s: meta: got %+v, want %+v (body %s)", tc.body, got, tc.want, res.body)
		}
	}
}
