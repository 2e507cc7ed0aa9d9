package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"userimages/core"
	"userimages/internal/testkit/pgtest"
	"userimages/postgres"
	"userimages/s3store"
	"userimages/s3store/s3test"

	"github.com/userimages/userimages/client"
	"github.com/userimages/userimages/client/api"
)

// scaleOut is a scale-out deployment's shared services: one PostgreSQL
// schema and one bucket of a real S3 server.
type scaleOut struct {
	db, blob string
	s3       *s3test.Server
	env      []string // the S3 credentials, for the binary
}

func newScaleOut(t *testing.T) *scaleOut {
	t.Helper()
	s3 := s3test.Start(t)
	return &scaleOut{db: pgtest.URL(t), blob: s3.URL(s3.NewBucket(t)), s3: s3, env: s3.Env()}
}

// storeArgs select the deployment's stores.
func (d *scaleOut) storeArgs() []string { return []string{"--db", d.db, "--blob", d.blob} }

// start starts an instance with its own (unused) data directory.
func (d *scaleOut) start(t *testing.T, extra ...string) *server {
	t.Helper()
	return startServerEnv(t, t.TempDir(), d.env, append(d.storeArgs(), extra...)...)
}

// cli runs an admin command against the deployment's stores.
func (d *scaleOut) cli(t *testing.T, stdin string, args ...string) string {
	t.Helper()
	return runCLIEnv(t, d.env, stdin, append(args, d.storeArgs()...)...)
}

