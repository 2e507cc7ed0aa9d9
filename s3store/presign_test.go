package s3store

import (
	"bytes"
	"errors"
	"io"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"userimages/core"
	"userimages/s3store/s3test"
)

// png is the start of a PNG: enough for its Content-Type to be sniffed.
var png = append([]byte("\x89PNG\r\n\x1a\n"), bytes.Repeat([]byte("pixels"), 1000)...)

// uploadHeaders are the headers the service has upload URLs sign.
func uploadHeaders(token string, sse bool) map[string]string {
	h := map[string]string{
		"Content-Disposition": `attachment; filename="` + token + `.png"`,
		"Content-Type":        "image/png",
	}
	if sse {
		h["X-Amz-Server-Side-Encryption"] = "AES256"
	}
	return h
}

// presign presigns a PUT of png to staging/token.
func presign(t *testing.T, s *Store, token string, sse bool, now time.Time) core.UploadTarget {
	t.Helper()
	p := core.PresignParams{Key: "staging/" + token, Token: token, Headers: uploadHeaders(token, sse),
		FileSize: int64(len(png)), Now: now, TTL: time.Hour}
	target, err := s.PresignPut(t.Context(), p)
	if err != nil {
		t.Fatalf("PresignPut: %v", err)
	}
	if !maps.Equal(target.Headers, p.Headers) {
		t.Errorf("PresignPut: got headers %v, want exactly %v", target.Headers, p.Headers)
	}
	return target
}

// put PUTs body to target's URL with its headers, changed by edit, and
// returns the status and response body.
func put(t *testing.T, target core.UploadTarget, body []byte, edit func(http.Header)) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPut, target.URL, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range target.Headers {
		req.Header.Set(k, v)
	}
	if edit != nil {
		edit(req.Header)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("PUT: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestPresignPut(t *testing.T) {
	srv := s3test.Start(t)
	srv.Setenv(t)
	s := open(t, srv, "&prefix=ui/")
	ctx := t.Context()

	target := presign(t, s, "good", true, time.Now())
	u, err := url.Parse(target.URL)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	signed := strings.Split(q.Get("X-Amz-SignedHeaders"), ";")
	for _, h := range []string{"content-disposition", "content-length", "content-type", "host", "x-amz-server-side-encryption"} {
		if !slices.Contains(signed, h) {
			t.Errorf("X-Amz-SignedHeaders: got %q, want %s among them", signed, h)
		}
	}
	if got := q.Get("X-Amz-Expires"); got != "3600" {
		t.Errorf("X-Amz-Expires: got %q, want 3600", got)
	}
	if !strings.HasSuffix(u.Path, "/ui/staging/good"+objectSuffix) {
		t.Errorf("URL path: got %q, want the object of staging/good", u.Path)
	}
	if status, body := put(t, target, png, nil); status != http.StatusOK {
		t.Fatalf("PUT with the returned URL and headers: got %d %s, want 200", status, body)
	}
	checkStored(t, s, "staging/good", png)
	head, err := s.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &s.bucket, Key: aws.String("ui/staging/good" + objectSuffix)})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(head.ContentType) != "image/png" || aws.ToString(head.ContentDisposition) != target.Headers["Content-Disposition"] {
		t.Errorf("stored object: got Content-Type %q, Content-Disposition %q, want the signed ones",
			aws.ToString(head.ContentType), aws.ToString(head.ContentDisposition))
	}
	t.Logf("Versity answers a PUT with X-Amz-Server-Side-Encryption: AES256 with 200; HeadObject reports ServerSideEncryption %q",
		head.ServerSideEncryption)

	for _, tt := range []struct {
		name string
		body []byte
		edit func(http.Header)
		now  time.Time
	}{
		{"longer", append(slices.Clone(png), 'x'), nil, time.Time{}},
		{"shorter", png[:len(png)-1], nil, time.Time{}},
		{"empty", nil, nil, time.Time{}},
		{"other-content-type", png, func(h http.Header) { h.Set("Content-Type", "text/html") }, time.Time{}},
		{"no-content-type", png, func(h http.Header) { h.Del("Content-Type") }, time.Time{}},
		{"no-content-disposition", png, func(h http.Header) { h.Del("Content-Disposition") }, time.Time{}},
		{"other-content-disposition", png, func(h http.Header) { h.Set("Content-Disposition", "inline") }, time.Time{}},
		{"no-sse", png, func(h http.Header) { h.Del("X-Amz-Server-Side-Encryption") }, time.Time{}},
		{"expired", png, nil, time.Now().Add(-time.Hour - time.Minute)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			now := time.Now()
			if !tt.now.IsZero() {
				now = tt.now
			}
			target := presign(t, s, tt.name, true, now)
			status, body := put(t, target, tt.body, tt.edit)
			if status != http.StatusForbidden {
				t.Errorf("PUT: got %d %s, want 403", status, body)
			}
			if _, err := s.Open(ctx, "staging/"+tt.name); !errors.Is(err, core.ErrNotFound) {
				t.Errorf("Open after a refused PUT: got %v, want ErrNotFound", err)
			}
		})
	}

	t.Run("other-key", func(t *testing.T) {
		target := presign(t, s, "mine", true, time.Now())
		target.URL = strings.Replace(target.URL, "/staging/mine", "/staging/theirs", 1)
		if status, body := put(t, target, png, nil); status != http.StatusForbidden {
			t.Errorf("PUT to another key: got %d %s, want 403", status, body)
		}
	})

	t.Run("without-sse", func(t *testing.T) {
		target := presign(t, s, "plain", false, time.Time{})
		u, _ := url.Parse(target.URL)
		if strings.Contains(u.Query().Get("X-Amz-SignedHeaders"), "x-amz-server-side-encryption") {
			t.Errorf("X-Amz-SignedHeaders: got %q, want no x-amz-server-side-encryption", u.Query().Get("X-Amz-SignedHeaders"))
		}
		if status, body := put(t, target, png, nil); status != http.StatusOK {
			t.Fatalf("PUT: got %d %s, want 200", status, body)
		}
		checkStored(t, s, "staging/plain", png)
	})

	t.Run("invalid", func(t *testing.T) {
		p := core.PresignParams{Key: "staging/x", Token: "x", Headers: map[string]string{"X-Custom": "1"}, FileSize: 1, TTL: time.Hour}
		if _, err := s.PresignPut(ctx, p); err == nil {
			t.Errorf("PresignPut with a header S3 cannot sign: got nil, want an error")
		}
		p = core.PresignParams{Key: "../x", Token: "x", FileSize: 1, TTL: time.Hour}
		if _, err := s.PresignPut(ctx, p); err == nil {
			t.Errorf("PresignPut of an invalid key: got nil, want an error")
		}
	})
}

