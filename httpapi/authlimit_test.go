package httpapi_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"userimages/httpapi"
	"userimages/ratelimit"

	"github.com/userimages/userimages/client/api"
)

// TestCredentialsAreLimitedBeforeHashing: requests sending credentials
// spend their address's Auth budget before the password is checked, so a
// flood of bad credentials is refused without costing password hashes;
// requests without credentials do not spend it.
func TestCredentialsAreLimitedBeforeHashing(t *testing.T) {
	limits := httpapi.RateLimits{Create: ratelimit.PerPeriod(100, time.Minute), Auth: ratelimit.PerPeriod(3, time.Minute)}
	e := newEnv(t, withLimits(memLimiter(t), limits))
	send := func(auth bool) response {
		req := e.request(http.MethodPost, createPath, strings.NewReader(`{"content_type":"image/png","file_size":10}`))
		req.Header.Set("X-Forwarded-For", "198.51.100.7")
		if auth {
			req.SetBasicAuth("ann@example.com", "wrong horse")
		}
		return e.do(req)
	}
	for i := range 3 {
		if res := send(true); res.status != http.StatusUnauthorized {
			t.Fatalf("bad credentials %d: got %d %s, want 401", i, res.status, res.body)
		}
	}
	res := send(true)
	checkErrorBody(t, res, http.StatusTooManyRequests, api.CodeRateLimited)
	if res.header.Get("Retry-After") == "" {
		t.Error("429 without Retry-After")
	}
	if res := send(false); res.status != http.StatusOK {
		t.Errorf("anonymous request from the same address: got %d %s, want 200", res.status, res.body)
	}
}