// imageCount counts the published images in the deployment's database.
func (d *scaleOut) imageCount(t *testing.T) int64 {
	t.Helper()
	db, err := postgres.Open(context.Background(), d.db)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	_, images, err := db.Counts(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return images
}

// TestScaleOut runs two instances on one PostgreSQL and one bucket: the
// upload URL is the store's own presigned PUT; an upload created on one
// instance is claimed on the other and served identically by both; the
// store itself refuses bytes other than those declared.
func TestScaleOut(t *testing.T) {
	d := newScaleOut(t)
	a, b := d.start(t), d.start(t)
	rng := newRand(t)
	c := http.DefaultClient
	s3Host := strings.TrimPrefix(d.s3.Endpoint, "http://")

	data := encodeJPEG(t, rng, 320, 240)
	up, err := createUpload(c, a.base, "", "image/jpeg", len(data))
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(up.Upload.URL)
	if err != nil || u.Host != s3Host || u.Query().Get("X-Amz-Signature") == "" {
		t.Fatalf("upload URL %s: want a presigned URL of the S3 server %s", up.Upload.URL, s3Host)
	}
	for _, signed := range []string{"content-length", "content-type", "content-disposition"} {
		if !strings.Contains(u.Query().Get("X-Amz-SignedHeaders"), signed) {
			t.Errorf("X-Amz-SignedHeaders %q: want %s signed", u.Query().Get("X-Amz-SignedHeaders"), signed)
		}
	}
	if err := putUpload(c, up, data); err != nil {
		t.Fatalf("PUT straight to S3: %v", err)
	}
	img, err := claim(c, b.base, "", up.Upload.Token, brandID)
	if err != nil {
		t.Fatalf("claim on the other instance: %v", err)
	}
	for _, srv := range []*server{a, b} {
		got, err := fetch(c, srv.base, img.UserImage.Path)
		if err != nil || !bytes.Equal(got, data) {
			t.Errorf("GET from %s: got %d bytes, %v; want the %d uploaded", srv.base, len(got), err, len(data))
		}
	}
	t.Run("range and conditional GET", func(t *testing.T) {
		res, body, err := do(c, http.MethodGet, a.base+img.UserImage.Path, "", map[string]string{"Range": "bytes=100-1099"}, nil)
		if err != nil || res.StatusCode != http.StatusPartialContent || !bytes.Equal(body, data[100:1100]) {
			t.Errorf("Range: got %v %s and %d bytes, want 206 and bytes 100-1099", err, statusCode(res), len(body))
		}
		etag := res.Header.Get("ETag")
		res, _, err = do(c, http.MethodGet, b.base+img.UserImage.Path, "", map[string]string{"If-None-Match": etag}, nil)
		if err != nil || res.StatusCode != http.StatusNotModified {
			t.Errorf("If-None-Match %s: got %v %s, want 304", etag, err, statusCode(res))
		}
	})

	t.Run("the store refuses other bytes than declared", func(t *testing.T) {
		up, err := createUpload(c, a.base, "", "image/jpeg", len(data))
		if err != nil {
			t.Fatal(err)
		}
		longer := append(bytes.Clone(data), 0)
		if err := putUpload(c, up, longer); statusOf(err) < 400 || statusOf(err) > 499 {
			t.Errorf("PUT of %d bytes when %d were declared: got %v, want a 4xx from the store", len(longer), len(data), err)
		}
		png := up
		png.Upload.Headers = map[string]string{}
		for k, v := range up.Upload.Headers {
			png.Upload.Headers[k] = v
		}
		png.Upload.Headers["Content-Type"] = "image/png"
		if err := putUpload(c, png, data); statusOf(err) < 400 || statusOf(err) > 499 {
			t.Errorf("PUT with another Content-Type: got %v, want a 4xx from the store", err)
		}
		if _, err := claim(c, b.base, "", up.Upload.Token, brandID); statusOf(err) != http.StatusConflict {
			t.Errorf("claim after refused PUTs: got %v, want 409 NotUploaded", err)
		}
		// Declared bytes that are not an image get past the store but not
		// the claim, which reads them.
		notImage := bytes.Repeat([]byte("<svg onload=alert(1)>"), len(data)/21+1)[:len(data)]
		if err := putUpload(c, up, notImage); err != nil {
			t.Fatal(err)
		}
		_, err = claim(c, b.base, "", up.Upload.Token, brandID)
		if statusOf(err) != http.StatusUnprocessableEntity || !strings.Contains(err.Error(), "ContentMismatch") {
			t.Errorf("claim of non-image bytes: got %v, want 422 ContentMismatch", err)
		}
	})

	t.Run("a second PUT to a used URL does not replace the image", func(t *testing.T) {
		other := padJPEG(encodeJPEG(t, rng, 100, 80), len(data), rngBytes(rng))
		if err := putUpload(c, up, other); err != nil {
			t.Logf("second PUT: %v (refused by the store)", err)
		}
		again, err := claim(c, a.base, "", up.Upload.Token, brandID)
		if err != nil || again.UserImage.Path != img.UserImage.Path {
			t.Errorf("claim again: got %+v, %v; want the same image %s", again, err, img.UserImage.Path)
		}
		for _, srv := range []*server{a, b} {
			if got, err := fetch(c, srv.base, img.UserImage.Path); err != nil || !bytes.Equal(got, data) {
				t.Errorf("GET from %s after a second PUT: got %d bytes, %v; want the original %d", srv.base, len(got), err, len(data))
			}
		}
	})

	t.Run("50 concurrent claims over both instances make one image", func(t *testing.T) {
		up, err := createUpload(c, b.base, "", "image/jpeg", len(data))
		if err != nil {
			t.Fatal(err)
		}
		fresh := padJPEG(encodeJPEG(t, rng, 100, 80), len(data), rngBytes(rng))
		if err := putUpload(c, up, fresh); err != nil {
			t.Fatal(err)
		}
		before := d.imageCount(t)
		paths := make([]string, 50)
		var wg sync.WaitGroup
		for i := range paths {
			srv := []*server{a, b}[i%2]
			wg.Go(func() {
				img, err := claim(c, srv.base, "", up.Upload.Token, brandID)
				if err != nil {
					t.Errorf("claim %d on %s: %v", i, srv.base, err)
					return
				}
				paths[i] = img.UserImage.Path
			})
		}
		wg.Wait()
		for i, p := range paths {
			if p != paths[0] {
				t.Errorf("claim %d: got path %s, want %s like the first", i, p, paths[0])
			}
		}
		if got := d.imageCount(t) - before; got != 1 {
			t.Errorf("images published by 50 claims: got %d, want 1", got)
		}
		// The padding is a JPEG comment, which the claim strips.
		fromA, errA := fetch(c, a.base, paths[0])
		fromB, errB := fetch(c, b.base, paths[0])
		if errA != nil || errB != nil || !bytes.Equal(fromA, fromB) || len(fromA) == 0 || len(fromA) >= len(fresh) {
			t.Errorf("GET from both: got %d and %d bytes (%v, %v); want the same stripped copy, shorter than the %d uploaded",
				len(fromA), len(fromB), errA, errB, len(fresh))
		}
	})
}

// TestScaleOutRedirect: with --serve-mode redirect an image GET answers a
// presigned GET of the store, which serves the bytes with their type; a
// CDN base URL is redirected to instead when given.
func TestScaleOutRedirect(t *testing.T) {
	d := newScaleOut(t)
	srv := d.start(t, "--serve-mode", "redirect")
	cdn := d.start(t, "--serve-mode", "redirect", "--cdn-url", "https://cdn.example.com/assets")
	rng := newRand(t)
	data := encodeJPEG(t, rng, 200, 150)
	up, err := createUpload(http.DefaultClient, srv.base, "", "image/jpeg", len(data))
	if err != nil {
		t.Fatal(err)
	}
	if err := putUpload(http.DefaultClient, up, data); err != nil {
		t.Fatal(err)
	}
	img, err := claim(http.DefaultClient, srv.base, "", up.Upload.Token, brandID)
	if err != nil {
		t.Fatal(err)
	}
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, _, err := do(noFollow, http.MethodGet, srv.base+img.UserImage.Path, "", nil, nil)
	if err != nil || res.StatusCode != http.StatusFound || !strings.HasPrefix(res.Header.Get("Location"), d.s3.Endpoint) {
		t.Fatalf("GET: got %v %s Location %q, want 302 to the store %s", err, statusCode(res), res.Header.Get("Location"), d.s3.Endpoint)
	}
	res, body, err := do(http.DefaultClient, http.MethodGet, srv.base+img.UserImage.Path, "", nil, nil)
	if err != nil || res.StatusCode != http.StatusOK || !bytes.Equal(body, data) {
		t.Errorf("following the redirect: got %v %s and %d bytes, want 200 and the %d uploaded", err, statusCode(res), len(body), len(data))
	}
	if got := res.Header.Get("Content-Type"); got != "image/jpeg" {
		t.Errorf("the store's Content-Type: got %q, want image/jpeg", got)
	}
	res, _, err = do(noFollow, http.MethodGet, cdn.base+img.UserImage.Path, "", nil, nil)
	if err != nil || res.StatusCode != http.StatusFound || !strings.HasPrefix(res.Header.Get("Location"), "https://cdn.example.com/assets/") {
		t.Errorf("GET with --cdn-url: got %v %s Location %q, want 302 under the CDN", err, statusCode(res), res.Header.Get("Location"))
	}
}

// TestScaleOutTools: the admin commands, the CLI upload (whose PUT goes
// straight to the store), the Go client, and moderation all work on a
// scale-out deployment; a takedown on one instance is a 404 on the other.
func TestScaleOutTools(t *testing.T) {
	d := newScaleOut(t)
	d.cli(t, "admin-password-1\n", "user", "add", "--email", "mod@example.com", "--password-stdin", "--admin")
	token := strings.TrimSpace(d.cli(t, "", "user", "token", "--email", "mod@example.com"))
	a, b := d.start(t), d.start(t)
	rng := newRand(t)
	dir := t.TempDir()
	data := encodeJPEG(t, rng, 240, 180)
	file := clientFile(t, dir, "photo.jpeg", data)

	cmd := exec.Command(binPath, "upload", "--server", a.base, "--token", "mod@example.com/token:"+token, "--brand", brandID, "--json", file)
	cmd.Env = cleanEnv()
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("userimages upload: %v\n%s", err, out)
	}
	var path string
	for _, line := range strings.Split(string(out), "\n") {
		if i := strings.Index(line, "/hc/user_images/"); i >= 0 {
			path = strings.Trim(strings.SplitN(line[i:], `"`, 2)[0], " ")
		}
	}
	if got, err := fetch(http.DefaultClient, b.base, path); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("GET %s from the other instance after the CLI upload: got %d bytes, %v (output %s)", path, len(got), err, out)
	}

	cl, err := client.New(b.base, client.WithAPIToken("mod@example.com", token))
	if err != nil {
		t.Fatal(err)
	}
	var sent int64
	img, err := cl.UploadFile(context.Background(), file, brandID, func(s, _ int64) { sent = s })
	if err != nil {
		t.Fatalf("client upload: %v", err)
	}
	if sent != int64(len(data)) {
		t.Errorf("progress: last sent %d, want %d", sent, len(data))
	}
	checkClientImage(t, b, img, api.JPEG.MIME, "jpeg", data)
	if listed := d.cli(t, "", "images", "ls"); !strings.Contains(listed, img.Path) || !strings.Contains(listed, path) {
		t.Errorf("images ls: got %q, want both paths", listed)
	}

	// Credentials PostgreSQL cannot hold as text are wrong credentials,
	// not a server error.
	for _, auth := range []string{basicAuth("a\x00b", "pw"), basicAuth("mod@example.com", "\xffpw"), "Bearer \xff" + strings.Repeat("a", 51)} {
		if _, err := createUpload(http.DefaultClient, a.base, auth, "image/jpeg", 1000); statusOf(err) != http.StatusUnauthorized {
			t.Errorf("create with credentials %q: got %v, want 401", auth, err)
		}
	}

	res, body, err := do(http.DefaultClient, http.MethodDelete, a.base+"/api/v2/guide/user_images/"+strings.TrimSuffix(strings.TrimPrefix(img.Path, "/hc/user_images/"), ".jpeg"),
		basicAuth("mod@example.com/token", token), nil, nil)
	if err != nil || res.StatusCode != http.StatusNoContent {
		t.Fatalf("DELETE on A: got %v %s %s, want 204", err, statusCode(res), body)
	}
	for _, srv := range []*server{a, b} {
		if _, err := fetch(http.DefaultClient, srv.base, img.Path); statusOf(err) != http.StatusNotFound {
			t.Errorf("GET %s from %s after the takedown: got %v, want 404", img.Path, srv.base, err)
		}
	}
	if log := d.cli(t, "", "images", "log"); !strings.Contains(log, img.Path) {
		t.Errorf("images log: got %q, want the takedown of %s", log, img.Path)
	}
}

