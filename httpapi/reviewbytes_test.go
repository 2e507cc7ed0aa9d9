package httpapi_test

import (
	"bytes"
	"net/http"
	"strings"
	"testing"
)

// TestReviewBytesRanges: a bytes URL asked for several ranges answers
// them as multipart/byteranges, read through the guard that keeps
// ServeContent's range goroutine off the descriptor once the handler has
// returned (it goes back to localdisk's open-file cache); asked twice,
// so that the second is served from a cached descriptor.
func TestReviewBytesRanges(t *testing.T) {
	e := newEnv(t)
	img := testJPEG(t, 64, 48)
	path := reviewBytesPath(t, e, img, nil, nil)
	for i := range 2 {
		req := e.request(http.MethodGet, path, nil)
		req.Header.Set("Range", "bytes=0-9,100-109")
		res := e.do(req)
		if res.status != http.StatusPartialContent || !strings.HasPrefix(res.header.Get("Content-Type"), "multipart/byteranges") ||
			!bytes.Contains(res.body, img[:10]) || !bytes.Contains(res.body, img[100:110]) {
			t.Fatalf("GET %d with two ranges: %d %s %q", i, res.status, res.header.Get("Content-Type"), res.body)
		}
	}
}
