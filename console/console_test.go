package console_test

import (
	"bytes"
	"fmt"
	"image"
	"image/jpeg"
	"image/png"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/userimages/userimages/client/api"

	"userimages/console"
	"userimages/core"
	"userimages/httpapi"
	"userimages/internal/testkit/embeddedtest"
	"userimages/internal/testkit/testphoto"
	"userimages/pdq"
	"userimages/ratelimit"
	"userimages/ratelimit/memrate"
	"userimages/selfsign"
	"userimages/sqlite"
)

// env is a server with the console on SQLite and local disk, with an
// admin (mod@example.com) and a user who is not (ann@example.com).
type env struct {
	t   *testing.T
	db  *sqlite.DB
	svc core.Services
	srv *httptest.Server
	// published counts the pictures publish made, each different: a
	// blocking takedown takes every copy of its bytes down.
	published int
}

const adminPW, userPW = "moderator pw", "reader pw!"

// newEnv starts the console behind the API server; configure, when
// given, changes the server's httpapi.Config.
func newEnv(t *testing.T, tls bool, limits httpapi.RateLimits, configure ...func(*httpapi.Config)) *env {
	t.Helper()
	ctx := t.Context()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	d := embeddedtest.Open(t, core.Config{}, core.Runtime{Log: log})
	svc := d.Svc
	if err := svc.Brands.AddBrand(ctx, "10016"); err != nil {
		t.Fatal(err)
	}
	for _, u := range []struct {
		email, pw string
		admin     bool
	}{{"mod@example.com", adminPW, true}, {"ann@example.com", userPW, false}} {
		if _, err := svc.Accounts.AddUser(ctx, u.email, u.pw, u.admin); err != nil {
			t.Fatal(err)
		}
	}
	cons, err := console.New(console.Config{Sessions: svc.Sessions, Accounts: svc.Accounts, Brands: svc.Brands, Moderation: svc.Moderation, Reports: svc.Reports, Erasure: svc.Erasure, Outbox: svc.Outbox, HashLists: svc.Resemblance, Lookalikes: svc.Resemblance, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	limiter, err := memrate.New(memrate.Config{})
	if err != nil {
		t.Fatal(err)
	}
	cfg := httpapi.Config{UploadPath: selfsign.PathPrefix, Limiter: limiter, RateLimits: limits,
		Console: func(g httpapi.SignInGate) http.Handler { return cons.Handler(g) }}
	for _, f := range configure {
		f(&cfg)
	}
	a, err := httpapi.New(httpapi.ServicesOf(svc), cfg, log, nil)
	if err != nil {
		t.Fatal(err)
	}
	var srv *httptest.Server
	if tls {
		srv = httptest.NewTLSServer(a.Handler())
	} else {
		srv = httptest.NewServer(a.Handler())
	}
	t.Cleanup(srv.Close)
	return &env{t: t, db: d.DB, svc: svc, srv: srv}
}

// client is a browser-like client of the server: it keeps cookies and
// does not follow redirects.
func (e *env) client() *http.Client {
	jar, _ := cookiejar.New(nil)
	c := *e.srv.Client()
	c.Jar = jar
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &c
}

// post sends a form as a same-origin page would.
func (e *env) post(c *http.Client, path string, form url.Values, origin string) *http.Response {
	e.t.Helper()
	req, err := http.NewRequest(http.MethodPost, e.srv.URL+path, strings.NewReader(form.Encode()))
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if origin != "" {
		req.Header.Set("Origin", origin)
	}
	res, err := c.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	res.Body.Close()
	return res
}

func (e *env) get(c *http.Client, path string) (*http.Response, string) {
	e.t.Helper()
	res, err := c.Get(e.srv.URL + path)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res, string(b)
}

func (e *env) signIn(c *http.Client, email, pw string) *http.Response {
	return e.post(c, "/admin/login", url.Values{"email": {email}, "password": {pw}}, e.srv.URL)
}

// publish publishes a small PNG, different each time, through the
// service and returns it.
func (e *env) publish() core.Image { return e.publishBy(0) }

// publishBy is publish by the user with id uid (0: anonymous).
func (e *env) publishBy(uid int64) core.Image {
	e.t.Helper()
	e.published++
	return e.publishPictureBy(uid, e.published)
}

// publishPicture publishes the PNG n (8 × n pixels) anonymously: the same
// n, the same bytes.
func (e *env) publishPicture(n int) core.Image { return e.publishPictureBy(0, n) }

// publishPictureBy publishes the PNG n by the user with id uid.
func (e *env) publishPictureBy(uid int64, n int) core.Image {
	e.t.Helper()
	var buf bytes.Buffer
	if err := png.Encode(&buf, image.NewGray(image.Rect(0, 0, 8, n))); err != nil {
		e.t.Fatal(err)
	}
	return e.publishBytes(uid, api.PNG.MIME, buf.Bytes())
}

// publishBytes publishes body, of contentType, by the user with id uid.
func (e *env) publishBytes(uid int64, contentType string, body []byte) core.Image {
	e.t.Helper()
	ctx := e.t.Context()
	up, err := e.svc.Uploads.CreateUpload(ctx, core.CreateUploadInput{ContentType: contentType, FileSize: int64(len(body)), BaseURL: e.srv.URL,
		Uploader: core.Uploader{UserID: uid}})
	if err != nil {
		e.t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodPut, up.URL, bytes.NewReader(body))
	for k, v := range up.Headers {
		req.Header.Set(k, v)
	}
	res, err := e.srv.Client().Do(req)
	if err != nil || res.StatusCode != http.StatusOK {
		e.t.Fatalf("PUT: got %v %v, want 200", res, err)
	}
	res.Body.Close()
	img, err := e.svc.Uploads.Claim(ctx, up.Token, "10016", uid)
	if err != nil {
		e.t.Fatal(err)
	}
	return img
}

// TestSignIn: who may use the console, and how the session cookie is set.
func TestSignIn(t *testing.T) {
	for _, tls := range []bool{false, true} {
		e := newEnv(t, tls, httpapi.RateLimits{})
		tests := []struct {
			name, email, pw string
			status          int // of the sign-in POST
			page            int // of /admin/ afterwards
		}{
			{"admin", "mod@example.com", adminPW, http.StatusSeeOther, http.StatusOK},
			{"not an admin", "ann@example.com", userPW, http.StatusSeeOther, http.StatusForbidden},
			{"wrong password", "mod@example.com", "nope", http.StatusUnauthorized, http.StatusSeeOther},
			{"no such user", "who@example.com", "nope", http.StatusUnauthorized, http.StatusSeeOther},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				c := e.client()
				res := e.signIn(c, tt.email, tt.pw)
				if res.StatusCode != tt.status {
					t.Fatalf("sign in (TLS %v): got %s, want %d", tls, res.Status, tt.status)
				}
				if res.StatusCode == http.StatusSeeOther {
					var ck *http.Cookie
					for _, c := range res.Cookies() {
						if c.Name == console.CookieName {
							ck = c
						}
					}
					if ck == nil || !ck.HttpOnly || ck.SameSite != http.SameSiteLaxMode || ck.Secure != tls || ck.Path != "/admin/" || ck.MaxAge != int(core.DefaultSessionMaxAge.Seconds()) {
						t.Errorf("session cookie (TLS %v): got %+v, want HttpOnly, SameSite=Lax, Secure over TLS only, Path /admin/, Max-Age the session's", tls, ck)
					}
				}
				if res, _ := e.get(c, "/admin/"); res.StatusCode != tt.page {
					t.Errorf("GET /admin/ afterwards: got %s, want %d", res.Status, tt.page)
				}
			})
		}
	}
}