// TestScaleOutSweepAndComposer: `gc` on the scale-out stores deletes an
// expired upload's staged object from the bucket; the composer page may
// connect to the store, where its PUTs go.
func TestScaleOutSweepAndComposer(t *testing.T) {
	d := newScaleOut(t)
	srv := d.start(t)
	rng := newRand(t)
	data := encodeJPEG(t, rng, 64, 48)
	up, err := createUpload(http.DefaultClient, srv.base, "", "image/jpeg", len(data))
	if err != nil {
		t.Fatal(err)
	}
	if err := putUpload(http.DefaultClient, up, data); err != nil {
		t.Fatal(err)
	}
	store := d.openBlobs(t)
	staged := "staging/" + up.Upload.Token
	if b, err := store.Open(context.Background(), staged); err != nil {
		t.Fatalf("staged object after the PUT: %v", err)
	} else {
		b.Close()
	}
	time.Sleep(1100 * time.Millisecond)
	if out := d.cli(t, "", "gc", "--claim-window", "1s"); !strings.Contains(out, "expired uploads: 1") {
		t.Errorf("gc: got %q, want one expired upload", out)
	}
	if _, err := store.Open(context.Background(), staged); !errors.Is(err, core.ErrNotFound) {
		t.Errorf("staged object after gc: got %v, want ErrNotFound", err)
	}
	if _, err := claim(http.DefaultClient, srv.base, "", up.Upload.Token, brandID); statusOf(err) != http.StatusNotFound {
		t.Errorf("claim after gc: got %v, want 404 TokenNotFound", err)
	}

	res, _, err := do(http.DefaultClient, http.MethodGet, srv.base+"/composer/", "", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if csp := res.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "connect-src 'self' "+d.s3.Endpoint) {
		t.Errorf("composer CSP %q: want connect-src to allow the store %s", csp, d.s3.Endpoint)
	}
}

// openBlobs opens the deployment's bucket as the instances do.
func (d *scaleOut) openBlobs(t *testing.T) *s3store.Store {
	t.Helper()
	d.s3.Setenv(t)
	s, err := s3store.Open(context.Background(), d.blob)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestScaleOutRefusesUnpublishableSize: an upload limit the bucket store
// could never publish is refused at start.
func TestScaleOutRefusesUnpublishableSize(t *testing.T) {
	d := newScaleOut(t)
	cmd := exec.Command(binPath, append([]string{"serve", "--addr", "127.0.0.1:0", "--data", t.TempDir(), "--max-file-size", "9000000"}, d.storeArgs()...)...)
	cmd.Env = append(cleanEnv(), d.env...)
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "--max-file-size 9000000") {
		t.Errorf("serve with --max-file-size 9000000 on S3: got %v, %s; want it refused, naming the flag", err, out)
	}
}

func statusCode(res *http.Response) string {
	if res == nil {
		return "(no response)"
	}
	return fmt.Sprint(res.StatusCode)
}
