package httpapi_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/userimages/userimages/client/api"

	"userimages/internal/testkit/testphoto"
)

// TestImageSizeHeaders: the claim, and GET and HEAD of the original and
// of its variants, say the picture's size as it is shown (a JPEG stored
// 300×500 with EXIF orientation 6 is shown 500×300); a variant says its
// own, never wider than the original.
func TestImageSizeHeaders(t *testing.T) {
	e := newEnv(t)
	body := testphoto.JPEG(300, 500, 1, 6)
	u := e.create(api.JPEG.MIME, len(body))
	e.put(u, body)
	res := e.postJSON("/api/v2/guide/user_images", e.claimBody(u.Token, "10016"))
	if res.status != http.StatusCreated {
		t.Fatalf("claim: got %d %s, want 201", res.status, res.body)
	}
	if !strings.Contains(string(res.body), `"user_image":{"content_type":"image/jpeg","path":"`) || strings.Contains(string(res.body), "width") {
		t.Errorf("claim body: got %s, want Zendesk's, without a size", res.body)
	}
	checkSize(t, "claim", res.header, "500", "300")
	var path string
	if _, after, ok := strings.Cut(string(res.body), `"path":"`); ok {
		path, _, _ = strings.Cut(after, `"`)
	}
	for _, tt := range []struct{ query, w, h string }{
		{"", "500", "300"},
		{"?w=160", "160", "96"},
		{"?w=320&fm=webp", "320", "192"},
		{"?w=640", "500", "300"}, // never upscaled
		{"?auto=format", "500", "300"},
	} {
		for _, method := range []string{http.MethodGet, http.MethodHead} {
			res := e.do(e.request(method, path+tt.query, nil))
			if res.status != http.StatusOK {
				t.Fatalf("%s %s: got %d %s, want 200", method, tt.query, res.status, res.body)
			}
			checkSize(t, method+" "+path+tt.query, res.header, tt.w, tt.h)
		}
	}
}

func checkSize(t *testing.T, what string, h http.Header, w, height string) {
	t.Helper()
	if got, gotH := h.Get(api.ImageWidthHeader), h.Get(api.ImageHeightHeader); got != w || gotH != height {
		t.Errorf("%s: %s × %s: got %q × %q, want %s × %s", what, api.ImageWidthHeader, api.ImageHeightHeader, got, gotH, w, height)
	}
}