// TestSecureCookieBehindProxy: behind a proxy that terminates TLS (plain
// HTTP to us) the session cookie is Secure when the proxy is trusted and
// says https in X-Forwarded-Proto, and only then: the same header from an
// untrusted peer is not believed.
func TestSecureCookieBehindProxy(t *testing.T) {
	trustLoopback := func(c *httpapi.Config) { c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")} }
	tests := []struct {
		name       string
		trusted    bool
		proto      string
		wantSecure bool
	}{
		{"trusted proxy says https", true, "https", true},
		{"trusted proxy says https after another hop's http", true, "http, https", true},
		{"trusted proxy says http", true, "http", false},
		{"trusted proxy says nothing", true, "", false},
		{"untrusted peer says https", false, "https", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var e *env
			if tt.trusted {
				e = newEnv(t, false, httpapi.RateLimits{}, trustLoopback)
			} else {
				e = newEnv(t, false, httpapi.RateLimits{})
			}
			c := e.client()
			for _, step := range []struct{ path, email string }{{"/admin/login", "mod@example.com"}, {"/admin/logout", ""}} {
				req, _ := http.NewRequest(http.MethodPost, e.srv.URL+step.path, strings.NewReader(url.Values{"email": {step.email}, "password": {adminPW}}.Encode()))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				req.Header.Set("Origin", e.srv.URL)
				if tt.proto != "" {
					req.Header.Set("X-Forwarded-Proto", tt.proto)
				}
				res, err := c.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				res.Body.Close()
				var ck *http.Cookie
				for _, c := range res.Cookies() {
					if c.Name == console.CookieName {
						ck = c
					}
				}
				if ck == nil || ck.Secure != tt.wantSecure {
					t.Errorf("POST %s: got session cookie %+v, want one with Secure %v", step.path, ck, tt.wantSecure)
				}
			}
		})
	}
}

