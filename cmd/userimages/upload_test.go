package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/userimages/userimages/client"
	"github.com/userimages/userimages/client/api"
)

func TestDescribe(t *testing.T) {
	const server = "http://127.0.0.1:8080"
	cases := []struct {
		name string
		size int64
		err  error
		want string
	}{
		{"too large", 2_400_000, &client.Error{Status: 422, Code: api.CodeFileTooLarge, Detail: "file_size 2400000 is over the limit of 2000000 bytes", Limit: 2_000_000},
			"photo.png is 2.4 MB; the server accepts at most 2 MB (FileTooLarge: file_size 2400000 is over the limit of 2000000 bytes)"},
		{"just too large", 2_000_001, &client.Error{Status: 422, Code: api.CodeFileTooLarge, Detail: "file_size 2000001 is over the limit of 2000000 bytes", Limit: 2_000_000},
			"photo.png is 2,000,001 bytes; the server accepts at most 2,000,000 bytes (FileTooLarge: "},
		{"too large, no limit given", 3_000_000, &client.Error{Status: 422, Code: api.CodeFileTooLarge, Detail: "file_size 3000000 is over the limit of 2000000 bytes"},
			"photo.png is too large for the server (FileTooLarge: file_size 3000000 is over the limit of 2000000 bytes)"},
		{"type, server", 10, &client.Error{Status: 422, Code: api.CodeUnsupportedContentType, Detail: `content_type "image/webp" is not accepted; use one of image/jpeg, image/png`},
			"the server does not accept the image type of photo.png (UnsupportedContentType: content_type \"image/webp\" is not accepted; use one of image/jpeg, image/png)"},
		{"type, local", 10, &client.Error{Code: api.CodeUnsupportedContentType, Detail: "the file looks like text/plain; only JPEG, PNG, GIF and WebP images can be uploaded"},
			"photo.png: the file looks like text/plain; only JPEG, PNG, GIF and WebP images can be uploaded"},
		{"empty", 0, &client.Error{Code: api.CodeInvalidFileSize, Detail: "the file is empty"}, "photo.png is empty"},
		{"unauthorized", 10, &client.Error{Status: 401, Code: api.CodeUnauthorized, Detail: "wrong email or password"},
			"the server refused the credentials; check --user/--token/--bearer (Unauthorized: wrong email or password)"},
		{"rate limited", 10, &client.Error{Status: 429, Code: api.CodeRateLimited, Detail: "too many", RetryAfter: 1500 * time.Millisecond},
			"slow down: too many requests; retry after 2s (RateLimited: too many)"},
		{"unavailable", 10, &client.Error{Status: 503, Code: api.CodeServiceUnavailable}, "the server is busy or restarting; retry later (ServiceUnavailable)"},
		{"blocked", 10, &client.Error{Status: 422, Code: api.CodeBlockedContent, Detail: "taken down"},
			"photo.png was taken down by a moderator and may not be uploaded again (BlockedContent: taken down)"},
		{"blocked, the server's detail said once", 10, &client.Error{Status: 422, Code: api.CodeBlockedContent, Detail: "this image was taken down by a moderator and may not be uploaded again"},
			"photo.png was taken down by a moderator and may not be uploaded again (BlockedContent)"},
		{"expired", 10, &client.Error{Status: 410, Code: api.CodeTokenExpired, Detail: "expired"}, "expired before it was claimed; run the command again"},
		{"mismatch", 10, &client.Error{Status: 422, Code: api.CodeContentMismatch, Detail: "not image/png"}, "the bytes of photo.png are not the type of image"},
		{"brand", 10, &client.Error{Status: 422, Code: api.CodeInvalidProperty, Pointer: "/brand_id", Detail: "bad"}, "the brand id is not valid; check --brand"},
		{"s3", 10, &client.Error{Status: 403, Code: "SignatureDoesNotMatch", Detail: "The request signature we calculated does not match"},
			"the upload URL refused photo.png (a proxy changing headers, or a wrong clock?) (SignatureDoesNotMatch: The request signature"},
		{"s3 expired", 10, &client.Error{Status: 403, Code: "ExpiredToken", Detail: "The provided token has expired."},
			"the upload URL expired before photo.png was sent (is this computer's clock right?) (ExpiredToken: The provided token has expired.)"},
		{"a code with no hint", 10, &client.Error{Status: 400, Code: api.CodeInvalidJSON, Detail: "unexpected EOF"},
			"the server could not read the request for photo.png (InvalidJSON: unexpected EOF)"},
		{"html 502", 10, &client.Error{Status: 502, Detail: "<html>Bad Gateway</html>"}, "the server answered HTTP 502 Bad Gateway for photo.png (HTTP 502: <html>Bad Gateway</html>)"},
		{"html 404", 10, &client.Error{Status: 404}, server + " does not look like a userimages or Zendesk help center server; check --server (HTTP 404)"},
		{"unknown code", 10, &client.Error{Status: 418, Code: "Teapot", Detail: "short and stout"}, "photo.png was refused (HTTP 418) (Teapot: short and stout)"},
		{"unreachable", 10, fmt.Errorf("create upload: %w", &url.Error{Op: "Post", URL: server, Err: errors.New("connection refused")}),
			"photo.png: cannot reach " + server + ": connection refused; check --server"},
		{"missing", 0, &fs.PathError{Op: "open", Path: "photo.png", Err: fs.ErrNotExist}, "photo.png: no such file"},
		{"interrupted", 10, fmt.Errorf("claim: %w", context.Canceled), "photo.png: interrupted"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := describe("photo.png", tc.size, server, tc.err); !strings.Contains(got, tc.want) {
				t.Errorf("got %q, want it to contain %q", got, tc.want)
			}
		})
	}
}

