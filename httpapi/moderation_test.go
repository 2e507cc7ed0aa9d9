package httpapi_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"userimages/core"
	"userimages/httpapi"
	"userimages/metrics"

	"github.com/userimages/userimages/client/api"
)

func TestModerationDelete(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	if _, err := e.svc.Accounts.AddUser(ctx, "mod@example.com", "moderator pw", true); err != nil {
		t.Fatal(err)
	}
	img := testJPEG(t, 24, 24)
	up, path := e.claimed("image/jpeg", img)
	other := e.newServer() // a second instance on the same stores
	del := func(auth func(*http.Request), target string) response {
		req := e.request(http.MethodDelete, "/api/v2/guide/user_images/"+target, nil)
		if auth != nil {
			auth(req)
		}
		return e.do(req)
	}
	as := func(user, pass string) func(*http.Request) {
		return func(r *http.Request) { r.SetBasicAuth(user, pass) }
	}
	withToken := func(token string) func(*http.Request) {
		return func(r *http.Request) { r.Header.Set(api.UploadTokenHeader, token) }
	}
	file := strings.TrimPrefix(path, "/hc/user_images/")
	id, _, _ := strings.Cut(file, ".")

	for _, tt := range []struct {
		name   string
		auth   func(*http.Request)
		target string
		status int
		code   api.Code
	}{
		{"anonymous", nil, id, 401, api.CodeUnauthorized},
		{"wrong password", as("mod@example.com", "nope"), id, 401, api.CodeUnauthorized},
		{"not an admin, not the uploader", as("ann@example.com", "correct horse"), id, 404, api.CodeNotFound},
		{"not an admin, blocking", as("ann@example.com", "correct horse"), id + "?block=true", 403, api.CodeForbidden},
		{"another upload's token", withToken(e.create("image/jpeg", 10).Token), id, 404, api.CodeNotFound},
		{"its token, blocking", withToken(up.Token), id + "?block=true", 403, api.CodeForbidden},
		{"its token, malformed id", withToken(up.Token), "nope", 404, api.CodeNotFound},
		{"unknown image", as("mod@example.com", "moderator pw"), "AAAAAAAAAAAAAAAAAAAAAA", 404, api.CodeNotFound},
		{"malformed id", as("mod@example.com", "moderator pw"), "nope", 404, api.CodeNotFound},
		{"bad block value", as("mod@example.com", "moderator pw"), id + "?block=maybe", 422, api.CodeInvalidProperty},
	} {
		t.Run(tt.name, func(t *testing.T) {
			res := del(tt.auth, tt.target)
			if res.status != tt.status {
				t.Errorf("status: got %d, want %d (%s)", res.status, tt.status, res.body)
			}
			checkErrorBody(t, res, tt.status, tt.code)
			if get := e.do(e.request(http.MethodGet, path, nil)); get.status != 200 {
				t.Errorf("image after a refused delete: got %d, want 200", get.status)
			}
		})
	}

	if res := del(as("mod@example.com", "moderator pw"), file+"?block=true&reason=spam"); res.status != http.StatusNoContent {
		t.Fatalf("admin delete: got %d %s, want 204", res.status, res.body)
	}
	for name, srv := range map[string]*httptest.Server{"this instance": e.srv, "another instance": other} {
		res, err := srv.Client().Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusNotFound {
			t.Errorf("GET after delete on %s: got %d, want 404", name, res.StatusCode)
		}
	}
	log, err := e.svc.Moderation.Deletions(ctx, 10)
	if err != nil || len(log) != 1 {
		t.Fatalf("audit log: got %d entries, %v; want 1", len(log), err)
	}
	if d := log[0]; !strings.HasPrefix(d.By, "user:") || d.Reason != "spam" || !d.Blocked || core.Path(d.Image) != path {
		t.Errorf("audit entry: got %+v, want by a user, reason spam, blocked, path %s", d, path)
	}
	if files := e.snapshot(); strings.Contains(files, "images/") {
		t.Errorf("image bytes left after delete: %s", files)
	}

	// The same bytes again are refused, at the PUT; other bytes are not.
	res := e.do(e.putRequest(e.create("image/jpeg", len(img)), img))
	if res.status != 422 {
		t.Errorf("re-upload of blocked bytes: got %d %s, want 422", res.status, res.body)
	}
	checkErrorBody(t, res, 422, api.CodeBlockedContent)
	e.claimed("image/jpeg", testJPEG(t, 25, 24))
}

func TestReadyz(t *testing.T) {
	e := newEnv(t)
	if res := e.do(e.request(http.MethodGet, "/readyz", nil)); res.status != 200 {
		t.Fatalf("readyz: got %d %s, want 200", res.status, res.body)
	}
	e.db.Close() // the metadata store stops answering
	res := e.do(e.request(http.MethodGet, "/readyz", nil))
	checkErrorBody(t, res, 503, api.CodeServiceUnavailable)
}

func TestMetrics(t *testing.T) {
	m := metrics.New()
	e := newEnv(t, func(c *httpapi.Config) { c.Metrics = m })
	img := testJPEG(t, 24, 24)
	_, path := e.claimed("image/jpeg", img)
	e.do(e.request(http.MethodGet, path, nil))
	e.postJSON(createPath, `{"content_type":"text/html","file_size":10}`)
	e.do(e.request(http.MethodGet, "/nowhere/"+strings.Repeat("x", 10), nil))

	res := e.do(e.request(http.MethodGet, "/metrics", nil))
	if res.status != 200 {
		t.Fatalf("metrics: got %d", res.status)
	}
	body := string(res.body)
	for _, want := range []struct {
		series string
		value  float64
	}{
		{`userimages_uploads_created_total`, 1},
		{`userimages_uploads_claimed_total`, 1},
		{`userimages_uploads_refused_total{code="UnsupportedContentType"}`, 1},
		{`userimages_bytes_received_total`, float64(len(img))},
		{`userimages_bytes_served_total`, float64(len(img))},
		{`userimages_http_requests_total{method="POST",route="POST /api/v2/guide/user_images",status="201"}`, 1},
		{`userimages_http_requests_total{method="GET",route="GET /hc/user_images/{file}",status="200"}`, 1},
		{`userimages_http_requests_total{method="GET",route="/",status="404"}`, 1},
	} {
		if got := metricValue(t, body, want.series); got != want.value {
			t.Errorf("%s: got %v, want %v", want.series, got, want.value)
		}
	}
	if strings.Contains(body, "xxxxxxxxxx") {
		t.Error("a raw path leaked into the metric labels")
	}
}