func TestPresignGet(t *testing.T) {
	srv := s3test.Start(t)
	srv.Setenv(t)
	s := open(t, srv, "&prefix=ui/")
	if err := s.Put(t.Context(), "images/x", bytes.NewReader(png)); err != nil {
		t.Fatal(err)
	}
	get := func(key string, ttl time.Duration) (*http.Response, []byte) {
		t.Helper()
		u, err := s.PresignGet(t.Context(), key, ttl)
		if err != nil {
			t.Fatalf("PresignGet: %v", err)
		}
		resp, err := http.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp, body
	}
	resp, body := get("images/x", time.Minute)
	if resp.StatusCode != http.StatusOK || !bytes.Equal(body, png) {
		t.Errorf("GET: got %d and %d bytes, want 200 and %d bytes", resp.StatusCode, len(body), len(png))
	}
	if ct := resp.Header.Get("Content-Type"); ct != "image/png" {
		t.Errorf("GET: got Content-Type %q, want image/png (sniffed by Put)", ct)
	}
	if resp, _ := get("images/missing", time.Minute); resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET of a missing key: got %d, want 404", resp.StatusCode)
	}
	if _, err := s.PresignGet(t.Context(), "a/../b", time.Minute); err == nil {
		t.Errorf("PresignGet of an invalid key: got nil, want an error")
	}
	u, err := s.PresignGet(t.Context(), "images/x", time.Second)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Second)
	resp, err = http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("GET after expiry: got %d, want 403", resp.StatusCode)
	}
}