// TestSignInRateLimited: sign-ins spend the credentials' budget of the
// client address, as API requests with credentials do.
func TestSignInRateLimited(t *testing.T) {
	e := newEnv(t, false, httpapi.RateLimits{Auth: ratelimit.PerPeriod(2, time.Hour)})
	c := e.client()
	for i, want := range []int{http.StatusUnauthorized, http.StatusUnauthorized, http.StatusTooManyRequests} {
		if res := e.signIn(c, "mod@example.com", "wrong"); res.StatusCode != want {
			t.Errorf("sign-in %d: got %s, want %d", i+1, res.Status, want)
		}
	}
	// The API's requests with credentials share the budget.
	req, _ := http.NewRequest(http.MethodGet, e.srv.URL+"/api/v2/users/me", nil)
	req.SetBasicAuth("mod@example.com", adminPW)
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusTooManyRequests {
		t.Errorf("API request with credentials after the sign-ins: got %s, want 429", res.Status)
	}
}

// TestConsoleActions: a takedown from the console is the API's: the same
// audit record and blocklist; dismissals and unblocks are recorded;
// cross-origin POSTs are refused; signing out ends the session.
func TestConsoleActions(t *testing.T) {
	e := newEnv(t, false, httpapi.RateLimits{})
	ctx := t.Context()
	c := e.client()
	if res := e.signIn(c, "mod@example.com", adminPW); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign in: got %s", res.Status)
	}
	img, reported := e.publish(), e.publish()
	if err := e.svc.Reports.Report(ctx, reported.ID, "a:192.0.2.1", api.ReportNudity, "not for here"); err != nil {
		t.Fatal(err)
	}

	if res := e.post(c, "/admin/images/"+img.ID+"/takedown", url.Values{"reason": {"forged"}}, "https://evil.example"); res.StatusCode != http.StatusForbidden {
		t.Errorf("cross-origin takedown: got %s, want 403", res.Status)
	}
	if res := e.post(c, "/admin/images/"+img.ID+"/takedown", url.Values{"reason": {" "}}, e.srv.URL); res.StatusCode != http.StatusUnprocessableEntity {
		t.Errorf("takedown without a reason: got %s, want 422", res.Status)
	}
	if _, err := e.svc.Moderation.Image(ctx, img.ID); err != nil {
		t.Fatalf("image after refused takedowns: %v", err)
	}
	res := e.post(c, "/admin/images/"+img.ID+"/takedown", url.Values{"reason": {"spam"}, "block": {"true"}}, e.srv.URL)
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("takedown: got %s, want 303", res.Status)
	}
	d, err := e.svc.Moderation.Deletion(ctx, img.ID)
	mod, _ := e.svc.Accounts.UserID(ctx, "mod@example.com")
	by, _ := e.svc.Accounts.Moderator(ctx, mod)
	if err != nil || d.By != by || d.Reason != "spam" || !d.Blocked {
		t.Errorf("audit record: got %+v, %v, want by %s, spam, blocked (as DELETE records it)", d, err, by)
	}
	if ok, err := e.db.IsBlocked(ctx, img.SHA256); err != nil || !ok {
		t.Errorf("IsBlocked: got %v, %v, want true", ok, err)
	}
	if res, body := e.get(c, "/admin/images/"+img.ID); res.StatusCode != http.StatusOK || !strings.Contains(body, "Taken down") {
		t.Errorf("page of the image taken down: got %s, want 200 naming the takedown", res.Status)
	}

	if res := e.post(c, "/admin/images/"+reported.ID+"/dismiss", url.Values{}, e.srv.URL); res.StatusCode != http.StatusSeeOther {
		t.Errorf("dismiss: got %s, want 303", res.Status)
	}
	if q, err := e.svc.Reports.ReportQueue(ctx, 10); err != nil || len(q) != 0 {
		t.Errorf("queue after dismissing: got %d, %v, want empty", len(q), err)
	}
	// The hash lists, with their sizes.
	if _, _, err := e.svc.Resemblance.ImportList(ctx, "partner-list", []pdq.ListEntry{{Hash: pdq.Hash{1}, Quality: 90}, {Hash: pdq.Hash{2}, Quality: -1}}, "cli:test", "test"); err != nil {
		t.Fatal(err)
	}
	if res, body := e.get(c, "/admin/blocklist"); res.StatusCode != http.StatusOK || !strings.Contains(body, "<td>partner-list</td><td>2</td>") {
		t.Errorf("blocklist page: got %s, want the list partner-list with its 2 hashes:\n%s", res.Status, body)
	}
	if res := e.post(c, "/admin/blocklist/"+img.SHA256+"/unblock", url.Values{"reason": {"appeal"}}, e.srv.URL); res.StatusCode != http.StatusSeeOther {
		t.Errorf("unblock: got %s, want 303", res.Status)
	}
	if res := e.post(c, "/admin/blocklist/"+img.SHA256+"/unblock", url.Values{"reason": {"again"}}, e.srv.URL); res.StatusCode != http.StatusNotFound {
		t.Errorf("unblock again: got %s, want 404", res.Status)
	}
	_, log := e.get(c, "/admin/log")
	for _, want := range []string{"take down and block", "dismiss reports", "unblock", "appeal", "mod@example.com"} {
		if !strings.Contains(log, want) {
			t.Errorf("audit log page: want %q in it", want)
		}
	}

	if res := e.post(c, "/admin/logout", url.Values{}, e.srv.URL); res.StatusCode != http.StatusSeeOther {
		t.Errorf("sign out: got %s, want 303", res.Status)
	}
	if res, _ := e.get(c, "/admin/log"); res.StatusCode != http.StatusSeeOther || !strings.HasPrefix(res.Header.Get("Location"), "/admin/login?next=") {
		t.Errorf("GET /admin/log signed out: got %s to %q, want 303 to sign in", res.Status, res.Header.Get("Location"))
	}
}

