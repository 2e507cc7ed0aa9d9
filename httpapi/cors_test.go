package httpapi_test

import (
	"encoding/json"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"

	"userimages/httpapi"
	"userimages/metrics"
)

const helpCenter = "https://help.example.com"

// corsMode is one --cors-origin / --cors-credentials setting and what a
// page on helpCenter gets under it.
type corsMode struct {
	name        string
	origins     []string
	credentials bool
	wantOrigin  string // Access-Control-Allow-Origin for helpCenter; "" for none
	wantVary    bool   // Vary: Origin on every response
}

var corsModes = []corsMode{
	{name: "any origin", wantOrigin: "*"},
	{name: "listed origin", origins: []string{"https://other.example", helpCenter}, wantOrigin: helpCenter, wantVary: true},
	{name: "listed origin with credentials", origins: []string{helpCenter}, credentials: true, wantOrigin: helpCenter, wantVary: true},
	{name: "origin not listed", origins: []string{"https://other.example"}, wantVary: true},
}

func (m corsMode) configure(c *httpapi.Config) {
	c.CORSOrigins, c.CORSCredentials = m.origins, m.credentials
}

// headerTokens splits a comma-separated header into lower-case names.
func headerTokens(h http.Header, name string) []string {
	var out []string
	for _, v := range h.Values(name) {
		for t := range strings.SplitSeq(v, ",") {
			if t = strings.ToLower(strings.TrimSpace(t)); t != "" {
				out = append(out, t)
			}
		}
	}
	return out
}

// TestCORSPreflight sends a preflight for every API route (and its .json
// form) and every request header a Zendesk client or the upload steps send,
// from helpCenter, under each CORS mode; headers no client needs are left
// out of the answer, so the browser refuses to send them.
func TestCORSPreflight(t *testing.T) {
	routes := []struct{ method, path string }{
		{http.MethodGet, "/api/v2/users/me"},
		{http.MethodGet, "/api/v2/users/me.json"},
		{http.MethodPost, "/api/v2/guide/user_images/uploads"},
		{http.MethodPost, "/api/v2/guide/user_images/uploads.json"},
		{http.MethodPut, "/uploads/01GC9JEN2X052BAKW905PH9C36"},
		{http.MethodPost, "/api/v2/guide/user_images"},
		{http.MethodPost, "/api/v2/guide/user_images.json"},
		{http.MethodDelete, "/api/v2/guide/user_images/Bvj4bPDuRd-7d5hFVszvmQ"},
		{http.MethodDelete, "/api/v2/guide/user_images/Bvj4bPDuRd-7d5hFVszvmQ.json"},
		{http.MethodGet, "/hc/user_images/Bvj4bPDuRd-7d5hFVszvmQ.jpeg"},
	}
	headers := []struct {
		name    string
		allowed bool
	}{
		{"X-CSRF-Token", true},
		{"X-Requested-With", true},
		{"X-Zendesk-Client", true},
		{"X-Zendesk-App-Id", true},
		{"Authorization", true},
		{"Content-Type", true},
		{"Content-Disposition", true},
		{"X-Amz-Server-Side-Encryption", true},
		{"X-Zendesk-", false},
		{"X-Zendesk-Ünicode", false},
		{"X-Zendesk-A_B", false},
		{"X-Zendesk-" + strings.Repeat("a", 60), false},
		{"X-Evil", false},
		{"Cookie", false},
	}
	for _, mode := range corsModes {
		t.Run(mode.name, func(t *testing.T) {
			e := newEnv(t, mode.configure)
			for _, rt := range routes {
				for _, h := range headers {
					req := e.request(http.MethodOptions, rt.path, nil)
					req.Header.Set("Origin", helpCenter)
					req.Header.Set("Access-Control-Request-Method", rt.method)
					// Browsers send the names lower case, with the
					// always-allowed ones left out; a list is checked name by name.
					req.Header.Set("Access-Control-Request-Headers", strings.ToLower(h.name)+",x-csrf-token")
					res := e.do(req)
					what := rt.method + " " + rt.path + " with " + h.name
					if res.status != http.StatusNoContent {
						t.Errorf("%s: got status %d, want 204", what, res.status)
					}
					if got := res.header.Get("Access-Control-Allow-Origin"); got != mode.wantOrigin {
						t.Errorf("%s: Access-Control-Allow-Origin: got %q, want %q", what, got, mode.wantOrigin)
					}
					if got := res.header.Get("Access-Control-Allow-Credentials"); (got == "true") != mode.credentials {
						t.Errorf("%s: Access-Control-Allow-Credentials: got %q, want it only with credentials allowed", what, got)
					}
					if got := headerTokens(res.header, "Vary"); !slices.Contains(got, "access-control-request-headers") || slices.Contains(got, "origin") != mode.wantVary {
						t.Errorf("%s: Vary: got %q, want Access-Control-Request-Headers, and Origin: %v", what, got, mode.wantVary)
					}
					allowed := headerTokens(res.header, "Access-Control-Allow-Headers")
					methods := headerTokens(res.header, "Access-Control-Allow-Methods")
					if mode.wantOrigin == "" {
						if len(allowed) > 0 || len(methods) > 0 {
							t.Errorf("%s: from an origin not allowed: got Allow-Headers %q, Allow-Methods %q; want none", what, allowed, methods)
						}
						continue
					}
					if !slices.Contains(methods, strings.ToLower(rt.method)) {
						t.Errorf("%s: Access-Control-Allow-Methods: got %q, want %s in it", what, methods, rt.method)
					}
					if got := slices.Contains(allowed, strings.ToLower(h.name)); got != h.allowed {
						t.Errorf("%s: Access-Control-Allow-Headers %q: has %s: got %v, want %v", what, allowed, h.name, got, h.allowed)
					}
					if !slices.Contains(allowed, "x-csrf-token") {
						t.Errorf("%s: Access-Control-Allow-Headers %q: want x-csrf-token, which was requested too", what, allowed)
					}
				}
			}
		})
	}
}

