package httpapi_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"userimages/core"
	"userimages/httpapi"

	"github.com/userimages/userimages/client/api"
)

func TestEveryCodeHasAStatus(t *testing.T) {
	for _, ci := range api.Codes() {
		c := ci.Code
		st := httpapi.StatusOf(c)
		// Faults of ours are 5xx; everything else blames the request.
		want := map[api.Code]int{api.CodeInternalError: 500, api.CodeServiceUnavailable: 503, api.CodeStorageUnavailable: 503, api.CodeInsufficientStorage: 507}
		switch w, ours := want[c]; {
		case ours && st != w:
			t.Errorf("%s: got status %d, want %d", c, st, w)
		case !ours && (st < 400 || st > 499):
			t.Errorf("%s: got status %d, want a 4xx", c, st)
		}
	}
}

// TestREADMEListsEveryCode keeps the error table the README links to
// (docs/errors.md) true.
func TestREADMEListsEveryCode(t *testing.T) {
	readme, err := os.ReadFile("../docs/errors.md")
	if err != nil {
		t.Fatal(err)
	}
	rows := regexp.MustCompile("(?m)^\\| `(\\w+)` \\| (\\d{3}) \\|").FindAllStringSubmatch(string(readme), -1)
	documented := map[string]string{}
	for _, r := range rows {
		documented[r[1]] = r[2]
	}
	for _, ci := range api.Codes() {
		c := ci.Code
		if got, want := documented[string(c)], strconv.Itoa(httpapi.StatusOf(c)); got != want {
			t.Errorf("README error table: %s has status %q, want %q", c, got, want)
		}
	}
	if len(documented) != len(api.Codes()) {
		t.Errorf("README error table: got %d codes, want %d", len(documented), len(api.Codes()))
	}
}

func TestHealthz(t *testing.T) {
	e := newEnv(t)
	res := e.do(e.request(http.MethodGet, "/healthz", nil))
	if res.status != 200 || !strings.Contains(string(res.body), `"ok"`) {
		t.Fatalf("healthz: got %d %s", res.status, res.body)
	}
}

func TestClaimIsIdempotentPerBrand(t *testing.T) {
	e := newEnv(t)
	img := testJPEG(t, 20, 20)
	u, path := e.claimed("image/jpeg", img)
	for _, body := range []string{e.claimBody(u.Token, "10016"), `{"token":"` + u.Token + `","brand_id":10016}`} {
		res := e.postJSON(claimPath, body)
		var got struct {
			UserImage struct {
				ContentType string `json:"content_type"`
				Path        string `json:"path"`
				Size        int    `json:"size"`
			} `json:"user_image"`
		}
		if res.status != 201 || json.Unmarshal(res.body, &got) != nil {
			t.Fatalf("claim again %s: got %d %s, want 201", body, res.status, res.body)
		}
		if got.UserImage.Path != path || got.UserImage.Size != len(img) || got.UserImage.ContentType != "image/jpeg" {
			t.Errorf("claim again: got %+v, want path %s size %d", got.UserImage, path, len(img))
		}
	}
}

func TestSweepRemovesExpiredUploads(t *testing.T) {
	e := newEnv(t)
	img := testJPEG(t, 20, 20)
	_, path := e.claimed("image/jpeg", img)
	expired := e.create("image/jpeg", len(img))
	e.put(expired, img)
	e.Advance(core.DefaultClaimWindow + time.Second)
	fresh := e.create("image/jpeg", len(img))
	e.put(fresh, img)

	st, err := e.svc.Upkeep.Sweep(context.Background(), core.SweepOptions{Orphans: true})
	if err != nil {
		t.Fatal(err)
	}
	if want := (core.SweepStats{ExpiredUploads: 1}); st != want {
		t.Errorf("sweep: got %+v, want %+v", st, want)
	}
	if res := e.postJSON(claimPath, e.claimBody(expired.Token, "10016")); res.status != 404 {
		t.Errorf("claim swept upload: got %d %s, want 404", res.status, res.body)
	}
	if res := e.postJSON(claimPath, e.claimBody(fresh.Token, "10016")); res.status != 201 {
		t.Errorf("claim fresh upload: got %d %s, want 201", res.status, res.body)
	}
	if res := e.do(e.request(http.MethodGet, path, nil)); res.status != 200 || string(res.body) != string(img) {
		t.Errorf("claimed image after sweep: got %d, %d bytes; want 200, %d bytes", res.status, len(res.body), len(img))
	}
	snap := e.snapshot()
	if st, _ := e.svc.Upkeep.Sweep(context.Background(), core.SweepOptions{Orphans: true}); st != (core.SweepStats{}) || e.snapshot() != snap {
		t.Errorf("second sweep: got %+v and a changed store, want nothing swept", st)
	}
}

