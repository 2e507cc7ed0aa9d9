package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/userimages/userimages/client/api"

	"userimages/internal/testkit/jwttest"
)

const (
	jwtIssuer   = "https://community.example.com"
	jwtAudience = "userimages"
)

// jwtServer starts a server that accepts the host app's JWTs: HS256 with
// a secret in a file, and the keys of jwks. It returns the server and the
// secret; the data directory holds an admin for the console.
func jwtServer(t *testing.T, jwks *jwttest.JWKS) (*server, []byte) {
	t.Helper()
	data, dir := t.TempDir(), t.TempDir()
	secret := []byte(strings.Repeat("5e", 32)) // as `openssl rand -hex 32` makes one
	secretFile := filepath.Join(dir, "jwt-secret")
	if err := os.WriteFile(secretFile, append(secret, '\n'), 0o600); err != nil {
		t.Fatal(err)
	}
	runCLI(t, "an admin password\n", "user", "add", "--data", data, "--email", "mod@example.com", "--password-stdin", "--admin")
	args := []string{"--jwt-secret-file", secretFile, "--jwt-issuer", jwtIssuer, "--jwt-audience", jwtAudience}
	if jwks != nil {
		args = append(args, "--jwt-jwks-url", jwks.URL)
	}
	return startServer(t, data, args...), secret
}

func bearer(token string) string { return "Bearer " + token }

// me is GET users/me with auth: the status and the user.
func me(t *testing.T, s *server, auth string) (int, api.User, []byte) {
	t.Helper()
	res, b, err := do(http.DefaultClient, http.MethodGet, s.base+"/api/v2/users/me", auth, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	var u api.UserResponse
	if res.StatusCode == http.StatusOK {
		if err := json.Unmarshal(b, &u); err != nil {
			t.Fatalf("users/me: %v: %s", err, b)
		}
	}
	return res.StatusCode, u.User, b
}

// consolePage GETs path from the console as the signed-in cookie's user.
func consolePage(t *testing.T, s *server, path string, cookie *http.Cookie) string {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, s.base+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.AddCookie(cookie)
	res, err := noRedirects.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %v", path, res.StatusCode, err)
	}
	return string(b)
}