// TestCORSOnResponses: every response (an image, an API answer, an error)
// carries what a later CORS read of it needs, whether or not the request
// that filled a cache sent Origin, and exposes the rate-limit and request
// id headers.
func TestCORSOnResponses(t *testing.T) {
	for _, mode := range corsModes {
		t.Run(mode.name, func(t *testing.T) {
			e := newEnv(t, mode.configure)
			_, path := e.claimed("image/jpeg", testJPEG(t, 20, 20))
			for _, rq := range []struct{ method, path, body string }{
				{http.MethodGet, path, ""},
				{http.MethodHead, path, ""},
				{http.MethodGet, "/api/v2/users/me.json", ""},
				{http.MethodPost, "/api/v2/guide/user_images/uploads.json", `{"content_type":"image/jpeg","file_size":10}`},
				{http.MethodGet, "/hc/user_images/AAAAAAAAAAAAAAAAAAAAAA.jpeg", ""},
			} {
				for _, origin := range []string{"", helpCenter} {
					req := e.request(rq.method, rq.path, strings.NewReader(rq.body))
					if origin != "" {
						req.Header.Set("Origin", origin)
					}
					res := e.do(req)
					what := rq.method + " " + rq.path + " with Origin " + origin
					wantOrigin := mode.wantOrigin
					if origin == "" && mode.wantOrigin != "*" {
						wantOrigin = ""
					}
					if got := res.header.Get("Access-Control-Allow-Origin"); got != wantOrigin {
						t.Errorf("%s: Access-Control-Allow-Origin: got %q, want %q", what, got, wantOrigin)
					}
					if got := slices.Contains(headerTokens(res.header, "Vary"), "origin"); got != mode.wantVary {
						t.Errorf("%s: Vary: Origin: got %v, want %v (Vary %q)", what, got, mode.wantVary, res.header.Values("Vary"))
					}
					exposed := headerTokens(res.header, "Access-Control-Expose-Headers")
					for _, h := range []string{"x-rate-limit", "x-rate-limit-remaining", "retry-after", "x-request-id", "etag", "x-image-width", "x-image-height"} {
						if wantOrigin != "" && !slices.Contains(exposed, h) {
							t.Errorf("%s: Access-Control-Expose-Headers %q: want %s in it", what, exposed, h)
						}
					}
				}
			}
		})
	}
}

// TestJSONAliases: the .json form of every Zendesk route is served as the
// route, and counted in the metrics under the route's one pattern.
func TestJSONAliases(t *testing.T) {
	m := metrics.New()
	e := newEnv(t, func(c *httpapi.Config) { c.Metrics = m })
	addAdmin(t, e)
	img := testJPEG(t, 20, 20)
	u := e.create("image/jpeg", len(img))
	e.put(u, img)
	body := func(s string) *strings.Reader { return strings.NewReader(s) }
	claim := e.do(e.request(http.MethodPost, "/api/v2/guide/user_images.json", body(e.claimBody(u.Token, "10016"))))
	var claimed struct {
		UserImage struct{ Path string } `json:"user_image"`
	}
	if claim.status != http.StatusCreated || json.Unmarshal(claim.body, &claimed) != nil {
		t.Fatalf("POST /api/v2/guide/user_images.json: got %d %s, want 201", claim.status, claim.body)
	}
	id := strings.TrimSuffix(strings.TrimPrefix(claimed.UserImage.Path, "/hc/user_images/"), ".jpeg")
	for _, tt := range []struct {
		method, path, body string
		auth               bool
		want               int
	}{
		{http.MethodPost, "/api/v2/guide/user_images/uploads.json", `{"content_type":"image/png","file_size":10}`, false, http.StatusOK},
		{http.MethodGet, "/api/v2/users/me.json", "", false, http.StatusOK},
		{http.MethodDelete, "/api/v2/guide/user_images/" + id + ".json", "", true, http.StatusNoContent},
		{http.MethodGet, "/api/v2/guide/user_images/uploads.json", "", false, http.StatusMethodNotAllowed},
		{http.MethodGet, "/api/v2/nope.json", "", false, http.StatusNotFound},
		{http.MethodGet, "/hc/user_images/" + id + ".json", "", false, http.StatusNotFound}, // not an API route
	} {
		req := e.request(tt.method, tt.path, body(tt.body))
		if tt.auth {
			req.SetBasicAuth("mod@example.com", "moderator pw")
		}
		if res := e.do(req); res.status != tt.want {
			t.Errorf("%s %s: got %d %s, want %d", tt.method, tt.path, res.status, res.body, tt.want)
		}
	}
	text := e.do(e.request(http.MethodGet, "/metrics", nil)).body
	for _, route := range []string{"POST /api/v2/guide/user_images/uploads", "POST /api/v2/guide/user_images", "GET /api/v2/users/me", "DELETE /api/v2/guide/user_images/{id}"} {
		if !strings.Contains(string(text), `route="`+route+`"`) {
			t.Errorf("metrics: no series with route=%q", route)
		}
	}
	if m := regexp.MustCompile(`route="[^"]*\.json"`).Find(text); m != nil {
		t.Errorf("metrics: got a series labelled %s, want aliases counted under their route's pattern", m)
	}
	if !strings.Contains(string(text), `userimages_uploads_created_total 2`) {
		t.Errorf("metrics: want both creates (one through the .json alias) counted in userimages_uploads_created_total 2")
	}
}

