package e2e

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"userimages/internal/testkit/testphoto"
)

// The moderation console's users.
const (
	consoleAdmin, consoleAdminPW = "mod@example.com", "moderator-password"
	consoleUser, consoleUserPW   = "ann@example.com", "reader-password"
)

// consoleDeployment is what runConsole drives: two instances (a and b,
// which may be one) of one deployment.
type consoleDeployment struct {
	a, b *server
}

// TestConsole: the moderation console of the embedded default, in
// headless Chromium, as a moderator uses it (see runConsole).
func TestConsole(t *testing.T) {
	data := t.TempDir()
	runCLI(t, consoleAdminPW+"\n", "user", "add", "--admin", "--data", data, "--email", consoleAdmin, "--password-stdin")
	runCLI(t, consoleUserPW+"\n", "user", "add", "--data", data, "--email", consoleUser, "--password-stdin")
	srv := startServer(t, data)
	runConsole(t, consoleDeployment{a: srv, b: srv}, "console")
	// images log names the moderator as the console does: by email.
	if out := runCLI(t, "", "images", "log", "--data", data); !strings.Contains(out, consoleAdmin) || strings.Contains(out, "user:") {
		t.Errorf("images log: got\n%s\nwant the takedown by %s, named by email", out, consoleAdmin)
	}
}

// TestConsoleScaleOut runs the console's steps against two instances on
// PostgreSQL and S3 (Versity): the session made on one is honoured by the
// other, and a takedown on one is a 404 on the other.
func TestConsoleScaleOut(t *testing.T) {
	d := newScaleOut(t)
	d.cli(t, consoleAdminPW+"\n", "user", "add", "--admin", "--email", consoleAdmin, "--password-stdin")
	d.cli(t, consoleUserPW+"\n", "user", "add", "--email", consoleUser, "--password-stdin")
	a, b := d.start(t), d.start(t)
	runConsole(t, consoleDeployment{a: a, b: b}, "console-scaleout")
}

// noRedirects is a client that answers redirects instead of following them.
var noRedirects = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// signIn posts the sign-in form to srv and returns the session cookie.
func signIn(t *testing.T, srv *server, email, password string) *http.Cookie {
	t.Helper()
	res, err := noRedirects.PostForm(srv.base+"/admin/login", url.Values{"email": {email}, "password": {password}})
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	for _, c := range res.Cookies() {
		if c.Name == "userimages_session" && c.Value != "" {
			if !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Secure {
				t.Errorf("session cookie: got HttpOnly %v SameSite %v Secure %v, want HttpOnly, Lax, not Secure over plain HTTP", c.HttpOnly, c.SameSite, c.Secure)
			}
			return c
		}
	}
	t.Fatalf("sign in as %s: got %s and no session cookie", email, res.Status)
	return nil
}

// consoleGet GETs path from srv with cookie (if any), following no
// redirect.
func consoleGet(t *testing.T, srv *server, path string, cookie *http.Cookie) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, srv.base+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if cookie != nil {
		req.AddCookie(cookie)
	}
	res, err := noRedirects.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res
}

// fillIn types value into the control labelled label, as a person would.
func fillIn(t *testing.T, ctx context.Context, label, value string) {
	t.Helper()
	id := evalJS[string](t, ctx, fmt.Sprintf(`(() => {
		const l = [...document.querySelectorAll('label')].find(l => l.textContent.trim().startsWith(%q));
		return l && l.control ? l.control.id : '';
	})()`, label))
	if id == "" {
		t.Fatalf("no control labelled %q on %s", label, evalJS[string](t, ctx, "location.href"))
	}
	inBrowser(t, ctx, "type into "+label, chromedp.SendKeys(chromedp.CSS("#"+id), value))
}