func TestImageRecordsUploader(t *testing.T) {
	e := newEnv(t)
	img := testJPEG(t, 20, 20)
	req := e.request(http.MethodPost, createPath, strings.NewReader(`{"content_type":"image/jpeg","file_size":`+strconv.Itoa(len(img))+`}`))
	req.SetBasicAuth("ann@example.com", "correct horse")
	res := e.do(req)
	var created struct{ Upload upload }
	if res.status != 200 || json.Unmarshal(res.body, &created) != nil {
		t.Fatalf("create as ann: got %d %s", res.status, res.body)
	}
	e.put(created.Upload, img)
	// Only ann may claim what she uploaded.
	if res := e.postJSON(claimPath, e.claimBody(created.Upload.Token, "10016")); res.status != http.StatusConflict {
		t.Fatalf("anonymous claim of ann's upload: got %d %s, want 409 NotUploaded, as for an unknown token", res.status, res.body)
	}
	req = e.request(http.MethodPost, claimPath, strings.NewReader(e.claimBody(created.Upload.Token, "10016")))
	req.SetBasicAuth("ann@example.com", "correct horse")
	if res := e.do(req); res.status != 201 {
		t.Fatalf("claim as ann: got %d %s", res.status, res.body)
	}
	e.claimed("image/jpeg", img) // anonymous

	images, err := e.db.Images(context.Background())
	if err != nil || len(images) != 2 {
		t.Fatalf("images: got %d, %v; want 2", len(images), err)
	}
	users := map[int64]int{}
	for _, img := range images {
		users[img.Uploader.UserID]++
		if img.Uploader.ClientAddr != "127.0.0.1" {
			t.Errorf("client address: got %q, want 127.0.0.1", img.Uploader.ClientAddr)
		}
	}
	if users[0] != 1 || len(users) != 2 {
		t.Errorf("uploaders: got %v, want one anonymous image and one of ann's", users)
	}
}

// TestServedCopyIsSafe uploads a camera JPEG with GPS and an HTML tail: the
// served copy has neither, keeps its orientation, and its size is what the
// claim said.
func TestServedCopyIsSafe(t *testing.T) {
	e := newEnv(t)
	photo, err := os.ReadFile("../imagesafe/testdata/gps_rotated.jpg")
	if err != nil {
		t.Fatal(err)
	}
	upload := append(append([]byte{}, photo...), "<html><script>alert(1)</script>"...)
	u := e.create("image/jpeg", len(upload))
	e.put(u, upload)
	res := e.postJSON(claimPath, e.claimBody(u.Token, "10016"))
	var got struct {
		UserImage struct {
			Path string `json:"path"`
			Size int    `json:"size"`
		} `json:"user_image"`
	}
	if res.status != 201 || json.Unmarshal(res.body, &got) != nil {
		t.Fatalf("claim: got %d %s", res.status, res.body)
	}
	served := e.do(e.request(http.MethodGet, got.UserImage.Path, nil))
	if served.status != 200 || len(served.body) != got.UserImage.Size {
		t.Fatalf("GET: got %d with %d bytes, want 200 with the claimed %d", served.status, len(served.body), got.UserImage.Size)
	}
	if got.UserImage.Size >= len(photo) {
		t.Errorf("size: got %d, want less than the %d uploaded (metadata stripped)", got.UserImage.Size, len(photo))
	}
	for _, leak := range []string{"GPS", "CAM123456", "Jane Secret", "<script", "<html"} {
		if strings.Contains(string(served.body), leak) {
			t.Errorf("served copy contains %q", leak)
		}
	}
	if !strings.Contains(string(served.body), "Exif\x00\x00MM\x00*") || !strings.Contains(string(served.body), "Artifex Software sRGB") {
		t.Error("served copy lost its orientation or its ICC profile")
	}
}

// TestHTTP10WithoutHost: an HTTP/1.0 request has no Host to build the
// upload URL from; it gets a 400, not a 500, and nothing is stored.
func TestHTTP10WithoutHost(t *testing.T) {
	e := newEnv(t)
	before := e.snapshot()
	conn, err := net.Dial("tcp", e.srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	body := `{"content_type":"image/png","file_size":100}`
	fmt.Fprintf(conn, "POST %s HTTP/1.0\r\nContent-Length: %d\r\n\r\n%s", createPath, len(body), body)
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	checkErrorBody(t, response{res.StatusCode, res.Header, b}, 400, api.CodeInvalidHost)
	if after := e.snapshot(); after != before {
		t.Errorf("stored state changed: got %s, want %s", after, before)
	}
}