// TestJWTUsers: the real binary takes the host app's JWTs, HS256 from a
// secret file (minted by DEPLOYMENT.md's own example) and RS256, ES256
// and EdDSA through a key set served on loopback. The user is made on
// first sight, answers users/me, uploads, is named in the console and
// its audit log, and deletes their own picture; expired, wrongly signed,
// alg none, wrong audience or issuer, and subject-less tokens are 401
// Unauthorized.
func TestJWTUsers(t *testing.T) {
	rsaKey, ecKey, edKey := jwttest.NewRSA(t, "rsa-2026"), jwttest.NewP256(t, "ec-2026"), jwttest.NewEd25519(t, "ed-2026")
	jwks := jwttest.ServeJWKS(t, rsaKey, ecKey, edKey)
	s, secret := jwtServer(t, jwks)
	mint := buildMintExample(t)

	// HS256, minted by the documented example.
	hs := mintToken(t, mint, s, "user-42", "ann@example.com", "Ann Host")
	status, u, body := me(t, s, bearer(hs))
	if status != http.StatusOK || u.ID == nil || u.Name != "Ann Host" || u.Email == nil || *u.Email != "ann@example.com" || u.Role != "end-user" {
		t.Fatalf("users/me with the example's HS256 token: got %d %s", status, body)
	}
	id := *u.ID
	// The same issuer and subject through each key of the set: the same user.
	now := time.Now()
	for _, k := range []jwttest.Key{rsaKey, ecKey, edKey} {
		status, u, body := me(t, s, bearer(k.Sign(t, jwttest.Std(jwtIssuer, jwtAudience, "user-42", "ann@example.com", "Ann Host", now))))
		if status != http.StatusOK || u.ID == nil || *u.ID != id {
			t.Errorf("users/me with %s: got %d %s, want user %d", k.Method.Alg(), status, body, id)
		}
	}

	// Refused: 401 with the API's error document, code Unauthorized.
	std := func(mod func(jwttest.Claims)) jwttest.Claims {
		c := jwttest.Std(jwtIssuer, jwtAudience, "user-42", "", "", now)
		mod(c)
		return c
	}
	for _, c := range []struct{ what, token, says string }{
		{"expired", jwttest.HS256(t, secret, std(func(c jwttest.Claims) { c["exp"] = now.Add(-2 * time.Minute).Unix() })), "expired"},
		{"wrongly signed (HS256)", jwttest.HS256(t, []byte(strings.Repeat("x", 64)), std(func(jwttest.Claims) {})), "signature"},
		{"wrongly signed (RS256)", jwttest.NewRSA(t, "rsa-2026").Sign(t, std(func(jwttest.Claims) {})), "signature"},
		{"alg none", jwttest.None(t, std(func(jwttest.Claims) {})), `alg "none"`},
		{"wrong audience", jwttest.HS256(t, secret, std(func(c jwttest.Claims) { c["aud"] = "another-app" })), "audience"},
		{"wrong issuer", jwttest.HS256(t, secret, std(func(c jwttest.Claims) { c["iss"] = "https://evil.example.com" })), "issuer"},
		{"no subject", jwttest.HS256(t, secret, std(func(c jwttest.Claims) { delete(c, "sub") })), "subject"},
		{"ES256 naming the RSA key", jwttest.Key{KID: "rsa-2026", Method: ecKey.Method, Signer: ecKey.Signer}.Sign(t, std(func(jwttest.Claims) {})), "not accepted"},
	} {
		res, b, err := do(http.DefaultClient, http.MethodPost, s.base+"/api/v2/guide/user_images/uploads", bearer(c.token), jsonHeader, []byte(`{"content_type":"image/jpeg","file_size":100}`))
		if err != nil {
			t.Fatal(err)
		}
		var doc errorResponse
		if res.StatusCode != http.StatusUnauthorized || json.Unmarshal(b, &doc) != nil || len(doc.Errors) != 1 ||
			doc.Errors[0].Code != string(api.CodeUnauthorized) || !strings.Contains(doc.Errors[0].Detail, c.says) ||
			!strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") {
			t.Errorf("%s: got %d %s %s, want 401 Unauthorized saying %q", c.what, res.StatusCode, res.Header.Get("Content-Type"), b, c.says)
		}
	}

	// An upload as the user, attributed to them.
	photo := encodeJPEG(t, newRand(t), 64, 48)
	up, err := createUpload(http.DefaultClient, s.base, bearer(hs), "image/jpeg", len(photo))
	if err != nil {
		t.Fatal(err)
	}
	if err := putUpload(http.DefaultClient, up, photo); err != nil {
		t.Fatal(err)
	}
	img, err := claim(http.DefaultClient, s.base, bearer(rsaKey.Sign(t, jwttest.Std(jwtIssuer, jwtAudience, "user-42", "ann@example.com", "Ann Host", now))), up.Upload.Token, brandID)
	if err != nil {
		t.Fatal(err)
	}
	imageID := strings.TrimSuffix(filepath.Base(img.UserImage.Path), filepath.Ext(img.UserImage.Path))
	label := html.EscapeString("Ann Host <ann@example.com>")
	cookie := signIn(t, s, "mod@example.com", "an admin password")
	if page := consolePage(t, s, "/admin/images/"+imageID, cookie); !strings.Contains(page, label) {
		t.Errorf("console image page: want the uploader named %s", label)
	}
	if ls := runCLI(t, "", "user", "ls", "--data", s.dataDir); !strings.Contains(ls, jwtIssuer+` "user-42" Ann Host <ann@example.com>`) {
		t.Errorf("user ls: got\n%s\nwant the JWT user with issuer, subject, name and email", ls)
	}

	// Another JWT user may not delete it; the uploader may.
	other := bearer(jwttest.HS256(t, secret, jwttest.Std(jwtIssuer, jwtAudience, "user-7", "", "", now)))
	del := func(auth string) int {
		res, b, err := do(http.DefaultClient, http.MethodDelete, s.base+"/api/v2/guide/user_images/"+imageID, auth, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		if res.StatusCode != http.StatusNoContent {
			t.Logf("DELETE: %d %s", res.StatusCode, b)
		}
		return res.StatusCode
	}
	if got := del(other); got != http.StatusNotFound {
		t.Errorf("DELETE by another JWT user: got %d, want 404", got)
	}
	if got := del(bearer(edKey.Sign(t, jwttest.Std(jwtIssuer, jwtAudience, "user-42", "ann@example.com", "Ann Host", now)))); got != http.StatusNoContent {
		t.Fatalf("DELETE by the uploader: got %d, want 204", got)
	}
	if _, err := fetch(http.DefaultClient, s.base, img.UserImage.Path); err == nil {
		t.Errorf("GET %s after its uploader deleted it: still served", img.UserImage.Path)
	}
	if log := consolePage(t, s, "/admin/log", cookie); !strings.Contains(log, label) {
		t.Errorf("console audit log: want the deletion by %s", label)
	}
}

// buildMintExample builds DEPLOYMENT.md's Go example of minting a JWT in
// the host app, as a module of its own requiring the version of
// golang-jwt this repository pins (from the module cache: no network).
func buildMintExample(t *testing.T) string {
	t.Helper()
	src := deploymentBlock(t, "(?s)```go\n(// Command mint-userimages-jwt.*?)```")[1]
	sums, err := os.ReadFile("../go.sum")
	if err != nil {
		t.Fatal(err)
	}
	var jwtSums []string
	for _, l := range strings.Split(string(sums), "\n") {
		if strings.HasPrefix(l, "github.com/golang-jwt/jwt/v5 ") {
			jwtSums = append(jwtSums, l)
		}
	}
	version := strings.Fields(jwtSums[0])[1]
	dir := t.TempDir()
	files := map[string]string{
		"main.go": string(src),
		"go.mod":  "module mint\n\ngo 1.23\n\nrequire github.com/golang-jwt/jwt/v5 " + strings.TrimSuffix(version, "/go.mod") + "\n",
		"go.sum":  strings.Join(jwtSums, "\n") + "\n",
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	bin := filepath.Join(dir, "mint")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=mod", "GOPROXY=off", "GOTOOLCHAIN=local")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build DEPLOYMENT.md's minting example: %v\n%s", err, out)
	}
	return bin
}

