package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

var (
	ulidRE       = regexp.MustCompile(`^[0-9A-HJKMNP-TV-Z]{26}$`)
	imagePathRE  = regexp.MustCompile(`^/hc/user_images/[A-Za-z0-9_-]{22}\.jpeg$`)
	credentialRE = regexp.MustCompile(`^[^/]+/\d{8}/us-east-1/s3/aws4_request$`)
	signatureRE  = regexp.MustCompile(`^[0-9a-f]{64}$`)
)

// curl runs command with bash -c; curl's -w appends "\n<status>" to its
// output. It returns the body and the status.
func curl(t *testing.T, command string) ([]byte, int) {
	t.Helper()
	cmd := exec.Command("bash", "-c", command)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("bash -c %q: %v\nstderr:\n%s", command, err, stderr.String())
	}
	out := stdout.Bytes()
	i := bytes.LastIndexByte(out, '\n')
	status, err := strconv.Atoi(string(out[i+1:]))
	if err != nil {
		t.Fatalf("bash -c %q: no status at the end of the output %q", command, out)
	}
	return out[:max(i, 0)], status
}

// keysOf returns the sorted keys of the JSON object raw.
func keysOf(t *testing.T, what string, raw json.RawMessage) []string {
	t.Helper()
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil {
		t.Fatalf("%s: got %s, want a JSON object: %v", what, raw, err)
	}
	return slices.Sorted(maps.Keys(obj))
}

// wantKeys checks that the JSON object raw has exactly the keys want and
// returns its members.
func wantKeys(t *testing.T, what string, raw json.RawMessage, want ...string) map[string]json.RawMessage {
	t.Helper()
	slices.Sort(want)
	if got := keysOf(t, what, raw); !slices.Equal(got, want) {
		t.Fatalf("%s keys: got %q, want %q (body %s)", what, got, want, raw)
	}
	var obj map[string]json.RawMessage
	json.Unmarshal(raw, &obj)
	return obj
}

// TestCurlSamples runs the reference page's three curl commands literally,
// only the host changed, then fetches the image path with curl.
func TestCurlSamples(t *testing.T) {
	if _, err := exec.LookPath("curl"); err != nil {
		t.Skip("curl is not installed")
	}
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("bash is not installed")
	}
	const email, password = "agent@example.com", "s3cret-pass-word"
	data := t.TempDir()
	addUser(t, data, email, password)
	srv := startServer(t, data)

	rng := newRand(t)
	// Over 1 MB, so curl also takes its Expect: 100-continue path.
	// The padding is comment segments, which the server strips: it serves base.
	base := encodeJPEG(t, rng, 320, 240)
	img := padJPEG(base, 1_234_567, rngBytes(rng))
	file := filepath.Join(t.TempDir(), "image.jpeg")
	if err := os.WriteFile(file, img, 0o600); err != nil {
		t.Fatal(err)
	}
	host := srv.base // instead of https://{subdomain}.zendesk.com
	status := ` -sS -w '\n%{http_code}'`

	// Step 1, as on the reference page.
	body, code := curl(t, fmt.Sprintf(`curl -X POST %s/api/v2/guide/user_images/uploads \
  -u %s:%s \
  -d '{"content_type": "image/jpeg", "file_size": %d}'`, host, email, password, len(img))+status)
	if code != 200 {
		t.Fatalf("create upload: got status %d, want 200; body %s", code, body)
	}
	upload := wantKeys(t, "create upload response", body, "upload")
	fields := wantKeys(t, "upload", upload["upload"], "headers", "token", "url")
	var token, rawURL string
	var headers map[string]string
	if err := json.Unmarshal(fields["token"], &token); err != nil {
		t.Fatalf("upload.token: got %s, want a string", fields["token"])
	}
	if err := json.Unmarshal(fields["url"], &rawURL); err != nil {
		t.Fatalf("upload.url: got %s, want a string", fields["url"])
	}
	wantKeys(t, "upload.headers", fields["headers"], "Content-Disposition", "Content-Type", "X-Amz-Server-Side-Encryption")
	if err := json.Unmarshal(fields["headers"], &headers); err != nil {
		t.Fatalf("upload.headers: got %s, want strings: %v", fields["headers"], err)
	}
	if !ulidRE.MatchString(token) {
		t.Errorf("upload.token: got %q, want a 26-character ULID", token)
	}
	wantHeaders := map[string]string{
		"Content-Disposition":          `attachment; filename="` + token + `.jpeg"`,
		"Content-Type":                 "image/jpeg",
		"X-Amz-Server-Side-Encryption": "AES256",
	}
	if !maps.Equal(headers, wantHeaders) {
		t.Errorf("upload.headers: got %q, want %q", headers, wantHeaders)
	}
	checkUploadURL(t, rawURL, srv.addr, token)
	if strings.Contains(rawURL, "'") {
		t.Fatalf("upload.url %q contains a single quote; the sample quotes it with single quotes", rawURL)
	}

	// Step 2, the reference page's PUT.
	body, code = curl(t, fmt.Sprintf(`curl -L -X PUT '%s' \
  -H 'Content-Disposition: %s' \
  -H 'Content-Type: %s' \
  -H 'X-Amz-Server-Side-Encryption: %s' \
  --data-binary "@%s"`, rawURL, headers["Content-Disposition"], headers["Content-Type"], headers["X-Amz-Server-Side-Encryption"], file)+status)
	if code != 200 {
		t.Fatalf("PUT upload: got status %d, want 200; body %s", code, body)
	}

	// Step 3, as on the reference page.
	body, code = curl(t, fmt.Sprintf(`curl -X POST %s/api/v2/guide/user_images \
  -u %s:%s \
  -d '{"token": "%s", "brand_id": "%s"}'`, host, email, password, token, brandID)+status)
	if code != 201 {
		t.Fatalf("create image path: got status %d, want 201; body %s", code, body)
	}
	ui := wantKeys(t, "create image path response", body, "user_image")
	imgFields := wantKeys(t, "user_image", ui["user_image"], "content_type", "path", "size")
	var got struct {
		ContentType string `json:"content_type"`
		Path        string `json:"path"`
	}
	if err := json.Unmarshal(ui["user_image"], &got); err != nil {
		t.Fatalf("user_image: %v: %s", err, ui["user_image"])
	}
	if got.ContentType != "image/jpeg" {
		t.Errorf("user_image.content_type: got %q, want image/jpeg", got.ContentType)
	}
	if !imagePathRE.MatchString(got.Path) {
		t.Errorf("user_image.path: got %q, want it to match %s", got.Path, imagePathRE)
	}
	if string(imgFields["size"]) != strconv.Itoa(len(base)) {
		t.Errorf("user_image.size: got %s, want the number %d (the upload without its comments)", imgFields["size"], len(base))
	}

	// The path serves the bytes.
	out := filepath.Join(t.TempDir(), "fetched")
	_, code = curl(t, fmt.Sprintf(`curl -sS -o '%s' -w '\n%%{http_code}' '%s%s'`, out, host, got.Path))
	if code != 200 {
		t.Fatalf("GET %s: got status %d, want 200", got.Path, code)
	}
	fetched, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(fetched, base) {
		t.Errorf("GET %s: got %d bytes, want the %d uploaded bytes without comments", got.Path, len(fetched), len(base))
	}
}

