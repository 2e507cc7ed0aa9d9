package httpapi_test

import (
	"net/http"
	"strconv"
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

// TestEveryRouteWithCredentialsIsLimited: every route that accepts
// credentials charges them to the address's Auth budget before they are
// checked: over it, wrong credentials get 429, not another 401 (a route
// that skipped it would give a guesser unlimited tries). Each route has
// its own address, so its own budget.
func TestEveryRouteWithCredentialsIsLimited(t *testing.T) {
	const budget = 3
	e := newEnv(t, withLimits(memLimiter(t), httpapi.RateLimits{Auth: ratelimit.PerPeriod(budget, time.Hour)}))
	_, imagePath := e.claimed("image/jpeg", testJPEG(t, 8, 8))
	imageID := strings.TrimSuffix(strings.TrimPrefix(imagePath, "/hc/user_images/"), ".jpeg")
	up := e.create("image/jpeg", 100)
	routes := []struct {
		name string
		req  func() *http.Request
	}{
		{"create", func() *http.Request {
			return e.request(http.MethodPost, createPath, strings.NewReader(`{"content_type":"image/png","file_size":10}`))
		}},
		{"put", func() *http.Request { return e.putRequest(up, testJPEG(t, 8, 8)) }},
		{"claim", func() *http.Request {
			return e.request(http.MethodPost, claimPath, strings.NewReader(e.claimBody(up.Token, "10016")))
		}},
		{"report", func() *http.Request {
			return e.request(http.MethodPost, "/api/v2/guide/user_images/"+imageID+"/reports", strings.NewReader(`{"reason":"spam"}`))
		}},
		{"delete", func() *http.Request { return e.request(http.MethodDelete, "/api/v2/guide/user_images/"+imageID, nil) }},
		{"delete (.json)", func() *http.Request {
			return e.request(http.MethodDelete, "/api/v2/guide/user_images/"+imageID+".json", nil)
		}},
		{"users/me", func() *http.Request { return e.request(http.MethodGet, "/api/v2/users/me", nil) }},
	}
	for i, route := range routes {
		t.Run(route.name, func(t *testing.T) {
			// Each route starts with the account's failed sign-ins
			// cleared, so that only the address's budget is tested.
			if err := e.svc.Accounts.Unlock(t.Context(), "ann@example.com"); err != nil {
				t.Fatal(err)
			}
			addr := "198.51.100." + strconv.Itoa(10+i)
			for n := range budget + 2 {
				req := route.req()
				req.Header.Set("X-Forwarded-For", addr)
				req.SetBasicAuth("ann@example.com", "wrong horse")
				res := e.do(req)
				if n < budget {
					if res.status != http.StatusUnauthorized {
						t.Fatalf("wrong password %d: got %d %s, want 401", n+1, res.status, res.body)
					}
					continue
				}
				checkErrorBody(t, res, http.StatusTooManyRequests, api.CodeRateLimited)
				if res.header.Get("Retry-After") == "" {
					t.Error("429 without Retry-After")
				}
			}
		})
	}
	// Nothing was changed by any of them.
	if res := e.do(e.request(http.MethodGet, imagePath, nil)); res.status != http.StatusOK {
		t.Errorf("GET %s afterwards: got %d, want 200", imagePath, res.status)
	}
}