// TestConsoleErase: an image's page offers to erase its uploader; the
// erasure takes down every image of theirs, disables the account and is
// in the audit log.
func TestConsoleErase(t *testing.T) {
	e := newEnv(t, false, httpapi.RateLimits{})
	ctx := t.Context()
	ann, err := e.svc.Accounts.UserID(ctx, "ann@example.com")
	if err != nil {
		t.Fatal(err)
	}
	imgs := []core.Image{e.publishBy(ann), e.publishBy(ann)}
	other := e.publish()
	c := e.client()
	e.signIn(c, "mod@example.com", adminPW)
	erase := fmt.Sprintf("/admin/users/%d/erase", ann)
	if res, page := e.get(c, "/admin/images/"+imgs[0].ID); res.StatusCode != http.StatusOK || !strings.Contains(page, `action="`+erase+`"`) {
		t.Fatalf("image page: got %s, want the erase form posting to %s", res.Status, erase)
	}
	if res := e.post(c, erase, url.Values{"reason": {" "}}, e.srv.URL); res.StatusCode != http.StatusUnprocessableEntity {
		t.Errorf("erase without a reason: got %s, want 422", res.Status)
	}
	if res := e.post(c, erase, url.Values{"reason": {"her request"}}, "https://evil.example"); res.StatusCode != http.StatusForbidden {
		t.Errorf("cross-origin erase: got %s, want 403", res.Status)
	}
	res := e.post(c, erase, url.Values{"reason": {"her request"}}, e.srv.URL)
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/admin/log?done=erased" {
		t.Fatalf("erase: got %s to %q, want 303 to the audit log", res.Status, res.Header.Get("Location"))
	}
	for _, img := range imgs {
		if _, err := e.svc.Moderation.Image(ctx, img.ID); core.ErrorCode(err) != api.CodeNotFound {
			t.Errorf("ann's image %s after the erasure: got %v, want NotFound", img.ID, err)
		}
	}
	if _, err := e.svc.Moderation.Image(ctx, other.ID); err != nil {
		t.Errorf("an anonymous image after ann's erasure: %v", err)
	}
	if u, err := e.svc.Accounts.User(ctx, ann); err != nil || !u.Disabled {
		t.Errorf("ann after the erasure: got %+v, %v; want disabled", u, err)
	}
	if _, page := e.get(c, "/admin/log?done=erased"); !strings.Contains(page, "User erased") {
		t.Errorf("audit log page after the erasure: want the flash, got %s", page)
	}
}