// mintToken runs the example as the host app would, with the server's
// secret file, issuer and audience in the documented variables.
func mintToken(t *testing.T, mint string, s *server, subject, email, name string) string {
	t.Helper()
	secretFile := ""
	for i, a := range s.cmd.Args {
		if a == "--jwt-secret-file" {
			secretFile = s.cmd.Args[i+1]
		}
	}
	cmd := exec.Command(mint, subject, email, name)
	cmd.Env = append(os.Environ(), "USERIMAGES_JWT_SECRET_FILE="+secretFile, "USERIMAGES_JWT_ISSUER="+jwtIssuer, "USERIMAGES_JWT_AUDIENCE="+jwtAudience)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("the minting example: %v", err)
	}
	return strings.TrimSpace(string(out))
}

// hostApp is the host app's page on loopback: it proxies to the server
// and renders the composer with the signed-in user's token as
// data-user-token on its form, as DEPLOYMENT.md shows.
func hostApp(t *testing.T, s *server, token string) string {
	t.Helper()
	target, err := url.Parse(s.base)
	if err != nil {
		t.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(target)
	proxy.ModifyResponse = func(res *http.Response) error {
		if res.Request.URL.Path != "/composer/" || res.StatusCode != http.StatusOK {
			return nil
		}
		b, err := io.ReadAll(res.Body)
		if err != nil {
			return err
		}
		res.Body.Close()
		const form = `<form id="composer"`
		if !bytes.Contains(b, []byte(form)) {
			return fmt.Errorf("the composer page has no %s", form)
		}
		b = bytes.Replace(b, []byte(form), []byte(form+` data-user-token="`+html.EscapeString(token)+`"`), 1)
		res.Body = io.NopCloser(bytes.NewReader(b))
		res.ContentLength = int64(len(b))
		res.Header.Set("Content-Length", strconv.Itoa(len(b)))
		res.Header.Del("ETag")
		return nil
	}
	srv := httptest.NewServer(proxy)
	t.Cleanup(srv.Close)
	return srv.URL
}

// TestJWTComposer: the composer in Chromium, on a page the host app
// rendered with its user's token, uploads a picture that is that user's:
// steps 1 and 3 carry the token, and the user deletes the picture with it.
func TestJWTComposer(t *testing.T) {
	s, secret := jwtServer(t, nil)
	token := jwttest.HS256(t, secret, jwttest.Std(jwtIssuer, jwtAudience, "user-9", "bo@example.com", "Bo Browser", time.Now()))
	page := hostApp(t, s, token)
	dir := t.TempDir()
	photoPath := clientFile(t, dir, "desk.jpg", encodeJPEG(t, newRand(t), 160, 120))
	bctx := newBrowser(t, dir)

	var mu sync.Mutex
	auth := map[string]string{} // "METHOD path" → its Authorization
	var pageErrors []string
	if err := chromedp.Listen(bctx, func(ev any) {
		mu.Lock()
		defer mu.Unlock()
		switch ev := ev.(type) {
		case *network.EventRequestWillBeSent:
			u, _ := url.Parse(ev.Request.URL)
			a, _ := ev.Request.Headers["Authorization"].(string)
			auth[ev.Request.Method+" "+u.Path] = a
		default:
			if msg, ok := pageError(ev); ok {
				pageErrors = append(pageErrors, msg)
			}
		}
	}); err != nil {
		t.Fatalf("start Chromium: %v", err)
	}
	t.Cleanup(func() { reportPageErrors(t, &mu, &pageErrors) })

	src := uploadInComposer(t, bctx, page+"/composer/", photoPath)
	mu.Lock()
	for _, step := range []string{"POST /api/v2/guide/user_images/uploads", "POST /api/v2/guide/user_images"} {
		if auth[step] != bearer(token) {
			t.Errorf("%s: Authorization %q, want the rendered token", step, auth[step])
		}
	}
	mu.Unlock()

	// The picture is the user's: listed as theirs, and theirs to delete.
	if ls := runCLI(t, "", "images", "ls", "--data", s.dataDir); !strings.Contains(ls, "Bo Browser <bo@example.com>") {
		t.Errorf("images ls: got\n%s\nwant the picture attributed to Bo Browser <bo@example.com>", ls)
	}
	id := strings.TrimSuffix(filepath.Base(src), filepath.Ext(src))
	res, b, err := do(http.DefaultClient, http.MethodDelete, s.base+"/api/v2/guide/user_images/"+id, bearer(token), nil, nil)
	if err != nil || res.StatusCode != http.StatusNoContent {
		t.Errorf("DELETE as the page's user: got %v %v %s, want 204", res.StatusCode, err, b)
	}
}
