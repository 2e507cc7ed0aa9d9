package e2e

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// sampleDo makes a request the way the reference page's Go sample does:
// http.NewRequest, Content-Type application/json, an Authorization header
// (omitted when auth is empty: the anonymous caller), a fresh http.Client
// and io.ReadAll of the answer.
func sampleDo(t *testing.T, method, url, auth string, payload any) (int, []byte) {
	t.Helper()
	var body io.Reader
	if payload != nil {
		b, err := json.Marshal(payload)
		if err != nil {
			t.Fatal(err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Add("Content-Type", "application/json")
	if auth != "" {
		req.Header.Add("Authorization", auth) // Base64 encoded "username:password"
	}
	client := &http.Client{}
	res, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", method, url, err)
	}
	return res.StatusCode, b
}

// sampleFlow runs the three steps with sampleDo and returns the image path.
func sampleFlow(t *testing.T, srv *server, auth, contentType string, data []byte) string {
	t.Helper()
	status, body := sampleDo(t, http.MethodPost, srv.base+"/api/v2/guide/user_images/uploads", auth,
		map[string]any{"content_type": contentType, "file_size": len(data)})
	if status != http.StatusOK {
		t.Fatalf("create upload: got status %d, want 200; body %s", status, body)
	}
	var up uploadResponse
	if err := json.Unmarshal(body, &up); err != nil {
		t.Fatalf("create upload: %v: %s", err, body)
	}
	if got := up.Upload.Headers["Content-Type"]; got != contentType {
		t.Errorf("upload.headers Content-Type: got %q, want %q", got, contentType)
	}
	if err := putUpload(http.DefaultClient, up, data); err != nil {
		t.Fatal(err)
	}
	status, body = sampleDo(t, http.MethodPost, srv.base+"/api/v2/guide/user_images", auth,
		map[string]any{"token": up.Upload.Token, "brand_id": brandID})
	if status != http.StatusCreated {
		t.Fatalf("create image path: got status %d, want 201; body %s", status, body)
	}
	var img imageResponse
	if err := json.Unmarshal(body, &img); err != nil {
		t.Fatalf("create image path: %v: %s", err, body)
	}
	if img.UserImage.ContentType != contentType || img.UserImage.Size != int64(len(data)) {
		t.Errorf("user_image: got content_type %q size %d, want %q %d", img.UserImage.ContentType, img.UserImage.Size, contentType, len(data))
	}
	return img.UserImage.Path
}

// imageKey is the surrogate key of the image at path: img-<id>.
func imageKey(path string) string {
	id, _, _ := strings.Cut(path[strings.LastIndexByte(path, '/')+1:], ".")
	return "img-" + id
}

// checkServed checks GET, HEAD, conditional and range requests of path.
func checkServed(t *testing.T, srv *server, path, contentType string, data []byte) {
	t.Helper()
	get, body, err := do(http.DefaultClient, http.MethodGet, srv.base+path, "", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if get.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: got status %d, want 200; body %s", path, get.StatusCode, body)
	}
	if !bytes.Equal(body, data) {
		t.Errorf("GET %s: got %d bytes, want the %d uploaded bytes", path, len(body), len(data))
	}
	etag := get.Header.Get("ETag")
	if len(etag) < 3 || !strings.HasPrefix(etag, `"`) || !strings.HasSuffix(etag, `"`) {
		t.Errorf("GET %s: got ETag %q, want a strong quoted entity tag", path, etag)
	}
	wantHeaders := map[string]string{
		"Content-Type":            contentType,
		"Content-Length":          fmt.Sprint(len(data)),
		"Cache-Control":           "public, max-age=3600, s-maxage=31536000, immutable",
		"Surrogate-Key":           imageKey(path),
		"Cache-Tag":               imageKey(path),
		"X-Content-Type-Options":  "nosniff",
		"Content-Security-Policy": "default-src 'none'; sandbox",
	}
	head, headBody, err := do(http.DefaultClient, http.MethodHead, srv.base+path, "", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if head.StatusCode != http.StatusOK || len(headBody) != 0 {
		t.Errorf("HEAD %s: got status %d and %d body bytes, want 200 and none", path, head.StatusCode, len(headBody))
	}
	for _, res := range []*http.Response{get, head} {
		m := res.Request.Method
		for k, want := range wantHeaders {
			if got := res.Header.Get(k); got != want {
				t.Errorf("%s %s: got %s %q, want %q", m, path, k, got, want)
			}
		}
		if got := res.Header.Get("ETag"); got != etag {
			t.Errorf("%s %s: got ETag %q, want the GET's %q", m, path, got, etag)
		}
		lm, err := http.ParseTime(res.Header.Get("Last-Modified"))
		if err != nil || lm.After(time.Now().Add(time.Minute)) {
			t.Errorf("%s %s: got Last-Modified %q, want an HTTP date not in the future", m, path, res.Header.Get("Last-Modified"))
		}
	}

	res, b, err := do(http.DefaultClient, http.MethodGet, srv.base+path, "", map[string]string{"If-None-Match": etag}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != http.StatusNotModified || len(b) != 0 {
		t.Errorf("GET %s If-None-Match %s: got status %d and %d bytes, want 304 and none", path, etag, res.StatusCode, len(b))
	}

	res, b, err = do(http.DefaultClient, http.MethodGet, srv.base+path, "", map[string]string{"Range": "bytes=0-9"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != http.StatusPartialContent || !bytes.Equal(b, data[:10]) {
		t.Errorf("GET %s Range bytes=0-9: got status %d and % x, want 206 and % x", path, res.StatusCode, b, data[:10])
	}
	if got, want := res.Header.Get("Content-Range"), fmt.Sprintf("bytes 0-9/%d", len(data)); got != want {
		t.Errorf("GET %s Range bytes=0-9: got Content-Range %q, want %q", path, got, want)
	}
}

// TestGoSampleFlow runs the three steps the way the reference page's Go
// sample does, for each image type and each way of authenticating.
func TestGoSampleFlow(t *testing.T) {
	const email, password = "user@example.com", "another-secret-1"
	srv, token := serverWithUser(t, email, password)
	rng := newRand(t)

	images := []struct {
		contentType, ext string
		data             []byte
	}{
		{"image/jpeg", "jpeg", encodeJPEG(t, rng, 200, 150)},
		{"image/png", "png", encodePNG(t, rng, 64, 48)},
		{"image/gif", "gif", encodeGIF(t, rng, 40, 30)},
	}
	auths := []struct{ name, header string }{
		{"basic password", basicAuth(email, password)},
		{"anonymous", ""},
		{"basic api token", basicAuth(email+"/token", token)},
		{"bearer api token", "Bearer " + token},
	}
	paths := map[string]bool{}
	for _, a := range auths {
		for _, img := range images {
			t.Run(a.name+"/"+img.ext, func(t *testing.T) {
				path := sampleFlow(t, srv, a.header, img.contentType, img.data)
				re := regexp.MustCompile(`^/hc/user_images/[A-Za-z0-9_-]{22}\.` + img.ext + `$`)
				if !re.MatchString(path) {
					t.Fatalf("user_image.path: got %q, want it to match %s", path, re)
				}
				if paths[path] {
					t.Errorf("user_image.path: got %q, which an earlier upload got already", path)
				}
				paths[path] = true
				checkServed(t, srv, path, img.contentType, img.data)
			})
		}
	}
}

// TestAuthErrors sends bad credentials to both API endpoints.
func TestAuthErrors(t *testing.T) {
	const email, password = "owner@example.com", "owner-password-1"
	const other, otherPassword = "other@example.com", "other-password-1"
	data := t.TempDir()
	addUser(t, data, email, password)
	addUser(t, data, other, otherPassword)
	token := apiToken(t, data, email)
	// Every case's 401 is checked: the sign-in throttle (TestSignInThrottled)
	// must not answer 429 first.
	srv := startServer(t, data, "--signin-free-failures", "1000")

	cases := []struct{ name, auth string }{
		{"wrong password", basicAuth(email, "not-the-password")},
		{"unknown email", basicAuth("nobody@example.com", password)},
		{"another user's password", basicAuth(email, otherPassword)},
		{"wrong api token", basicAuth(email+"/token", strings.Repeat("0", len(token)))},
		{"api token of another user", basicAuth(other+"/token", token)},
		{"password as api token", basicAuth(email+"/token", password)},
		{"wrong bearer token", "Bearer " + strings.Repeat("f", len(token))},
		{"bearer password", "Bearer " + password},
		{"basic not base64", "Basic !!!"},
		{"basic without colon", "Basic " + "b3duZXJAZXhhbXBsZS5jb20="},
		{"unknown scheme", "Digest username=\"owner@example.com\""},
	}
	endpoints := []struct {
		path    string
		payload any
	}{
		{"/api/v2/guide/user_images/uploads", map[string]any{"content_type": "image/jpeg", "file_size": 1000}},
		{"/api/v2/guide/user_images", map[string]any{"token": "01GC9JEN2X052BAKW905PH9C36", "brand_id": brandID}},
	}
	for _, c := range cases {
		for _, e := range endpoints {
			t.Run(c.name+e.path, func(t *testing.T) {
				status, body := sampleDo(t, http.MethodPost, srv.base+e.path, c.auth, e.payload)
				if status != http.StatusUnauthorized {
					t.Errorf("got status %d, want 401; body %s", status, body)
				}
				var doc errorResponse
				if err := json.Unmarshal(body, &doc); err != nil || len(doc.Errors) == 0 {
					t.Fatalf("got body %s, want {\"errors\":[...]} with at least one error", body)
				}
				if got := doc.Errors[0].Code; got != "Unauthorized" {
					t.Errorf("errors[0].code: got %q, want Unauthorized", got)
				}
				if got := doc.Errors[0].Status; got != "401" {
					t.Errorf("errors[0].status: got %q, want \"401\"", got)
				}
			})
		}
	}
}

// TestClaimAgain claims one token again: the same brand gets the same path,
// another registered brand a 409 AlreadyClaimed; the upload URL is spent.
func TestClaimAgain(t *testing.T) {
	srv := startServer(t, t.TempDir(), otherBrandArgs...)
	rng := newRand(t)
	img := encodeJPEG(t, rng, 64, 64)
	c := http.DefaultClient

	up, err := createUpload(c, srv.base, "", "image/jpeg", len(img))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := claim(c, srv.base, "", up.Upload.Token, brandID); statusOf(err) != http.StatusConflict {
		t.Errorf("claim before the PUT: got %v, want status 409 (NotUploaded)", err)
	}
	if err := putUpload(c, up, img); err != nil {
		t.Fatal(err)
	}
	first, err := claim(c, srv.base, "", up.Upload.Token, brandID)
	if err != nil {
		t.Fatal(err)
	}

	cases := []struct {
		name       string
		brand      any
		wantStatus int
		wantCode   string
	}{
		{"same brand", brandID, http.StatusCreated, ""},
		{"same brand as a number", 10016, http.StatusCreated, ""},
		{"other registered brand", otherBrand, http.StatusConflict, "AlreadyClaimed"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, body := sampleDo(t, http.MethodPost, srv.base+"/api/v2/guide/user_images", "",
				map[string]any{"token": up.Upload.Token, "brand_id": tc.brand})
			if status != tc.wantStatus {
				t.Fatalf("got status %d, want %d; body %s", status, tc.wantStatus, body)
			}
			if tc.wantCode != "" {
				if got := errorCode(body); got != tc.wantCode {
					t.Errorf("got code %s, want %s", got, tc.wantCode)
				}
				return
			}
			var again imageResponse
			if err := json.Unmarshal(body, &again); err != nil {
				t.Fatal(err)
			}
			if again != first {
				t.Errorf("got %+v, want the first claim's %+v", again, first)
			}
		})
	}

	if err := putUpload(c, up, img); statusOf(err) != http.StatusConflict {
		t.Errorf("PUT after the claim: got %v, want status 409 (AlreadyUploaded)", err)
	}
	checkServed(t, srv, first.UserImage.Path, "image/jpeg", img)
}

// TestUploadRejections sends PUTs that do not match the upload URL or the
// declared size; none of them may store anything, so the exact PUT after
// them succeeds.
func TestUploadRejections(t *testing.T) {
	srv := startServer(t, t.TempDir())
	rng := newRand(t)
	img := encodeJPEG(t, rng, 80, 60)
	c := http.DefaultClient
	up, err := createUpload(c, srv.base, "", "image/jpeg", len(img))
	if err != nil {
		t.Fatal(err)
	}
	withHeader := func(k, v string) map[string]string {
		h := map[string]string{}
		for hk, hv := range up.Upload.Headers {
			h[hk] = hv
		}
		if v == "" {
			delete(h, k)
		} else {
			h[k] = v
		}
		return h
	}
	u, _ := url.Parse(up.Upload.URL)
	q := u.Query()
	q.Set("X-Amz-Signature", strings.Repeat("0", 64))
	u.RawQuery = q.Encode()
	tampered := u.String()
	pngHeaded := append([]byte("\x89PNG\r\n\x1a\n"), img[8:]...)

	cases := []struct {
		name       string
		url        string
		header     map[string]string
		body       []byte
		wantStatus int
		wantCode   string
		wantS3Code string // X-Amz-Error-Code, for S3 clients
	}{
		{"other X-Amz-Server-Side-Encryption", up.Upload.URL, withHeader("X-Amz-Server-Side-Encryption", "aws:kms"), img, 403, "SignatureMismatch", "SignatureDoesNotMatch"},
		{"other X-Amz-Server-Side-Encryption, Content-Disposition left out", up.Upload.URL,
			map[string]string{"Content-Type": "image/jpeg", "X-Amz-Server-Side-Encryption": "aws:kms"}, img, 403, "SignatureMismatch", "SignatureDoesNotMatch"},
		// The PUT's Content-Type header is not signed (as on Zendesk's URLs);
		// the bytes are checked against the type the URL signs.
		{"PNG bytes sent as image/png to a JPEG URL", up.Upload.URL, withHeader("Content-Type", "image/png"), pngHeaded, 422, "ContentMismatch", "ContentMismatch"},
		{"other Content-Disposition", up.Upload.URL, withHeader("Content-Disposition", `attachment; filename="x.jpeg"`), img, 403, "SignatureMismatch", "SignatureDoesNotMatch"},
		{"tampered signature", tampered, up.Upload.Headers, img, 403, "SignatureMismatch", "SignatureDoesNotMatch"},
		{"tampered signature, signed headers left out", tampered, map[string]string{"Content-Type": "image/jpeg"}, img, 403, "SignatureMismatch", "SignatureDoesNotMatch"},
		{"short body", up.Upload.URL, up.Upload.Headers, img[:len(img)-1], 400, "IncompleteBody", "IncompleteBody"},
		{"long body", up.Upload.URL, up.Upload.Headers, append(img[:len(img):len(img)], 0), 413, "PayloadTooLarge", "EntityTooLarge"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res, body, err := do(c, http.MethodPut, tc.url, "", tc.header, tc.body)
			if err != nil {
				t.Fatal(err)
			}
			if res.StatusCode != tc.wantStatus || errorCode(body) != tc.wantCode {
				t.Errorf("got status %d code %s, want %d %s; body %s", res.StatusCode, errorCode(body), tc.wantStatus, tc.wantCode, body)
			}
			if got := res.Header.Get("X-Amz-Error-Code"); got != tc.wantS3Code {
				t.Errorf("X-Amz-Error-Code: got %q, want %q", got, tc.wantS3Code)
			}
		})
	}
	if err := putUpload(c, up, img); err != nil {
		t.Fatalf("the exact PUT after the rejected ones: %v", err)
	}
	got, err := claim(c, srv.base, "", up.Upload.Token, brandID)
	if err != nil {
		t.Fatal(err)
	}
	checkServed(t, srv, got.UserImage.Path, "image/jpeg", img)
}

// slowPut is the PUT of an upload whose body the test writes in two
// halves.
type slowPut struct {
	up   uploadResponse
	data []byte
	n    int // bytes sent so far
	w    *io.PipeWriter
	done chan error // the PUT's outcome: nil for 200
}

// startHalfPut creates the upload of a JPEG of size bytes (base padded
// with comments, which the claim strips, so base is what is served), starts
// its PUT with the first half of the body, and waits until the server is
// storing it (it has a temporary file open under dataDir/blobs/.tmp).
func startHalfPut(t *testing.T, srv *server, size int) (put *slowPut, base []byte) {
	t.Helper()
	rng := newRand(t)
	base = encodeJPEG(t, rng, 64, 64)
	data := padJPEG(base, size, rngBytes(rng))
	up, err := createUpload(http.DefaultClient, srv.base, "", "image/jpeg", len(data))
	if err != nil {
		t.Fatal(err)
	}
	n := len(data) / 2
	pr, pw := io.Pipe()
	req, err := http.NewRequest(http.MethodPut, up.Upload.URL, pr)
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength = int64(len(data))
	for k, v := range up.Upload.Headers {
		req.Header.Set(k, v)
	}
	p := &slowPut{up: up, data: data, n: n, w: pw, done: make(chan error, 1)}
	client := &http.Client{Transport: &http.Transport{}}
	go func() {
		res, err := client.Do(req)
		if err != nil {
			p.done <- err
			return
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		if res.StatusCode != http.StatusOK {
			p.done <- &errStatus{"slow put", res.StatusCode, b}
			return
		}
		p.done <- nil
	}()
	t.Cleanup(func() { pw.CloseWithError(io.ErrUnexpectedEOF) })
	if _, err := pw.Write(data[:n]); err != nil {
		t.Fatalf("write the first %d bytes: %v", n, err)
	}
	tmp := filepath.Join(srv.dataDir, "blobs", ".tmp")
	for i := 0; !writingIn(srv.cmd.Process.Pid, tmp); i++ {
		if i == 3000 {
			t.Fatalf("the server has not started storing the PUT body: it has no file open in %s", tmp)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return p, base
}

// writingIn reports whether process pid has a file open in dir: a
// temporary file, named or not (O_TMPFILE), which /proc shows either way.
func writingIn(pid int, dir string) bool {
	fds, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	for _, fd := range fds {
		target, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, fd.Name()))
		if err == nil && strings.HasPrefix(target, dir+"/") {
			return true
		}
	}
	return false
}

// finish writes the rest of the body and returns the PUT's outcome.
func (p *slowPut) finish() error {
	if _, err := p.w.Write(p.data[p.n:]); err != nil {
		return fmt.Errorf("write the last %d bytes: %w", len(p.data)-p.n, err)
	}
	p.w.Close()
	select {
	case err := <-p.done:
		return err
	case <-time.After(stopTimeout):
		return fmt.Errorf("no answer to the PUT within %s", stopTimeout)
	}
}

// TestGracefulShutdown sends SIGTERM while a PUT is half sent: the PUT still
// completes with 200, the server exits 0, and the upload can be claimed
// after a restart on the same data directory.
func TestGracefulShutdown(t *testing.T) {
	data := t.TempDir()
	srv := startServer(t, data)
	put, base := startHalfPut(t, srv, 600_000)

	if err := srv.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if !srv.waitForLog("shutting down: finishing in-flight requests") {
		t.Fatalf("no shutting-down line after SIGTERM (exited: %v)", srv.hasExited())
	}
	if err := put.finish(); err != nil {
		t.Fatalf("PUT across SIGTERM: got %v, want 200", err)
	}
	if err := srv.wait(); err != nil {
		t.Fatalf("after SIGTERM: %v", err)
	}
	if !srv.logged("stopped") {
		t.Errorf("the server exited without logging \"stopped\"")
	}

	srv2 := startServer(t, data)
	got, err := claim(http.DefaultClient, srv2.base, "", put.up.Upload.Token, brandID)
	if err != nil {
		t.Fatalf("claim after the restart: %v", err)
	}
	checkServed(t, srv2, got.UserImage.Path, "image/jpeg", base)
}

// TestAdminCommandDuringUpload runs one-shot admin commands (`user token`,
// `brand add`) on the data directory of a running server while a PUT is
// half sent: the documented way to manage users and brands must not break
// uploads in flight.
func TestAdminCommandDuringUpload(t *testing.T) {
	const email, password = "admin@example.com", "admin-password-1"
	cases := []struct {
		name string
		args func(data string) []string
	}{
		{"user token", func(data string) []string { return []string{"user", "token", "--data", data, "--email", email} }},
		{"brand add", func(data string) []string { return []string{"brand", "add", "--data", data, "30000"} }},
		{"brand ls", func(data string) []string { return []string{"brand", "ls", "--data", data} }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			data := t.TempDir()
			addUser(t, data, email, password)
			srv := startServer(t, data)
			put, base := startHalfPut(t, srv, 300_000)
			args := tc.args(data)
			runCLI(t, "", args...)
			if err := put.finish(); err != nil {
				// A cause seen before: every admin command opens the blob
				// store, and localdisk.Open once removed blobs/.tmp, where
				// the running server writes this PUT's body.
				t.Fatalf("PUT in flight while `userimages %s` ran: got %v, want 200 "+
					"(the admin command deleted the server's partial upload in blobs/.tmp)", strings.Join(args, " "), err)
			}
			got, err := claim(http.DefaultClient, srv.base, "", put.up.Upload.Token, brandID)
			if err != nil {
				t.Fatal(err)
			}
			checkServed(t, srv, got.UserImage.Path, "image/jpeg", base)
		})
	}
}

// TestRequestErrors sends invalid step 1 and step 3 requests: each gets
// its status and a non-empty errors document with its code.
func TestRequestErrors(t *testing.T) {
	srv := startServer(t, t.TempDir())
	rng := newRand(t)
	jpg := encodeJPEG(t, rng, 32, 32)
	pngData := encodePNG(t, rng, 32, 32)
	c := http.DefaultClient

	// An upload declared as JPEG whose bytes are a PNG: the PUT refuses them
	// from their first bytes and stores nothing, so a claim finds nothing.
	mismatched, err := createUpload(c, srv.base, "", "image/jpeg", len(pngData))
	if err != nil {
		t.Fatal(err)
	}
	var refused *errStatus
	if err := putUpload(c, mismatched, pngData); !errors.As(err, &refused) || refused.status != http.StatusUnprocessableEntity || errorCode(refused.body) != "ContentMismatch" {
		t.Fatalf("PUT of PNG bytes declared JPEG: got %v, want 422 ContentMismatch", err)
	}
	// A good upload, for the brand check.
	good, err := createUpload(c, srv.base, "", "image/jpeg", len(jpg))
	if err != nil {
		t.Fatal(err)
	}
	if err := putUpload(c, good, jpg); err != nil {
		t.Fatal(err)
	}

	const uploads, images = "/api/v2/guide/user_images/uploads", "/api/v2/guide/user_images"
	cases := []struct {
		name       string
		path       string
		body       string
		wantStatus int
		wantCode   string
	}{
		{"not JSON", uploads, `{"content_type": `, 400, "InvalidJSON"},
		{"JSON array", uploads, `[1, 2]`, 400, "InvalidJSON"},
		{"no content_type", uploads, `{"file_size": 1000}`, 422, "InvalidProperty"},
		{"unsupported type", uploads, `{"content_type": "image/bmp", "file_size": 1000}`, 422, "UnsupportedContentType"},
		{"no file_size", uploads, `{"content_type": "image/jpeg"}`, 422, "InvalidProperty"},
		{"file_size as string", uploads, `{"content_type": "image/jpeg", "file_size": "1000"}`, 422, "InvalidProperty"},
		{"zero file_size", uploads, `{"content_type": "image/jpeg", "file_size": 0}`, 422, "InvalidFileSize"},
		{"fractional file_size", uploads, `{"content_type": "image/jpeg", "file_size": 10.5}`, 422, "InvalidFileSize"},
		{"file_size over 2 MB", uploads, `{"content_type": "image/jpeg", "file_size": 2000001}`, 422, "FileTooLarge"},
		{"no token", images, `{"brand_id": "10016"}`, 422, "InvalidProperty"},
		{"malformed token", images, `{"token": "nope", "brand_id": "10016"}`, 422, "InvalidProperty"},
		{"unknown token", images, `{"token": "01GC9JEN2X052BAKW905PH9C36", "brand_id": "10016"}`, 404, "TokenNotFound"},
		{"unregistered brand", images, `{"token": "` + good.Upload.Token + `", "brand_id": "99999"}`, 422, "BrandNotFound"},
		{"bytes of another type, refused at the PUT", images, `{"token": "` + mismatched.Upload.Token + `", "brand_id": "10016"}`, 409, "NotUploaded"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res, body, err := do(c, http.MethodPost, srv.base+tc.path, "", jsonHeader, []byte(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			if res.StatusCode != tc.wantStatus || errorCode(body) != tc.wantCode {
				t.Errorf("got status %d code %s, want %d %s; body %s", res.StatusCode, errorCode(body), tc.wantStatus, tc.wantCode, body)
			}
		})
	}

	t.Run("2 MB exactly", func(t *testing.T) {
		if _, err := createUpload(c, srv.base, "", "image/jpeg", 2_000_000); err != nil {
			t.Errorf("file_size 2000000: got %v, want 200", err)
		}
	})
	t.Run("good upload still claimable", func(t *testing.T) {
		got, err := claim(c, srv.base, "", good.Upload.Token, brandID)
		if err != nil {
			t.Fatal(err)
		}
		checkServed(t, srv, got.UserImage.Path, "image/jpeg", jpg)
	})
}