// TestStoreDown: a store's fault is a 503 page, never a 500.
func TestStoreDown(t *testing.T) {
	e := newEnv(t, false, httpapi.RateLimits{})
	c := e.client()
	e.signIn(c, "mod@example.com", adminPW)
	e.db.Close()
	for _, p := range []string{"/admin/", "/admin/reports"} {
		if res, _ := e.get(c, p); res.StatusCode != http.StatusServiceUnavailable {
			t.Errorf("GET %s with the store down: got %s, want 503", p, res.Status)
		}
	}
}

// TestNext: after signing in, only console paths of this server are
// followed.
func TestNext(t *testing.T) {
	e := newEnv(t, false, httpapi.RateLimits{})
	for _, tt := range []struct{ next, want string }{
		{"/admin/log", "/admin/log"},
		{"/admin/?brand=10016", "/admin/?brand=10016"},
		{"https://evil.example/admin/", "/admin/"},
		{"//evil.example/admin/", "/admin/"},
		{"/composer/", "/admin/"},
		{"/admin/\\evil", "/admin/"},
	} {
		c := e.client()
		res := e.post(c, "/admin/login", url.Values{"email": {"mod@example.com"}, "password": {adminPW}, "next": {tt.next}}, e.srv.URL)
		if got := res.Header.Get("Location"); got != tt.want {
			t.Errorf("sign in with next %q: got Location %q, want %q", tt.next, got, tt.want)
		}
	}
}

// TestImagesGrid: the grid's filters and pages.
func TestImagesGrid(t *testing.T) {
	e := newEnv(t, false, httpapi.RateLimits{})
	c := e.client()
	e.signIn(c, "mod@example.com", adminPW)
	var imgs []core.Image // oldest first
	for range 26 {
		imgs = append(imgs, e.publish())
	}
	reported := imgs[3]
	if err := e.svc.Reports.Report(t.Context(), reported.ID, "u:2", api.ReportPrivacy, ""); err != nil {
		t.Fatal(err)
	}
	today := time.Now().UTC().Format(time.DateOnly)
	tomorrow := time.Now().UTC().AddDate(0, 0, 1).Format(time.DateOnly)
	tests := []struct {
		name, query string
		shown       []core.Image // some images the page shows
		hidden      []core.Image // some it does not
		text        string       // on the page
	}{
		{"newest first, one page", "", []core.Image{imgs[25], imgs[2]}, []core.Image{imgs[1], imgs[0]}, "Older images"},
		{"reported", "?reported=true", []core.Image{reported}, []core.Image{imgs[25]}, ""},
		{"anonymous", "?uploader=anonymous", []core.Image{imgs[25]}, nil, ""},
		{"an uploader who uploaded nothing", "?uploader=ann@example.com", nil, []core.Image{imgs[25]}, "No image matches"},
		{"an unknown uploader", "?uploader=who@example.com", nil, []core.Image{imgs[25]}, "no user has email"},
		{"address", "?addr=192.0.2.9", nil, []core.Image{imgs[25]}, "No image matches"},
		{"brand", "?brand=10016&reported=true", []core.Image{reported}, nil, ""},
		{"today", "?from=" + today + "&to=" + today, []core.Image{imgs[25]}, nil, ""},
		{"from tomorrow", "?from=" + tomorrow, nil, []core.Image{imgs[25]}, "No image matches"},
		{"a bad date", "?from=yesterday", nil, []core.Image{imgs[25]}, "From must be a date"},
		{"second page", "?before=" + url.QueryEscape(imgs[2].CreatedAt.Format(time.RFC3339Nano)), []core.Image{imgs[1], imgs[0]}, []core.Image{imgs[2]}, "Newest"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, body := e.get(c, "/admin/"+tt.query)
			if res.StatusCode != http.StatusOK {
				t.Fatalf("GET /admin/%s: got %s, want 200", tt.query, res.Status)
			}
			for _, img := range tt.shown {
				if !strings.Contains(body, `href="/admin/images/`+img.ID+`"`) {
					t.Errorf("GET /admin/%s: want image %s shown", tt.query, img.ID)
				}
			}
			for _, img := range tt.hidden {
				if strings.Contains(body, `href="/admin/images/`+img.ID+`"`) {
					t.Errorf("GET /admin/%s: got image %s, want it not shown", tt.query, img.ID)
				}
			}
			if !strings.Contains(body, tt.text) {
				t.Errorf("GET /admin/%s: want %q on the page", tt.query, tt.text)
			}
		})
	}
	// Each image's size is the one stored with it, exact: written into the
	// page, not measured by the script from a thumbnail.
	img := imgs[25]
	for _, p := range []string{"/admin/", "/admin/images/" + img.ID} {
		_, body := e.get(c, p)
		if want := fmt.Sprintf(`<dd id="dims-%s">%d × %d px</dd>`, img.ID, img.Width, img.Height); img.Width != 8 || !strings.Contains(body, want) || strings.Contains(body, `data-dims="dims-`+img.ID+`"`) {
			t.Errorf("GET %s: want %s (the size stored: %d×%d) and no data-dims for the script", p, want, img.Width, img.Height)
		}
	}
}