// press clicks the button named name (the first, or the one inside
// scope, a CSS selector) and waits for the page it leads to.
func press(t *testing.T, ctx context.Context, scope, name string) {
	t.Helper()
	ok := evalJS[bool](t, ctx, fmt.Sprintf(`(() => {
		const b = [...document.querySelectorAll(%q + ' button')].find(b => b.textContent.trim() === %q);
		if (!b) return false;
		window.__leaving = true;
		b.click();
		return true;
	})()`, scope, name))
	if !ok {
		t.Fatalf("no button %q in %q on %s", name, scope, evalJS[string](t, ctx, "location.href"))
	}
	waitLoaded(t, ctx, "the page after "+name, "true")
}

// waitLoaded waits until the page that replaced the one left is loaded
// and cond (a JavaScript expression) holds in it; evaluations failing
// while the browser navigates are retried.
func waitLoaded(t *testing.T, ctx context.Context, what, cond string) {
	t.Helper()
	expr := `!window.__leaving && document.readyState === 'complete' && (` + cond + `)`
	deadline := time.Now().Add(15 * time.Second)
	for {
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](expr))
		if err == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("browser: wait for %s: got %v, %v; want %s", what, ok, err, cond)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// tabTo presses Tab until the control with id has the focus, and checks
// that the focus is visible (an outline of at least 2 px).
func tabTo(t *testing.T, ctx context.Context, id string) {
	t.Helper()
	for range 10 {
		inBrowser(t, ctx, "press Tab", chromedp.KeyEvent("\t"))
		if evalJS[string](t, ctx, `document.activeElement ? document.activeElement.id : ''`) != id {
			continue
		}
		if !evalJS[bool](t, ctx, `(() => { const s = getComputedStyle(document.activeElement); return s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) >= 2; })()`) {
			t.Errorf("#%s has the keyboard focus but shows no outline", id)
		}
		return
	}
	t.Fatalf("Tab never reached #%s", id)
}

// visit loads path of srv and waits for it.
func visit(t *testing.T, ctx context.Context, srv *server, path string) {
	t.Helper()
	inBrowser(t, ctx, "open "+path, chromedp.Navigate(srv.base+path))
	waitLoaded(t, ctx, path, "true")
}

// pageStatus is the HTTP status of the page shown.
func pageStatus(t *testing.T, ctx context.Context) int {
	t.Helper()
	return evalJS[int](t, ctx, `performance.getEntriesByType('navigation')[0].responseStatus`)
}

func pageText(t *testing.T, ctx context.Context) string {
	t.Helper()
	return evalJS[string](t, ctx, `document.body.innerText`)
}

