package httpapi_test

import (
	"encoding/json"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/userimages/userimages/client/api"

	"userimages/core"
	"userimages/httpapi"
	"userimages/internal/testkit/jwttest"
	"userimages/jwtauth"
	"userimages/ratelimit"
)

const (
	jwtIssuer   = "https://app.example.com"
	jwtAudience = "userimages"
)

var jwtSecret = []byte("a secret of the host app, 32+ bytes")

// withHostUsers gives e's service HostUsers checking HS256 JWTs signed
// with jwtSecret, and starts a server on it with configure.
func withHostUsers(t *testing.T, e *env, configure ...func(*httpapi.Config)) string {
	t.Helper()
	v, err := jwtauth.New(t.Context(), jwtauth.Config{Secret: jwtSecret, Issuer: jwtIssuer, Audience: jwtAudience, Now: e.Now})
	if err != nil {
		t.Fatal(err)
	}
	if e.svc.HostUsers, err = core.NewHostUsers(core.HostUsersDeps{Verifier: v, Users: e.db, Runtime: core.Runtime{Now: e.Now}}); err != nil {
		t.Fatal(err)
	}
	return e.newServer(configure...).URL
}

func (e *env) bearer(method, url, body, token string) response {
	e.t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return e.do(req)
}

// TestHostUserJWT: a host app's JWT makes the request its user's, created
// on first sight: users/me, the upload's attribution, claims kept up to
// date; refused tokens and disabled users are 401 Unauthorized.
func TestHostUserJWT(t *testing.T) {
	e := newEnv(t)
	srv := withHostUsers(t, e)
	tok := func(sub, email, name string) string {
		return jwttest.HS256(t, jwtSecret, jwttest.Std(jwtIssuer, jwtAudience, sub, email, name, e.Now()))
	}
	me := func(token string) (int, api.User) {
		res := e.bearer(http.MethodGet, srv+"/api/v2/users/me", "", token)
		var got api.UserResponse
		if res.status == http.StatusOK && json.Unmarshal(res.body, &got) != nil {
			t.Fatalf("users/me: %s", res.body)
		}
		return res.status, got.User
	}
	status, u := me(tok("42", "ann@example.com", "Ann Host"))
	if status != 200 || u.ID == nil || u.Name != "Ann Host" || u.Email == nil || *u.Email != "ann@example.com" || u.Role != "end-user" {
		t.Fatalf("users/me as a new JWT user: got %d %+v", status, u)
	}
	id := *u.ID
	local, err := e.svc.Accounts.UserID(t.Context(), "ann@example.com")
	if err != nil || local == id {
		t.Errorf("the JWT user with a local user's address: got id %d, the local user is %d (%v); want them apart", id, local, err)
	}
	// New claims are kept; the same user.
	if status, u := me(tok("42", "", "Ann B.")); status != 200 || *u.ID != id || u.Name != "Ann B." || u.Email != nil {
		t.Errorf("users/me with new claims: got %d %+v, want id %d, name Ann B., no email", status, u, id)
	}

	// The three steps with the token: the image is the JWT user's.
	img := testJPEG(t, 20, 20)
	res := e.bearer(http.MethodPost, srv+createPath, `{"content_type":"image/jpeg","file_size":`+strconv.Itoa(len(img))+`}`, tok("42", "", "Ann B."))
	var created struct{ Upload upload }
	if res.status != 200 || json.Unmarshal(res.body, &created) != nil {
		t.Fatalf("create as the JWT user: got %d %s", res.status, res.body)
	}
	e.put(created.Upload, img)
	if res := e.bearer(http.MethodPost, srv+claimPath, e.claimBody(created.Upload.Token, "10016"), ""); res.status != http.StatusConflict {
		t.Errorf("anonymous claim of the JWT user's upload: got %d, want 409", res.status)
	}
	if res := e.bearer(http.MethodPost, srv+claimPath, e.claimBody(created.Upload.Token, "10016"), tok("42", "", "Ann B.")); res.status != http.StatusCreated {
		t.Fatalf("claim as the JWT user: got %d %s", res.status, res.body)
	}
	images, err := e.db.Images(t.Context())
	if err != nil || len(images) != 1 || images[0].Uploader.UserID != id {
		t.Errorf("images: got %+v, %v; want one of user %d", images, err, id)
	}

	// Refused: 401 Unauthorized, as the API's errors are.
	expired := jwttest.Std(jwtIssuer, jwtAudience, "42", "", "", e.Now().Add(-2*time.Hour))
	for what, token := range map[string]string{
		"expired":      jwttest.HS256(t, jwtSecret, expired),
		"wrong secret": jwttest.HS256(t, []byte("not the host app's secret, 32 bytes"), jwttest.Std(jwtIssuer, jwtAudience, "42", "", "", e.Now())),
		"alg none":     jwttest.None(t, jwttest.Std(jwtIssuer, jwtAudience, "42", "", "", e.Now())),
		"no subject":   tok("", "", ""),
	} {
		res := e.bearer(http.MethodGet, srv+"/api/v2/users/me", "", token)
		if res.status != http.StatusUnauthorized || errorCode(res) != api.CodeUnauthorized {
			t.Errorf("%s: got %d %s, want 401 Unauthorized", what, res.status, res.body)
		}
	}
	// A disabled (or erased) user is refused, and not made again.
	if err := e.db.DisableUser(t.Context(), id); err != nil {
		t.Fatal(err)
	}
	if status, _ := me(tok("42", "", "Ann B.")); status != http.StatusUnauthorized {
		t.Errorf("a disabled JWT user: got %d, want 401", status)
	}
	// A server that accepts no JWTs says so.
	if res := e.bearer(http.MethodGet, e.srv.URL+"/api/v2/users/me", "", tok("7", "", "")); res.status != 401 || !strings.Contains(string(res.body), "accepts no JWTs") {
		t.Errorf("a JWT where none is accepted: got %d %s, want 401 saying so", res.status, res.body)
	}
}