// TestConsoleCopies: the image page lists the same picture elsewhere; a
// takedown of every copy takes them all down, each recorded; the blocklist
// page names what a blocking takedown took down; the Purges page shows
// the purges waiting for the caches in front.
func TestConsoleCopies(t *testing.T) {
	e := newEnv(t, false, httpapi.RateLimits{})
	c := e.client()
	if res := e.signIn(c, "mod@example.com", adminPW); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign in: got %s", res.Status)
	}
	copies := []core.Image{e.publishPicture(50), e.publishPicture(50), e.publishPicture(50)}
	blocked := []core.Image{e.publishPicture(60), e.publishPicture(60)}
	other := e.publishPicture(70)
	_, body := e.get(c, "/admin/images/"+copies[0].ID)
	_, section, _ := strings.Cut(body, "The same picture elsewhere")
	section, _, _ = strings.Cut(section, "<h2>")
	if !strings.Contains(section, "/admin/images/"+copies[2].ID) || strings.Contains(section, "/admin/images/"+other.ID) {
		t.Errorf("image page: want the two other copies under \"The same picture elsewhere\", and not another picture")
	}
	if res := e.post(c, "/admin/images/"+copies[1].ID+"/takedown", url.Values{"reason": {"privacy"}, "all_copies": {"true"}}, e.srv.URL); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("takedown of every copy: got %s, want 303", res.Status)
	}
	for _, img := range copies {
		if d, err := e.svc.Moderation.Deletion(t.Context(), img.ID); err != nil || d.Reason != "privacy" || d.Blocked {
			t.Errorf("copy %s: got %+v, %v, want its own record, unblocked", img.ID, d, err)
		}
	}
	if res := e.post(c, "/admin/images/"+blocked[0].ID+"/takedown", url.Values{"reason": {"legal"}, "block": {"true"}}, e.srv.URL); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("blocking takedown: got %s, want 303", res.Status)
	}
	_, body = e.get(c, "/admin/blocklist")
	for _, img := range blocked {
		if !strings.Contains(body, core.Path(img)) {
			t.Errorf("blocklist page: no %s among what its entry took down", core.Path(img))
		}
	}
	if !strings.Contains(body, "legal") {
		t.Error("blocklist page: want the takedown's reason")
	}
	_, body = e.get(c, "/admin/purges")
	for _, img := range append(copies, blocked...) {
		if !strings.Contains(body, core.SurrogateKey(img.ID)) {
			t.Errorf("purges page: no purge of %s waiting (no --purge target runs here)", img.ID)
		}
	}
	if _, err := e.svc.Moderation.Image(t.Context(), other.ID); err != nil {
		t.Errorf("another picture: got %v, want it published", err)
	}
}