func TestCredentials(t *testing.T) {
	cases := []struct {
		name                string
		user, token, bearer string
		wantOpts            int
		wantErr             bool
	}{
		{"anonymous", "", "", "", 0, false},
		{"password", "ann@example.com:pass:word", "", "", 1, false},
		{"curl-style token in --user", "ann@example.com/token:abc", "", "", 1, false},
		{"token", "", "ann@example.com/token:abc", "", 1, false},
		{"bearer", "", "", "abc", 1, false},
		{"two", "ann@example.com:pw", "", "abc", 0, true},
		{"user without colon", "ann@example.com", "", "", 0, true},
		{"token without /token", "", "ann@example.com:abc", "", 0, true},
		{"bare token in --token", "", "abc", "", 0, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			opts, err := credentials(tc.user, tc.token, tc.bearer)
			if (err != nil) != tc.wantErr || len(opts) != tc.wantOpts {
				t.Errorf("got %d options, error %v; want %d, error %v", len(opts), err, tc.wantOpts, tc.wantErr)
			}
		})
	}
}

func TestFailsEveryFile(t *testing.T) {
	cases := []struct {
		err  error
		want bool
	}{
		{&client.Error{Status: 401, Code: api.CodeUnauthorized}, true},
		{&client.Error{Status: 422, Code: api.CodeBrandNotFound}, true},
		{&client.Error{Status: 422, Code: api.CodeInvalidProperty, Pointer: "/brand_id"}, true},
		{&client.Error{Status: 404}, true},
		{&url.Error{Op: "Post", URL: "http://x", Err: errors.New("refused")}, true},
		{&client.Error{Status: 422, Code: api.CodeFileTooLarge}, false},
		{&client.Error{Status: 422, Code: api.CodeInvalidProperty, Pointer: "/token"}, false},
		{&client.Error{Code: api.CodeUnsupportedContentType}, false},
		{fs.ErrNotExist, false},
	}
	for _, tc := range cases {
		if got := failsEveryFile(tc.err); got != tc.want {
			t.Errorf("failsEveryFile(%v): got %v, want %v", tc.err, got, tc.want)
		}
	}
}

func TestSizes(t *testing.T) {
	for n, want := range map[int64]string{0: "0 bytes", 999: "999 bytes", 1000: "1 kB", 268_748: "268.7 kB",
		2_000_000: "2 MB", 2_400_000: "2.4 MB", 2_000_001: "2 MB"} {
		if got := humanSize(n); got != want {
			t.Errorf("humanSize(%d): got %q, want %q", n, got, want)
		}
	}
	for n, want := range map[int64]string{7: "7 bytes", 1000: "1,000 bytes", 2_000_001: "2,000,001 bytes"} {
		if got := exactSize(n); got != want {
			t.Errorf("exactSize(%d): got %q, want %q", n, got, want)
		}
	}
}

func TestProgressBar(t *testing.T) {
	var out strings.Builder
	b := &progressBar{w: &out, name: "a.jpg", last: -1}
	b.clear() // nothing drawn yet: nothing to clear
	for _, sent := range []int64{0, 1, 500, 500, 1000} {
		b.update(sent, 1000)
	}
	b.clear()
	got := out.String()
	if n := strings.Count(got, "\r"); n != 4 { // 0%, 50%, 100%, clear
		t.Errorf("got %d redraws in %q, want 4 (one per new percentage, and the clear)", n, got)
	}
	if !strings.Contains(got, "a.jpg [==============================] 100% 1 kB / 1 kB") || !strings.HasSuffix(got, "\r\x1b[K") {
		t.Errorf("got %q, want a full bar and a cleared line at the end", got)
	}
}