// TestHostUserLimits: a JWT user's requests spend the user's budget, not
// the address's; and a JWT, as any credentials, is charged to the
// address's Auth budget before it is checked.
func TestHostUserLimits(t *testing.T) {
	e := newEnv(t)
	two := ratelimit.PerPeriod(2, time.Hour)
	srv := withHostUsers(t, e, withLimits(memLimiter(t), httpapi.RateLimits{Create: two}))
	tok := func(sub string) string {
		return jwttest.HS256(t, jwtSecret, jwttest.Std(jwtIssuer, jwtAudience, sub, "", "", e.Now()))
	}
	create := func(token string) int {
		return e.bearer(http.MethodPost, srv+createPath, `{"content_type":"image/jpeg","file_size":100}`, token).status
	}
	for i, c := range []struct {
		token string
		want  int
	}{{tok("a"), 200}, {tok("a"), 200}, {tok("a"), 429}, {tok("b"), 200}, {"", 200}, {"", 200}, {"", 429}, {tok("b"), 200}} {
		if got := create(c.token); got != c.want {
			t.Errorf("create %d: got %d, want %d", i, got, c.want)
		}
	}

	auth := withHostUsers(t, e, withLimits(memLimiter(t), httpapi.RateLimits{Auth: two}))
	for i, want := range []int{200, 200, 429} {
		if res := e.bearer(http.MethodGet, auth+"/api/v2/users/me", "", tok("c")); res.status != want {
			t.Errorf("users/me with a JWT, %d: got %d, want %d (the Auth budget)", i, res.status, want)
		}
	}
}

// TestHostUserUploadCap: the per-client cap on upload bodies counts per
// JWT user, not per address: a second PUT of one user waits for none and
// gets 429, while another user's, from the same address, goes through.
func TestHostUserUploadCap(t *testing.T) {
	e := newEnv(t)
	srv := withHostUsers(t, e, func(c *httpapi.Config) { c.MaxConcurrentUploadsPerClient = 1; c.UploadTimeout = 15 * time.Second })
	img := testJPEG(t, 20, 20)
	create := func(sub string) upload {
		tok := jwttest.HS256(t, jwtSecret, jwttest.Std(jwtIssuer, jwtAudience, sub, "", "", e.Now()))
		res := e.bearer(http.MethodPost, srv+createPath, `{"content_type":"image/jpeg","file_size":`+strconv.Itoa(len(img))+`}`, tok)
		var created struct{ Upload upload }
		if res.status != 200 || json.Unmarshal(res.body, &created) != nil {
			t.Fatalf("create as %s: got %d %s", sub, res.status, res.body)
		}
		return created.Upload
	}
	continued := func(what string, u upload) net.Conn {
		conn, br := rawPut(t, u, len(img), true)
		if line, err := br.ReadString('\n'); err != nil || !strings.HasPrefix(line, "HTTP/1.1 100 ") {
			t.Fatalf("%s: got %q, %v; want 100 Continue", what, line, err)
		}
		return conn
	}
	a1, a2, b := create("a"), create("a"), create("b")
	continued("user a's first PUT", a1)
	_, br := rawPut(t, a2, len(img), true)
	if res := readResponse(t, br); res.status != http.StatusTooManyRequests || errorCode(res) != api.CodeRateLimited {
		t.Errorf("user a's second PUT at once: got %d %s, want 429 RateLimited", res.status, res.body)
	}
	continued("user b's PUT, from the same address", b)
}