// TestConsoleResembling: an image's page lists the published images that
// resemble it with their distance, not an unrelated one; "take down all"
// (refused from another origin) takes the image and each listed one down,
// each with its own record, and shows the audit log with one banner.
func TestConsoleResembling(t *testing.T) {
	e := newEnv(t, false, httpapi.RateLimits{})
	ctx := t.Context()
	c := e.client()
	if res := e.signIn(c, "mod@example.com", adminPW); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign in: got %s", res.Status)
	}
	// Images are hashed while some hash is blocked.
	if _, _, err := e.svc.Resemblance.ImportList(ctx, "other", []pdq.ListEntry{{Hash: pdq.Hash{1}, Quality: -1}}, "cli:test", "test"); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.Resemblance.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	photo := testphoto.Natural(640, 480, 5)
	jpegOf := func(m image.Image, q int) []byte {
		var b bytes.Buffer
		if err := jpeg.Encode(&b, m, &jpeg.Options{Quality: q}); err != nil {
			t.Fatal(err)
		}
		return b.Bytes()
	}
	img := e.publishBytes(0, api.JPEG.MIME, jpegOf(photo, 90))
	reencoded := e.publishBytes(0, api.JPEG.MIME, jpegOf(photo, 40))
	other := e.publishBytes(0, api.JPEG.MIME, jpegOf(testphoto.Natural(640, 480, 6), 90))

	_, body := e.get(c, "/admin/images/"+img.ID)
	_, section, _ := strings.Cut(body, "<h2>Resembling images</h2>")
	section, _, _ = strings.Cut(section, "<h2>")
	if !strings.Contains(section, "/admin/images/"+reencoded.ID) || !strings.Contains(section, "Distance ") || strings.Contains(section, other.ID) {
		t.Fatalf("image page: want the re-encoded copy with its distance under \"Resembling images\", not the other picture; got\n%s", section)
	}
	if !strings.Contains(section, `name="resembling" value="`+reencoded.ID+`"`) || !strings.Contains(section, "Take down all") {
		t.Errorf("image page: want a \"Take down all\" form naming the copy")
	}
	_, body = e.get(c, "/admin/images/"+other.ID)
	if !strings.Contains(body, "No published image looks like this one.") {
		t.Errorf("page of the unrelated image: want it to say nothing resembles it")
	}

	form := url.Values{"reason": {"campaign"}, "resembling": {reencoded.ID, other.ID}}
	if res := e.post(c, "/admin/images/"+img.ID+"/takedown-resembling", form, "https://evil.example"); res.StatusCode != http.StatusForbidden {
		t.Errorf("cross-origin take down all: got %s, want 403", res.Status)
	}
	if res := e.post(c, "/admin/images/"+img.ID+"/takedown-resembling", url.Values{"resembling": {reencoded.ID}}, e.srv.URL); res.StatusCode != http.StatusUnprocessableEntity {
		t.Errorf("take down all without a reason: got %s, want 422", res.Status)
	}
	res := e.post(c, "/admin/images/"+img.ID+"/takedown-resembling", form, e.srv.URL)
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/admin/log?done=resembling" {
		t.Fatalf("take down all: got %s to %q, want 303 to the audit log", res.Status, res.Header.Get("Location"))
	}
	for _, i := range []core.Image{img, reencoded} {
		if d, err := e.svc.Moderation.Deletion(ctx, i.ID); err != nil || d.Reason != "campaign" || d.Blocked {
			t.Errorf("takedown record of %s: got %+v, %v; want its own, for campaign, not blocked", i.ID, d, err)
		}
	}
	if _, err := e.svc.Moderation.Image(ctx, other.ID); err != nil {
		t.Errorf("the unrelated image, named in the form: got %v, want it still published", err)
	}
	_, body = e.get(c, "/admin/log?done=resembling")
	if n := strings.Count(body, `class="flash"`); n != 1 || !strings.Contains(body, "resembling") {
		t.Errorf("audit log after take down all: %d banners, want one saying what was taken down", n)
	}
}
