package e2e

import (
	"net/http"
	"sync"
	"testing"
	"time"

	"userimages/internal/testkit/testphoto"

	"github.com/userimages/userimages/client/api"
)

// burstVariants GETs every one of urls from c at once, as a browser
// loading a page does, and counts the answers by status. Every 429 must
// be RateLimited with Retry-After.
func burstVariants(t *testing.T, c *http.Client, urls []string) map[int]int {
	t.Helper()
	var mu sync.Mutex
	byStatus := map[int]int{}
	var wg sync.WaitGroup
	for _, u := range urls {
		wg.Go(func() {
			res, body, err := do(c, http.MethodGet, u, "", map[string]string{"Accept": "image/avif,image/webp,*/*"}, nil)
			if err != nil {
				t.Errorf("GET %s: %v", u, err)
				return
			}
			if res.StatusCode == http.StatusTooManyRequests && (res.Header.Get("Retry-After") == "" || errorCode(body) != "RateLimited") {
				t.Errorf("GET %s: 429 %s with Retry-After %q, want RateLimited with Retry-After", u, body, res.Header.Get("Retry-After"))
			}
			mu.Lock()
			byStatus[res.StatusCode]++
			mu.Unlock()
		})
	}
	wg.Wait()
	return byStatus
}

// TestVariantQueue: with the default limits, a browser-like burst of 24
// cold thumbnails from one client (the console's grid, a post with many
// new pictures) is all answered 200, made a few at a time, none refused;
// a burst far past the client's queue (--max-queued-variants-per-client)
// gets 429 with Retry-After past it, the rest 200.
func TestVariantQueue(t *testing.T) {
	srv := startServer(t, t.TempDir())
	var thumbs []string
	for i := range 24 {
		path := sampleFlow(t, srv, "", api.JPEG.MIME, testphoto.JPEG(400, 300, uint64(100+i), 0))
		thumbs = append(thumbs, srv.base+path+"?w=320&auto=format")
	}
	start := time.Now()
	got := burstVariants(t, fromAddr("127.0.0.4"), thumbs)
	t.Logf("24 cold thumbnails at once from one client: %v in %s", got, time.Since(start))
	if got[http.StatusOK] != len(thumbs) {
		t.Errorf("24 cold thumbnails at once from one client: got %v, want all 200", got)
	}

	var flood []string
	for i := range 4 {
		path := sampleFlow(t, srv, "", api.JPEG.MIME, testphoto.JPEG(1600, 1200, uint64(200+i), 0))
		for _, q := range variantQueries() {
			flood = append(flood, srv.base+path+"?"+q)
		}
	}
	got = burstVariants(t, fromAddr("127.0.0.5"), flood)
	t.Logf("%d cold variants at once from one client: %v", len(flood), got)
	if got[http.StatusTooManyRequests] == 0 || got[http.StatusOK] < 2 || got[http.StatusOK]+got[http.StatusTooManyRequests] != len(flood) {
		t.Errorf("%d cold variants at once from one client: got %v, want some 429 past its queue, the rest 200", len(flood), got)
	}
}