// runConsole is the console's e2e: an admin signs in, finds a
// just-uploaded image in the grid, opens it and takes it down with a
// reason and "block"; its path is a 404 on both instances, the same bytes
// are refused (422 BlockedContent) and the audit log shows it. A reader's
// report puts another image in the queue. A non-admin sees 403, a
// signed-out request is sent to sign in, a cross-origin form POST with
// the admin's cookie is refused. axe-core checks every page; screenshots
// at 1280 and 375 px are written under name.
func runConsole(t *testing.T, d consoleDeployment, name string) {
	a, b := d.a, d.b
	rng := newRand(t)
	photo := encodeJPEG(t, rng, 200, 150)
	path := sampleFlow(t, a, "", "image/jpeg", photo)
	id := strings.TrimSuffix(strings.TrimPrefix(path, "/hc/user_images/"), ".jpeg")
	reported := sampleFlow(t, b, "", "image/jpeg", encodeJPEG(t, rng, 120, 90))
	reportedID := strings.TrimSuffix(strings.TrimPrefix(reported, "/hc/user_images/"), ".jpeg")
	// A photo wider than the thumbnails (stored 600×1000, EXIF orientation
	// 6: shown 1000×600): the grid says its exact size, stored with it.
	sampleFlow(t, a, "", "image/jpeg", testphoto.JPEG(600, 1000, 1, 6))

	t.Run("signed out is sent to sign in", func(t *testing.T) {
		for _, p := range []string{"/admin/", "/admin/log", "/admin/images/" + id} {
			res := consoleGet(t, a, p, nil)
			if loc := res.Header.Get("Location"); res.StatusCode != http.StatusSeeOther || !strings.HasPrefix(loc, "/admin/login") {
				t.Errorf("GET %s signed out: got %s to %q, want 303 to /admin/login", p, res.Status, loc)
			}
		}
	})
	t.Run("a session made on one instance is valid on the other", func(t *testing.T) {
		cookie := signIn(t, a, consoleAdmin, consoleAdminPW)
		if res := consoleGet(t, b, "/admin/", cookie); res.StatusCode != http.StatusOK {
			t.Errorf("GET /admin/ on the other instance with the session: got %s, want 200", res.Status)
		}
	})
	t.Run("a non-admin gets 403", func(t *testing.T) {
		cookie := signIn(t, a, consoleUser, consoleUserPW)
		if res := consoleGet(t, b, "/admin/", cookie); res.StatusCode != http.StatusForbidden {
			t.Errorf("GET /admin/ as a non-admin: got %s, want 403", res.Status)
		}
	})

	ctx := newBrowser(t, t.TempDir())
	// The pages' errors (script exceptions, CSP violations, failed
	// loads), as the browser reports them.
	pageErrors := listenPageErrors(t, ctx)
	// A reader reports the second image with the Report action under it
	// in the composer's preview of a post.
	visit(t, ctx, a, "/composer/")
	inBrowser(t, ctx, "wait for the composer's settings", pollJS[bool](`document.getElementById('limits').textContent !== 'Loading limits…'`))
	evalJS[bool](t, ctx, fmt.Sprintf(`(() => {
		const body = document.getElementById('body');
		body.value = %q;
		body.dispatchEvent(new Event('input', {bubbles: true}));
		return true;
	})()`, `A picture from the post: <img src="`+reported+`" alt="">`))
	inBrowser(t, ctx, "open Report", chromedp.Click(chromedp.CSS(`#preview-body details.report summary`)))
	inBrowser(t, ctx, "choose a reason", chromedp.SetValue(chromedp.CSS(`#preview-body details.report select`), "spam"))
	fillIn(t, ctx, "Details", "an advert for watches")
	inBrowser(t, ctx, "send the report", chromedp.Click(chromedp.CSS(`#preview-body details.report button`)))
	said := inBrowser(t, ctx, "wait for the report to be taken", pollJS[string](
		`(t => t.startsWith('Thank you') || t.startsWith('The report was not') ? t : false)(document.querySelector('#preview-body .report-status').textContent)`))
	if !strings.HasPrefix(said, "Thank you") {
		t.Fatalf("composer's Report: got %q, want thanks", said)
	}
	checkAccessible(t, ctx, "the composer's Report form")
	saveScreenshots(t, ctx, name+"-composer-report")

	// Signed out, the console sends the browser to sign in.
	visit(t, ctx, a, "/admin/")
	if p := evalJS[string](t, ctx, "location.pathname"); p != "/admin/login" {
		t.Fatalf("signed out, /admin/ shows %s, want /admin/login", p)
	}
	checkAccessible(t, ctx, "the sign-in page")
	saveScreenshots(t, ctx, name+"-signin")
	fillIn(t, ctx, "Email", consoleAdmin)
	fillIn(t, ctx, "Password", consoleAdminPW)
	press(t, ctx, "main", "Sign in")

	// The grid shows the image just uploaded, with its facts.
	if p := evalJS[string](t, ctx, "location.pathname"); p != "/admin/" {
		t.Fatalf("after signing in: at %s, want /admin/", p)
	}
	card := fmt.Sprintf(`document.querySelector('a[href="/admin/images/%s"] img')`, id)
	inBrowser(t, ctx, "wait for the thumbnail", pollJS[bool](card+` && `+card+`.naturalWidth > 0`))
	// Thumbnails load a small variant (WebP: Chromium takes it), not
	// the original.
	if src := evalJS[string](t, ctx, card+`.getAttribute("src")`); src != path+"?w=320&auto=format" {
		t.Errorf("thumbnail src %q, want %s?w=320&auto=format", src, path)
	}
	if typ := evalJS[string](t, ctx, `(() => { const e = performance.getEntriesByType("resource").find(e => e.name.endsWith("?w=320&auto=format")); return e ? e.name : "" })()`); typ == "" {
		t.Errorf("no request for the thumbnail's variant")
	}
	if text := pageText(t, ctx); !strings.Contains(text, "200 × 150 px") || !strings.Contains(text, "anonymous") || !strings.Contains(text, "image/jpeg") {
		t.Errorf("grid: want the image's dimensions, uploader and type; got %q", text)
	}
	if text := pageText(t, ctx); !strings.Contains(text, "1000 × 600 px") || strings.Contains(text, "at least") {
		t.Errorf("grid: want the wide photo's exact size, 1000 × 600 px (not \"at least\" its thumbnail's); got %q", text)
	}
	checkAccessible(t, ctx, "the images grid")
	saveScreenshots(t, ctx, name+"-images")

	// The reports queue, on the other instance: the same session.
	visit(t, ctx, b, "/admin/reports")
	if text := pageText(t, ctx); !strings.Contains(text, reportedID) || !strings.Contains(text, "an advert for watches") || !strings.Contains(text, "1 distinct reporter") {
		t.Errorf("reports queue on the other instance: want %s with its report; got %q", reportedID, text)
	}
	// The Reason box sits with its Take down button, in a box the
	// Dismiss button is not in.
	if ok := evalJS[bool](t, ctx, `(() => {
		const reason = [...document.querySelectorAll('label')].find(l => l.textContent.trim() === 'Reason');
		const box = reason && reason.control && reason.control.closest('.box');
		if (!box) return false;
		const buttons = [...box.querySelectorAll('button')].map(b => b.textContent.trim());
		return buttons.includes('Take down') && !buttons.includes('Dismiss reports');
	})()`); !ok {
		t.Errorf("reports queue: the Reason box is not boxed with Take down apart from Dismiss reports")
	}
	checkAccessible(t, ctx, "the reports queue")
	saveScreenshots(t, ctx, name+"-reports")

	// Open the image from the grid, and take it down with "block".
	visit(t, ctx, a, "/admin/")
	evalJS[bool](t, ctx, `window.__leaving = true`)
	inBrowser(t, ctx, "open the image", chromedp.Click(chromedp.CSS(fmt.Sprintf(`p.id a[href="/admin/images/%s"]`, id))))
	waitLoaded(t, ctx, "the image page", fmt.Sprintf(`location.pathname === "/admin/images/%s"`, id))
	sum := sha256.Sum256(photo)
	if text := pageText(t, ctx); !strings.Contains(text, hex.EncodeToString(sum[:])) {
		t.Errorf("image page: want its SHA-256 %x; got %q", sum, text)
	}
	checkAccessible(t, ctx, "the image page")
	saveScreenshots(t, ctx, name+"-image")
	fillIn(t, ctx, "Reason", "spam campaign")
	blockBox := evalJS[bool](t, ctx, `(() => {
		const l = [...document.querySelectorAll('label')].find(l => /block/i.test(l.textContent) && l.control && l.control.type === 'checkbox');
		if (!l) return false;
		l.control.click();
		return l.control.checked;
	})()`)
	if !blockBox {
		t.Fatal("no checkbox whose label mentions block on the image page")
	}
	press(t, ctx, "form.takedown", "Take down")
	if text := pageText(t, ctx); !strings.Contains(text, "Taken down") || !strings.Contains(text, "spam campaign") {
		t.Errorf("after the takedown: want it confirmed with its reason; got %q", text)
	}
	if n := evalJS[int](t, ctx, `document.querySelectorAll('main .flash, main [role=status]').length`); n != 1 {
		t.Errorf("after the takedown: got %d banners, want one", n)
	}
	checkAccessible(t, ctx, "the image page after the takedown")
	saveScreenshots(t, ctx, name+"-takendown")
	for _, srv := range []*server{a, b} {
		if _, err := fetch(http.DefaultClient, srv.base, path); statusOf(err) != http.StatusNotFound {
			t.Errorf("GET %s on %s after the takedown: got %v, want 404", path, srv.base, err)
		}
	}
	checkBlocked(t, b, photo)

	visit(t, ctx, b, "/admin/log")
	if text := pageText(t, ctx); !strings.Contains(text, path) || !strings.Contains(text, "spam campaign") || !strings.Contains(text, "take down and block") || !strings.Contains(text, consoleAdmin) {
		t.Errorf("audit log: want the takedown of %s, by whom and why; got %q", path, text)
	}
	checkAccessible(t, ctx, "the audit log")
	saveScreenshots(t, ctx, name+"-log")
	visit(t, ctx, a, "/admin/blocklist")
	if text := pageText(t, ctx); !strings.Contains(text, hex.EncodeToString(sum[:])) {
		t.Errorf("blocklist: want %x; got %q", sum, text)
	}
	checkAccessible(t, ctx, "the blocklist")
	saveScreenshots(t, ctx, name+"-blocklist")

	// A page of another origin posts a takedown form with the admin's
	// cookie: refused, and the image stays.
	evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `<!doctype html><form method="post" action="%s/admin/images/%s/takedown"><input name="reason" value="forged"><input name="block" value="true"></form><script>document.forms[0].submit()</script>`, a.base, reportedID)
	}))
	defer evil.Close()
	inBrowser(t, ctx, "open the other site", chromedp.Navigate(evil.URL))
	waitLoaded(t, ctx, "the forged POST's answer", fmt.Sprintf(`location.href.startsWith(%q)`, a.base))
	if st := pageStatus(t, ctx); st != http.StatusForbidden {
		t.Errorf("cross-origin form POST: got status %d, want 403", st)
	}
	if _, err := fetch(http.DefaultClient, b.base, reported); err != nil {
		t.Errorf("GET %s after the forged takedown: got %v, want it served", reported, err)
	}

	// Signed out, then in as a user who is not an admin: 403.
	visit(t, ctx, a, "/admin/")
	press(t, ctx, "header", "Sign out")
	if p := evalJS[string](t, ctx, "location.pathname"); p != "/admin/login" {
		t.Errorf("after signing out: at %s, want /admin/login", p)
	}
	// With the keyboard only: Tab to each field, type, Enter; the
	// focused control shows a visible focus ring.
	tabTo(t, ctx, "email")
	inBrowser(t, ctx, "type the email", chromedp.KeyEvent(consoleUser))
	tabTo(t, ctx, "password")
	inBrowser(t, ctx, "type the password", chromedp.KeyEvent(consoleUserPW))
	evalJS[bool](t, ctx, `window.__leaving = true`)
	inBrowser(t, ctx, "press Enter", chromedp.KeyEvent("\r"))
	waitLoaded(t, ctx, "the page after signing in", "true")
	if st := pageStatus(t, ctx); st != http.StatusForbidden {
		t.Errorf("a non-admin signed in: got status %d, want 403", st)
	}
	checkAccessible(t, ctx, "the 403 page")
	for _, e := range pageErrors() {
		// The 403s are provoked on purpose.
		if !strings.Contains(e, "403") {
			t.Errorf("page error: %s", e)
		}
	}
}

// checkBlocked uploads data through srv and wants it refused as
// BlockedContent: at the PUT when it comes to the server, at the claim
// when it goes to the object store.
func checkBlocked(t *testing.T, srv *server, data []byte) {
	t.Helper()
	c := http.DefaultClient
	up, err := createUpload(c, srv.base, "", "image/jpeg", len(data))
	if err != nil {
		t.Fatal(err)
	}
	err = putUpload(c, up, data)
	if err == nil {
		_, err = claim(c, srv.base, "", up.Upload.Token, brandID)
	}
	var e *errStatus
	if !errors.As(err, &e) || e.status != http.StatusUnprocessableEntity || errorCode(e.body) != "BlockedContent" {
		t.Errorf("re-upload of blocked bytes: got %v, want 422 BlockedContent", err)
	}
}