// TestUsersMe: Zendesk's user object for the caller, the anonymous user
// without credentials, and a fresh authenticity_token each time.
func TestUsersMe(t *testing.T) {
	e := newEnv(t)
	addAdmin(t, e)
	type user struct {
		ID    *int64  `json:"id"`
		Name  string  `json:"name"`
		Email *string `json:"email"`
		Role  string  `json:"role"`
		Token string  `json:"authenticity_token"`
	}
	get := func(auth ...string) (int, user) {
		req := e.request(http.MethodGet, "/api/v2/users/me.json", nil)
		if len(auth) == 2 {
			req.SetBasicAuth(auth[0], auth[1])
		}
		res := e.do(req)
		var got struct{ User user }
		if res.status == http.StatusOK && json.Unmarshal(res.body, &got) != nil {
			t.Fatalf("users/me: body %s is not a user object", res.body)
		}
		if res.status == http.StatusOK && res.header.Get("Cache-Control") != "no-store" {
			t.Errorf("users/me: Cache-Control: got %q, want no-store", res.header.Get("Cache-Control"))
		}
		return res.status, got.User
	}
	status, anon := get()
	if status != http.StatusOK || anon.ID != nil || anon.Email != nil || anon.Role != "anonymous" || len(anon.Token) != 43 {
		t.Errorf("anonymous: got %d %+v, want 200, id and email null, role anonymous, a 43-character token", status, anon)
	}
	if _, again := get(); again.Token == anon.Token {
		t.Errorf("anonymous twice: got the same authenticity_token %q, want a fresh one", again.Token)
	}
	status, ann := get("ann@example.com", "correct horse")
	if status != http.StatusOK || ann.ID == nil || *ann.ID == 0 || ann.Email == nil || *ann.Email != "ann@example.com" || ann.Role != "end-user" || ann.Token == "" {
		t.Errorf("ann: got %d %+v, want 200, her id and email, role end-user, a token", status, ann)
	}
	if status, mod := get("mod@example.com", "moderator pw"); status != http.StatusOK || mod.Role != "admin" {
		t.Errorf("admin: got %d %+v, want 200, role admin", status, mod)
	}
	if status, _ := get("ann@example.com", "wrong horse"); status != http.StatusUnauthorized {
		t.Errorf("wrong password: got %d, want 401", status)
	}
}

// TestMetricsWithoutCORS: /metrics is for a scraper, not a page: under
// every CORS mode neither its GET nor a preflight for it carries an
// Access-Control- header, while an API route's still does.
func TestMetricsWithoutCORS(t *testing.T) {
	for _, mode := range corsModes {
		t.Run(mode.name, func(t *testing.T) {
			e := newEnv(t, mode.configure, func(c *httpapi.Config) { c.Metrics = metrics.New() })
			get := e.request(http.MethodGet, "/metrics", nil)
			get.Header.Set("Origin", helpCenter)
			preflight := e.request(http.MethodOptions, "/metrics", nil)
			preflight.Header.Set("Origin", helpCenter)
			preflight.Header.Set("Access-Control-Request-Method", http.MethodGet)
			for _, req := range []*http.Request{get, preflight} {
				res := e.do(req)
				if req.Method == http.MethodGet && res.status != http.StatusOK {
					t.Fatalf("GET /metrics: got %d, want 200", res.status)
				}
				for name := range res.header {
					if strings.HasPrefix(name, "Access-Control-") {
						t.Errorf("%s /metrics: got %s: %s, want no CORS header", req.Method, name, res.header.Get(name))
					}
				}
			}
			me := e.request(http.MethodGet, "/api/v2/users/me", nil)
			me.Header.Set("Origin", helpCenter)
			if got := e.do(me).header.Get("Access-Control-Allow-Origin"); got != mode.wantOrigin {
				t.Errorf("GET /api/v2/users/me: got Access-Control-Allow-Origin %q, want %q", got, mode.wantOrigin)
			}
		})
	}
}