// checkUploadURL checks that rawURL is a SigV4 presigned PUT URL on this
// server for token.
func checkUploadURL(t *testing.T, rawURL, addr, token string) {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatalf("upload.url %q: %v", rawURL, err)
	}
	if u.Scheme != "http" || u.Host != addr {
		t.Errorf("upload.url %q: got scheme %q host %q, want http and %s", rawURL, u.Scheme, u.Host, addr)
	}
	if !strings.HasSuffix(u.Path, "/"+token) {
		t.Errorf("upload.url %q: got path %q, want it to end in the token", rawURL, u.Path)
	}
	q := u.Query()
	checks := []struct {
		param string
		ok    func(string) bool
		want  string
	}{
		{"X-Amz-Algorithm", func(v string) bool { return v == "AWS4-HMAC-SHA256" }, "AWS4-HMAC-SHA256"},
		{"X-Amz-Credential", credentialRE.MatchString, credentialRE.String()},
		{"X-Amz-Date", func(v string) bool {
			d, err := time.Parse("20060102T150405Z", v)
			return err == nil && time.Since(d).Abs() < time.Hour
		}, "a SigV4 date near now"},
		{"X-Amz-Expires", func(v string) bool { return v == "3600" }, "3600"},
		// Zendesk's shape: type and encryption in the signed query.
		{"X-Amz-SignedHeaders", func(v string) bool { return v == "content-disposition;host;x-amz-server-side-encryption" },
			"content-disposition;host;x-amz-server-side-encryption"},
		{"Content-Type", func(v string) bool { return v == "image/jpeg" }, "image/jpeg"},
		{"x-amz-server-side-encryption", func(v string) bool { return v == "AES256" }, "AES256"},
		{"X-Amz-Signature", signatureRE.MatchString, "64 hex digits"},
	}
	for _, c := range checks {
		if vs, ok := q[c.param]; !ok || len(vs) != 1 || !c.ok(vs[0]) {
			t.Errorf("upload.url %s: got %q, want %s", c.param, vs, c.want)
		}
	}
}
