package e2e

import (
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"os"
	"strconv"
	"testing"
)

// TestRateLimitAcrossProcesses runs two servers sharing one Redis: a
// client's budget is one, however its requests are spread over them.
func TestRateLimitAcrossProcesses(t *testing.T) {
	redisURL := os.Getenv("USERIMAGES_TEST_REDIS_URL")
	if redisURL == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("USERIMAGES_TEST_REDIS_URL is not set (scripts/test.sh sets it)")
		}
		t.Skip("no test Redis: set USERIMAGES_TEST_REDIS_URL")
	}
	var b [6]byte
	rand.Read(b[:])
	args := []string{"--redis", redisURL, "--redis-prefix", "userimages-e2e-" + hex.EncodeToString(b[:]) + ":", "--rate-limit-create", "6/m"}
	data := t.TempDir()
	servers := []*server{startServer(t, data, args...), startServer(t, data, args...)}
	var statuses []int
	var remaining []string
	for i := range 8 {
		srv := servers[i%2]
		res, body, err := do(http.DefaultClient, http.MethodPost, srv.base+"/api/v2/guide/user_images/uploads", "", nil,
			[]byte(`{"content_type":"image/png","file_size":100}`))
		if err != nil {
			t.Fatal(err)
		}
		statuses = append(statuses, res.StatusCode)
		remaining = append(remaining, res.Header.Get("X-Rate-Limit-Remaining"))
		if res.StatusCode == http.StatusTooManyRequests {
			if ra, err := strconv.Atoi(res.Header.Get("Retry-After")); err != nil || ra < 1 {
				t.Errorf("429 Retry-After: got %q, want whole seconds ≥ 1", res.Header.Get("Retry-After"))
			}
			if errorCode(body) != "RateLimited" {
				t.Errorf("429 body: got %s, want code RateLimited", body)
			}
		}
		if got := res.Header.Get("X-Rate-Limit"); got != "6" {
			t.Errorf("X-Rate-Limit: got %q, want 6", got)
		}
	}
	want := []int{200, 200, 200, 200, 200, 200, 429, 429}
	for i := range want {
		if statuses[i] != want[i] {
			t.Fatalf("statuses alternating over two servers: got %v (remaining %v), want %v", statuses, remaining, want)
		}
	}
	if remaining[5] != "0" || remaining[0] != "5" {
		t.Errorf("X-Rate-Limit-Remaining: got %v, want 5 down to 0", remaining)
	}
}
