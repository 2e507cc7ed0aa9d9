package httpapi_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"hash/crc32"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"userimages/core"
	"userimages/httpapi"
	"userimages/internal/testkit/embeddedtest"
	"userimages/internal/testkit/testclock"
	"userimages/selfsign"
	"userimages/sqlite"
)

// env is a real server (SQLite, local disk, self-signed URLs) on a test
// listener, with a clock the test moves.
type env struct {
	t                testing.TB
	srv              *httptest.Server
	db               *sqlite.DB
	svc              core.Services
	signer           *selfsign.Signer
	log              *slog.Logger
	dir              string
	*testclock.Clock // the service's and the server's
}

// newEnv starts the server; configure, when given, changes its
// httpapi.Config. t may be a benchmark's *testing.B.
func newEnv(t testing.TB, configure ...func(*httpapi.Config)) *env {
	t.Helper()
	e := &env{t: t, Clock: testclock.New(time.Now().UTC())}
	ctx := context.Background()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	d := embeddedtest.Open(t, core.Config{}, core.Runtime{Now: e.Now, Log: log})
	e.dir, e.db, e.svc, e.signer, e.log = d.Dir, d.DB, d.Svc, d.Signer, log
	svc := d.Svc
	for _, b := range []string{"10016", "20000"} {
		if err := svc.Brands.AddBrand(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := svc.Accounts.AddUser(ctx, "ann@example.com", "correct horse", false); err != nil {
		t.Fatal(err)
	}
	e.srv = e.newServer(configure...)
	return e
}

// newServer starts another server on the same service and stores, as
// another instance of a deployment would be.
func (e *env) newServer(configure ...func(*httpapi.Config)) *httptest.Server {
	e.t.Helper()
	cfg := httpapi.Config{UploadPath: selfsign.PathPrefix}
	for _, f := range configure {
		f(&cfg)
	}
	api, err := httpapi.New(httpapi.ServicesOf(e.svc), cfg, e.log, e.Now)
	if err != nil {
		e.t.Fatal(err)
	}
	srv := httptest.NewServer(api.Handler())
	e.t.Cleanup(srv.Close)
	// Requests with Expect: 100-continue wait for the server's go-ahead.
	srv.Client().Transport.(*http.Transport).ExpectContinueTimeout = 10 * time.Second
	return srv
}

// response is a finished HTTP exchange.
type response struct {
	status int
	header http.Header
	body   []byte
}

func (e *env) do(req *http.Request) response {
	e.t.Helper()
	res, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatalf("%s %s: read body: %v", req.Method, req.URL, err)
	}
	return response{res.StatusCode, res.Header, body}
}

func (e *env) request(method, path string, body io.Reader) *http.Request {
	e.t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+path, body)
	if err != nil {
		e.t.Fatal(err)
	}
	return req
}

func (e *env) postJSON(path, body string) response {
	e.t.Helper()
	return e.do(e.request(http.MethodPost, path, strings.NewReader(body)))
}

// upload is step 1's answer.
type upload struct {
	Token   string            `json:"token"`
	URL     string            `json:"url"`
	Headers map[string]string `json:"headers"`
}

func (e *env) create(contentType string, size int) upload {
	e.t.Helper()
	body, _ := json.Marshal(map[string]any{"content_type": contentType, "file_size": size})
	res := e.postJSON("/api/v2/guide/user_images/uploads", string(body))
	var got struct{ Upload upload }
	if res.status != http.StatusOK || json.Unmarshal(res.body, &got) != nil {
		e.t.Fatalf("create upload: got %d %s, want 200", res.status, res.body)
	}
	return got.Upload
}

// putRequest is the PUT a client makes with u, its body and headers.
func (e *env) putRequest(u upload, body []byte) *http.Request {
	e.t.Helper()
	req, err := http.NewRequest(http.MethodPut, u.URL, bytes.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	for k, v := range u.Headers {
		req.Header.Set(k, v)
	}
	return req
}

func (e *env) put(u upload, body []byte) {
	e.t.Helper()
	if res := e.do(e.putRequest(u, body)); res.status != http.StatusOK {
		e.t.Fatalf("PUT: got %d %s, want 200", res.status, res.body)
	}
}

func (e *env) claimBody(token, brand string) string {
	return `{"token":"` + token + `","brand_id":"` + brand + `"}`
}

// claimed runs the three steps and returns the image path.
func (e *env) claimed(contentType string, body []byte) (upload, string) {
	e.t.Helper()
	u := e.create(contentType, len(body))
	e.put(u, body)
	res := e.postJSON("/api/v2/guide/user_images", e.claimBody(u.Token, "10016"))
	var got struct {
		UserImage struct{ Path string } `json:"user_image"`
	}
	if res.status != http.StatusCreated || json.Unmarshal(res.body, &got) != nil {
		e.t.Fatalf("claim: got %d %s, want 201", res.status, res.body)
	}
	return u, got.UserImage.Path
}

// snapshot describes everything stored: row counts and every file.
func (e *env) snapshot() string {
	e.t.Helper()
	uploads, images, err := e.db.Counts(context.Background())
	if err != nil {
		e.t.Fatal(err)
	}
	var files []string
	filepath.WalkDir(filepath.Join(e.dir, "blobs"), func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			files = append(files, strings.TrimPrefix(p, e.dir))
		}
		return nil
	})
	sort.Strings(files)
	b, _ := json.Marshal(map[string]any{"uploads": uploads, "images": images, "files": files})
	return string(b)
}

func testJPEG(t testing.TB, w, h int) []byte {
	t.Helper()
	m := image.NewRGBA(image.Rect(0, 0, w, h))
	for x := range w {
		for y := range h {
			m.Set(x, y, color.RGBA{uint8(x), uint8(y), 90, 255})
		}
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, m, nil); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func testPNG(t testing.TB, w, h int) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := png.Encode(&buf, image.NewGray(image.Rect(0, 0, w, h))); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// pngWithDims is a small PNG whose header claims w×h.
func pngWithDims(t testing.TB, w, h int) []byte {
	t.Helper()
	p := testPNG(t, 1, 1)
	binary.BigEndian.PutUint32(p[16:], uint32(w))
	binary.BigEndian.PutUint32(p[20:], uint32(h))
	binary.BigEndian.PutUint32(p[29:], crc32.ChecksumIEEE(p[12:29]))
	return p
}

// jpegWithDims is a small JPEG whose frame header claims w×h.
func jpegWithDims(t testing.TB, w, h int) []byte {
	t.Helper()
	j := testJPEG(t, 8, 8)
	i := bytes.Index(j, []byte{0xFF, 0xC0})
	if i < 0 {
		t.Fatal("no SOF0 in the test JPEG")
	}
	binary.BigEndian.PutUint16(j[i+5:], uint16(h))
	binary.BigEndian.PutUint16(j[i+7:], uint16(w))
	return j
}