// checkStored fails t unless key holds want.
func checkStored(t *testing.T, s *Store, key string, want []byte) {
	t.Helper()
	b, err := s.Open(t.Context(), key)
	if err != nil {
		t.Fatalf("Open(%s): %v", key, err)
	}
	defer b.Close()
	got, err := io.ReadAll(b)
	if err != nil || !bytes.Equal(got, want) {
		t.Errorf("Open(%s): got %d bytes, %v, want %d bytes", key, len(got), err, len(want))
	}
}

// TestUploadOrigin: the origin the store reports is the one its presigned
// URLs point at, for path-style and virtual-hosted buckets alike.
func TestUploadOrigin(t *testing.T) {
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
	cases := []struct {
		url, want string
	}{
		{"s3://photos?endpoint=http://127.0.0.1:9000", "http://127.0.0.1:9000"},
		{"s3://photos?endpoint=https://s3.example.com&path_style=false", "https://photos.s3.example.com"},
		{"s3://photos?region=eu-west-1", "https://photos.s3.eu-west-1.amazonaws.com"},
	}
	for _, tc := range cases {
		s, err := Open(t.Context(), tc.url)
		if err != nil {
			t.Fatalf("Open(%s): %v", tc.url, err)
		}
		if got := s.UploadOrigin(); got != tc.want {
			t.Errorf("%s: got origin %q, want %q", tc.url, got, tc.want)
		}
		target := presign(t, s, "01KAAAAAAAAAAAAAAAAAAAAAAA", false, time.Now())
		if u, err := url.Parse(target.URL); err != nil || u.Scheme+"://"+u.Host != s.UploadOrigin() {
			t.Errorf("%s: presigned URL %s is not under the origin %s", tc.url, target.URL, s.UploadOrigin())
		}
	}
}

// TestPresignPutWithoutFixedHeaders: with sign_fixed_headers=false an
// upload URL signs only host, Content-Length and Content-Type, so the PUT
// of a client that sends only Content-Type (Uppy 6's AwsS3) is accepted,
// and so is one with the returned headers; the declared size and type are
// still enforced by the store.
func TestPresignPutWithoutFixedHeaders(t *testing.T) {
	srv := s3test.Start(t)
	srv.Setenv(t)
	s := open(t, srv, "&sign_fixed_headers=false")
	p := core.PresignParams{Token: "x", Headers: uploadHeaders("x", true), FileSize: int64(len(png)), TTL: time.Hour}
	for _, tt := range []struct {
		name   string
		body   []byte
		edit   func(http.Header)
		status int
	}{
		{"returned-headers", png, nil, http.StatusOK},
		{"only-content-type", png, func(h http.Header) { h.Del("Content-Disposition") }, http.StatusOK},
		{"other-content-disposition", png, func(h http.Header) { h.Set("Content-Disposition", "inline") }, http.StatusOK},
		{"longer", append(slices.Clone(png), 'x'), nil, http.StatusForbidden},
		{"shorter", png[:len(png)-1], nil, http.StatusForbidden},
		{"other-content-type", png, func(h http.Header) { h.Set("Content-Type", "text/html") }, http.StatusForbidden},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p.Key, p.Now = "staging/"+tt.name, time.Now()
			target, err := s.PresignPut(t.Context(), p)
			if err != nil {
				t.Fatal(err)
			}
			u, _ := url.Parse(target.URL)
			if got := u.Query().Get("X-Amz-SignedHeaders"); got != "content-length;content-type;host" {
				t.Errorf("X-Amz-SignedHeaders: got %q, want content-length;content-type;host", got)
			}
			if want := map[string]string{"Content-Type": "image/png", "Content-Disposition": p.Headers["Content-Disposition"]}; !maps.Equal(target.Headers, want) {
				t.Errorf("headers: got %v, want %v (no unsigned x-amz- header, which S3 refuses)", target.Headers, want)
			}
			status, body := put(t, target, tt.body, tt.edit)
			if status != tt.status {
				t.Fatalf("PUT: got %d %s, want %d", status, body, tt.status)
			}
			if status == http.StatusOK {
				checkStored(t, s, p.Key, png)
			}
		})
	}
	if _, err := Open(t.Context(), "s3://b?sign_fixed_headers=maybe"); err == nil {
		t.Errorf("Open with sign_fixed_headers=maybe: got nil error, want one")
	}
}