// metricValue reads one series' value from the Prometheus text format.
func metricValue(t *testing.T, body, series string) float64 {
	t.Helper()
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(series) + ` (\S+)$`).FindStringSubmatch(body)
	if m == nil {
		t.Errorf("no series %s", series)
		return -1
	}
	v, _ := strconv.ParseFloat(m[1], 64)
	return v
}

// TestMetricsChunkedUpload: a PUT without Content-Length counts the bytes
// it sent.
func TestMetricsChunkedUpload(t *testing.T) {
	m := metrics.New()
	e := newEnv(t, func(c *httpapi.Config) { c.Metrics = m })
	img := testJPEG(t, 24, 24)
	u := e.create("image/jpeg", len(img))
	req := e.putRequest(u, nil)
	req.Body, req.ContentLength = io.NopCloser(chunked{strings.NewReader(string(img))}), -1
	if res := e.do(req); res.status != 200 {
		t.Fatalf("chunked PUT: got %d %s, want 200", res.status, res.body)
	}
	body := string(e.do(e.request(http.MethodGet, "/metrics", nil)).body)
	if got := metricValue(t, body, "userimages_bytes_received_total"); got != float64(len(img)) {
		t.Errorf("bytes received: got %v, want %d", got, len(img))
	}
}

// TestReplayAfterTakedown: an upload URL replayed after its image was
// taken down (without blocking the bytes) publishes nothing: one image per
// token.
func TestReplayAfterTakedown(t *testing.T) {
	e := newEnv(t)
	img := testJPEG(t, 24, 24)
	u, path := e.claimed("image/jpeg", img)
	id, _, _ := strings.Cut(strings.TrimPrefix(path, "/hc/user_images/"), ".")
	if _, err := e.svc.Moderation.DeleteImage(context.Background(), id, "cli:root", "spam", false); err != nil {
		t.Fatal(err)
	}
	checkErrorBody(t, e.do(e.putRequest(u, img)), http.StatusConflict, api.CodeAlreadyUploaded)
	res := e.postJSON(claimPath, e.claimBody(u.Token, "10016"))
	if res.status != http.StatusConflict {
		t.Errorf("claim after the takedown: got %d %s, want 409", res.status, res.body)
	}
	if snap := e.snapshot(); snap != `{"files":null,"images":0,"uploads":0}` {
		t.Errorf("stored after the replay: got %s, want nothing", snap)
	}
}

// TestDeleteWithUploadToken: the page that uploaded an image deletes it
// with its upload token, and the audit log says so; the token is a
// capability of the page, so it is allowed across origins (CORS).
func TestDeleteWithUploadToken(t *testing.T) {
	e := newEnv(t)
	up, path := e.claimed("image/jpeg", testJPEG(t, 24, 24))
	req := e.request(http.MethodOptions, path, nil)
	req.Header.Set("Origin", "https://help.example.com")
	req.Header.Set("Access-Control-Request-Method", http.MethodDelete)
	req.Header.Set("Access-Control-Request-Headers", "x-upload-token")
	if res := e.do(req); !strings.Contains(strings.ToLower(res.header.Get("Access-Control-Allow-Headers")), "x-upload-token") {
		t.Errorf("preflight: got Access-Control-Allow-Headers %q, want x-upload-token in it", res.header.Get("Access-Control-Allow-Headers"))
	}
	req = e.request(http.MethodDelete, "/api/v2/guide/user_images/"+strings.TrimPrefix(path, "/hc/user_images/"), nil)
	req.Header.Set(api.UploadTokenHeader, up.Token)
	if res := e.do(req); res.status != http.StatusNoContent {
		t.Fatalf("DELETE with its upload token: got %d %s, want 204", res.status, res.body)
	}
	if res := e.do(e.request(http.MethodGet, path, nil)); res.status != http.StatusNotFound {
		t.Errorf("GET after: got %d, want 404", res.status)
	}
	if res := e.do(req); res.status != http.StatusNotFound {
		t.Errorf("DELETE again: got %d %s, want 404", res.status, res.body)
	}
	log, err := e.svc.Moderation.Deletions(t.Context(), 10)
	if err != nil || len(log) != 1 || log[0].By != core.ByUploadToken || log[0].Reason != core.ReasonDeletedByUploader {
		t.Errorf("audit log: got %+v, %v; want one entry by %s, %q", log, err, core.ByUploadToken, core.ReasonDeletedByUploader)
	}
	// The caches in front are told, as after any takedown.
	id, _, _ := strings.Cut(strings.TrimPrefix(path, "/hc/user_images/"), ".")
	pending, err := e.svc.Outbox.Pending(t.Context(), core.TopicPurge, 10) // the others are webhook events
	if err != nil || len(pending) != 1 || !strings.Contains(pending[0].Payload, core.SurrogateKey(id)) {
		t.Errorf("outbox: got %+v, %v; want one purge of %s", pending, err, core.SurrogateKey(id))
	}
}
