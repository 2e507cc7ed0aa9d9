package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image/jpeg"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	cdpfetch "github.com/chromedp/cdproto/fetch"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/userimages/userimages/client/api"
)

// requestGate pauses the page's PUTs to upload URLs and its claims in Chromium
// (the Fetch domain) and lets each through, fails it as a lost connection, answers
// it as an expired upload URL would, or holds it until released: a held
// PUT is an upload as slow as the test wants.
type requestGate struct {
	ctx  context.Context
	mu   sync.Mutex
	rule func(method, contentType string) string // "fail", "expire", "expire-s3", "proxy-413", "slowdown-s3", "hold", or "" to let it through
	held []heldPUT
}

type heldPUT struct {
	id          cdpfetch.RequestID
	contentType string
}

func (g *requestGate) setRule(rule func(method, contentType string) string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.rule = rule
}

// once makes the next request of method get what ("fail", "expire"…) and
// lets the others through.
func (g *requestGate) once(method, what string) {
	done := false
	g.setRule(func(m, _ string) string {
		if done || m != method {
			return ""
		}
		done = true
		return what
	})
}

// paused decides on a paused request. It runs in chromedp's event loop,
// so the commands go from goroutines.
func (g *requestGate) paused(ev *cdpfetch.EventRequestPaused) {
	ct := ""
	for k, v := range ev.Request.Headers {
		if strings.EqualFold(k, "Content-Type") {
			ct, _ = v.(string)
		}
	}
	g.mu.Lock()
	what := ""
	if g.rule != nil {
		what = g.rule(ev.Request.Method, ct)
	}
	if what == "hold" {
		g.held = append(g.held, heldPUT{ev.RequestID, ct})
	}
	g.mu.Unlock()
	switch what {
	case "fail":
		go chromedp.Call(g.ctx, cdpfetch.FailRequest, cdpfetch.FailRequestParams{RequestID: ev.RequestID, ErrorReason: network.ErrorReasonConnectionFailed})
	case "expire", "expire-s3", "proxy-413", "slowdown-s3":
		status, ct, b := gateAnswer(what)
		go chromedp.Call(g.ctx, cdpfetch.FulfillRequest, cdpfetch.FulfillRequestParams{RequestID: ev.RequestID, ResponseCode: int64(status),
			ResponseHeaders: []*cdpfetch.HeaderEntry{{Name: "Content-Type", Value: ct}}, Body: b})
	case "hold":
	default:
		go g.let(ev.RequestID)
	}
}

// gateAnswer is what the gate answers a request with instead of the
// server: an expired upload URL's answer, as userimages says it ("expire")
// or an S3 store ("expire-s3"); a proxy's page refusing a large body
// ("proxy-413"), with no code; an S3 store's code the API does not know,
// for a busy store ("slowdown-s3").
func gateAnswer(what string) (status int, contentType string, body []byte) {
	switch what {
	case "expire-s3":
		return http.StatusForbidden, "application/xml", []byte(`<?xml version="1.0" encoding="UTF-8"?><Error><Code>ExpiredToken</Code><Message>The provided token has expired.</Message></Error>`)
	case "proxy-413":
		return http.StatusRequestEntityTooLarge, "text/html", []byte("<html><body><h1>413 Request Entity Too Large</h1></body></html>")
	case "slowdown-s3":
		return http.StatusServiceUnavailable, "application/xml", []byte(`<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>`)
	}
	b, _ := json.Marshal(api.ErrorBody{Errors: []api.ErrorItem{{Code: api.CodeUploadURLExpired, Title: "expired", Status: "403"}}})
	return http.StatusForbidden, "application/json", b
}

func (g *requestGate) let(id cdpfetch.RequestID) {
	// A request the page has aborted meanwhile cannot be continued: no matter.
	chromedp.Call(g.ctx, cdpfetch.ContinueRequest, cdpfetch.ContinueRequestParams{RequestID: id})
}

// heldCount is how many requests are held now.
func (g *requestGate) heldCount() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.held)
}

// release lets the held PUTs of contentType ("": all) go on.
func (g *requestGate) release(contentType string) {
	g.mu.Lock()
	var released []cdpfetch.RequestID
	kept := g.held[:0]
	for _, h := range g.held {
		if contentType == "" || h.contentType == contentType {
			released = append(released, h.id)
			continue
		}
		kept = append(kept, h)
	}
	g.held = kept
	g.mu.Unlock()
	// Not under mu: the listener, which takes mu, must not wait on Chromium
	// while Chromium's answers wait on the listener.
	for _, id := range released {
		g.let(id)
	}
}

// waitFor polls cond in Go for up to 15 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(15 * time.Second); !cond(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// TestComposerUploadList drives the composer's upload list in headless
// Chromium with the real binary, as a person would: Retry after a failed
// PUT, Cancel during a slow upload, at most three uploads at once,
// pictures in the order picked whatever order they finish in, Remove, the
// alt text field, srcset, a mislabelled PNG and a file over the limit.
// axe-core checks the page after each.
func TestComposerUploadList(t *testing.T) {
	// GIFs are not accepted, so that a GIF is refused for its type.
	s := startServer(t, t.TempDir(), "--max-file-size", "2000000", "--content-type", "image/jpeg", "--content-type", "image/png")
	rng := newRand(t)
	dir := t.TempDir()
	small := encodeJPEG(t, rng, 300, 200)
	file := func(name string, data []byte) string { return clientFile(t, dir, name, data) }
	retryPath := file("retry.jpg", small)
	var queued []string
	for i := 1; i <= 4; i++ {
		queued = append(queued, file(fmt.Sprintf("q%d.jpg", i), small))
	}
	slowPath := file("a.png", encodePNG(t, rng, 700, 400)) // A: its PUT is held
	fastPath := file("b.jpg", small)                       // B: picked after A, done first
	widePath := file("wide.jpg", encodeJPEG(t, rng, 700, 300))
	fakePath := file("photo.jpg", encodePNG(t, rng, 40, 30))
	hugePath := file("huge.jpg", padJPEG(small, 3_000_000, rngBytes(rng)))
	gifPath := file("still.png", encodeGIF(t, rng, 40, 30)) // a GIF, named .png

	bctx := newBrowser(t, dir)
	gate := &requestGate{ctx: bctx}
	var mu sync.Mutex
	var requests, pageErrors []string
	if err := chromedp.Listen(bctx, func(ev any) {
		switch ev := ev.(type) {
		case *cdpfetch.EventRequestPaused:
			gate.paused(ev)
			return
		case *network.EventRequestWillBeSent:
			mu.Lock()
			requests = append(requests, ev.Request.Method+" "+ev.Request.URL)
			mu.Unlock()
			return
		}
		// The PUTs failed on purpose log failed loads; nothing else may.
		if msg, ok := pageError(ev); ok && !strings.Contains(msg, "ERR_CONNECTION_FAILED") && !regexp.MustCompile(`status of (403|413|503)`).MatchString(msg) {
			mu.Lock()
			pageErrors = append(pageErrors, msg)
			mu.Unlock()
		}
	}); err != nil {
		t.Fatalf("start Chromium: %v", err)
	}
	// count is how many requests so far were method and path.
	count := func(method, path string) (n int) {
		mu.Lock()
		defer mu.Unlock()
		for _, r := range requests {
			m, u, _ := strings.Cut(r, " ")
			if pu, err := url.Parse(u); err == nil && m == method && (pu.Path == path || strings.HasSuffix(path, "*") && strings.HasPrefix(pu.Path, strings.TrimSuffix(path, "*"))) {
				n++
			}
		}
		return n
	}
	const create, claim, uploadURL = "/api/v2/guide/user_images/uploads", "/api/v2/guide/user_images", "/uploads/*"
	t.Cleanup(func() {
		mu.Lock()
		defer mu.Unlock()
		if t.Failed() {
			t.Logf("requests the page made:\n%s", strings.Join(requests, "\n"))
		}
	})
	if _, err := chromedp.Call(bctx, cdpfetch.Enable, cdpfetch.EnableParams{Patterns: []*cdpfetch.RequestPattern{{URLPattern: "*/uploads/*"}, {URLPattern: "*" + claim}}}); err != nil {
		t.Fatalf("intercept the upload URLs: %v", err)
	}
	inBrowser(t, bctx, "open the composer", chromedp.Navigate(s.base+"/composer/"))
	inBrowser(t, bctx, "wait for the settings", pollJS[bool](`!document.getElementById('drop').disabled`))

	pick := func(paths ...string) {
		t.Helper()
		inBrowser(t, bctx, fmt.Sprintf("pick %q", paths), chromedp.SetUploadFiles(chromedp.CSS("#files"), paths))
	}
	item := func(name string) string {
		return fmt.Sprintf(`document.querySelector('#uploads li[data-file=%q]')`, name)
	}
	waitClass := func(name, class string) {
		t.Helper()
		inBrowser(t, bctx, "wait for "+name+" to be "+class, pollJS[bool](fmt.Sprintf(`(() => { const li = %s; return !!li && li.classList.contains(%q); })()`, item(name), class)))
	}
	buttons := func(name string) []string {
		t.Helper()
		return evalJS[[]string](t, bctx, fmt.Sprintf(`[...%s.querySelectorAll('button')].map(b => b.textContent)`, item(name)))
	}
	press := func(name, button string) {
		t.Helper()
		evalJS[bool](t, bctx, fmt.Sprintf(`(() => { [...%s.querySelectorAll('button')].find(b => b.textContent === %q).click(); return true; })()`, item(name), button))
	}
	state := func(name string) string {
		t.Helper()
		return evalJS[string](t, bctx, item(name)+`.querySelector('.upload-state').textContent`)
	}
	pathOf := func(name string) string {
		t.Helper()
		return evalJS[string](t, bctx, item(name)+`.dataset.path`)
	}
	body := func() string {
		t.Helper()
		return evalJS[string](t, bctx, `document.getElementById('body').value`)
	}
	setBody := func(text string) {
		t.Helper()
		evalJS[bool](t, bctx, fmt.Sprintf(`(() => { const b = document.getElementById('body'); b.value = %q; b.setSelectionRange(b.value.length, b.value.length); return true; })()`, text))
	}

	t.Run("retry after a failed PUT", func(t *testing.T) {
		gate.once(http.MethodPut, "fail")
		pick(retryPath)
		waitClass("retry.jpg", "failed")
		if got, want := state("retry.jpg"), "retry.jpg: the upload did not reach the server (network error)."; got != want {
			t.Errorf("state after the failed PUT: got %q, want %q", got, want)
		}
		if got, want := buttons("retry.jpg"), []string{"Retry", "Remove"}; !slices.Equal(got, want) {
			t.Errorf("buttons after the failed PUT: got %q, want %q", got, want)
		}
		if b := body(); !strings.Contains(b, "[Not uploaded: retry.jpg]") {
			t.Errorf("body after the failed PUT: got %q, want the placeholder kept, marked not uploaded", b)
		}
		checkAccessible(t, bctx, "the composer with a failed upload")
		saveScreenshots(t, bctx, "composer-failed")
		// Retry from the keyboard: the focus stays in the item, on Remove
		// once it is done.
		evalJS[bool](t, bctx, fmt.Sprintf(`(() => { [...%s.querySelectorAll('button')].find(b => b.textContent === 'Retry').focus(); return true; })()`, item("retry.jpg")))
		inBrowser(t, bctx, "press Enter on Retry", chromedp.KeyEvent(kb.Enter))
		waitClass("retry.jpg", "done")
		if got := evalJS[string](t, bctx, `document.activeElement.textContent + ' ' + document.activeElement.closest('li')?.dataset.file`); got != "Remove retry.jpg" {
			t.Errorf("focus after Retry: got %q, want the Remove button of retry.jpg", got)
		}
		path := pathOf("retry.jpg")
		if b := body(); !strings.Contains(b, `<img src="`+path+`"`) || strings.Contains(b, "retry.jpg]") {
			t.Errorf("body after Retry: got %q, want the picture %s in place of the placeholder", b, path)
		}
		// The PUT is retried to the same upload URL: one create, two PUTs.
		if c, p := count("POST", create), count("PUT", uploadURL); c != 1 || p != 2 {
			t.Errorf("requests: got %d creates and %d PUTs, want 1 and 2 (the PUT retried to the same URL)", c, p)
		}
		checkAccessible(t, bctx, "the composer after Retry")
	})

	t.Run("retry after a failed claim", func(t *testing.T) {
		gate.once(http.MethodPost, "fail")
		creates, puts, claims := count("POST", create), count("PUT", uploadURL), count("POST", claim)
		pick(file("claim.jpg", small))
		waitClass("claim.jpg", "failed")
		if got, want := state("claim.jpg"), "claim.jpg: the server could not be reached (network error)."; got != want {
			t.Errorf("state after the failed claim: got %q, want %q", got, want)
		}
		press("claim.jpg", "Retry")
		waitClass("claim.jpg", "done")
		// The bytes arrived: Retry claims the same token again.
		if c, p, cl := count("POST", create)-creates, count("PUT", uploadURL)-puts, count("POST", claim)-claims; c != 1 || p != 1 || cl != 2 {
			t.Errorf("requests: got %d creates, %d PUTs, %d claims; want 1, 1 and 2 (the claim retried)", c, p, cl)
		}
	})

	// An expired upload URL, as userimages and as an S3 store say it: the
	// code's plain sentence, and Retry asks for a fresh URL.
	for _, tc := range []struct{ answer, name, code string }{
		{"expire", "late.jpg", "UploadURLExpired"},
		{"expire-s3", "late-s3.jpg", "ExpiredToken"},
	} {
		t.Run("retry with a fresh upload URL after "+tc.code, func(t *testing.T) {
			gate.once(http.MethodPut, tc.answer)
			creates, puts := count("POST", create), count("PUT", uploadURL)
			pick(file(tc.name, small))
			waitClass(tc.name, "failed")
			if got, want := state(tc.name), "The upload URL expired before "+tc.name+" was sent (is this computer's clock right?). ("+tc.code+")"; got != want {
				t.Errorf("state after the expired URL: got %q, want %q", got, want)
			}
			press(tc.name, "Retry")
			waitClass(tc.name, "done")
			if c, p := count("POST", create)-creates, count("PUT", uploadURL)-puts; c != 2 || p != 2 {
				t.Errorf("requests: got %d creates and %d PUTs, want 2 and 2 (a fresh upload URL)", c, p)
			}
			if b := body(); !strings.Contains(b, `<img src="`+pathOf(tc.name)+`"`) || strings.Contains(b, tc.name+"]") {
				t.Errorf("body after Retry: got %q, want the picture in place of the placeholder", b)
			}
		})
	}

	// Answers with no code, or with one the API does not know, are judged
	// by their status: Retry only where trying again can help.
	for _, tc := range []struct {
		answer, name, state string
		buttons             []string
	}{
		{"proxy-413", "proxied.jpg", "proxied.jpg: the upload URL answered HTTP 413.", []string{"Remove"}},
		{"slowdown-s3", "busy.jpg", "busy.jpg was refused (HTTP 503). (SlowDown)", []string{"Retry", "Remove"}},
	} {
		t.Run(tc.answer, func(t *testing.T) {
			gate.once(http.MethodPut, tc.answer)
			pick(file(tc.name, small))
			waitClass(tc.name, "failed")
			if got := state(tc.name); got != tc.state {
				t.Errorf("state: got %q, want %q", got, tc.state)
			}
			if got := buttons(tc.name); !slices.Equal(got, tc.buttons) {
				t.Errorf("buttons: got %q, want %q", got, tc.buttons)
			}
			press(tc.name, "Remove")
		})
	}

	t.Run("cancel and the queue", func(t *testing.T) {
		setBody("")
		creates, claims := count("POST", create), count("POST", claim)
		gate.setRule(func(m, _ string) string {
			if m == http.MethodPut {
				return "hold"
			}
			return ""
		})
		pick(queued...)
		waitFor(t, "three PUTs held", func() bool { return gate.heldCount() == 3 })
		time.Sleep(200 * time.Millisecond) // a fourth would start now
		if n := count("POST", create) - creates; n != 3 {
			t.Errorf("uploads started: got %d, want 3 at most at once", n)
		}
		if got, want := state("q4.jpg"), "Waiting for another upload to finish…"; got != want {
			t.Errorf("state of the fourth: got %q, want %q", got, want)
		}
		for _, name := range []string{"q1.jpg", "q4.jpg"} {
			if got := buttons(name); !slices.Equal(got, []string{"Cancel"}) {
				t.Errorf("buttons of %s: got %q, want Cancel", name, got)
			}
		}
		checkAccessible(t, bctx, "the composer with uploads running and waiting")
		// Cancel q1 while its bytes are on their way (held).
		press("q1.jpg", "Cancel")
		waitFor(t, "the fourth PUT", func() bool { return gate.heldCount() == 4 })
		if b := body(); strings.Contains(b, "q1.jpg") {
			t.Errorf("body after Cancel: got %q, want no placeholder of q1.jpg", b)
		}
		if n := evalJS[int](t, bctx, `document.querySelectorAll('#uploads li[data-file="q1.jpg"]').length`); n != 0 {
			t.Errorf("cancelled q1.jpg: got %d list items, want none", n)
		}
		gate.setRule(nil)
		gate.release("")
		for _, name := range []string{"q2.jpg", "q3.jpg", "q4.jpg"} {
			waitClass(name, "done")
		}
		b := body()
		for _, name := range []string{"q2.jpg", "q3.jpg", "q4.jpg"} {
			if p := pathOf(name); !strings.Contains(b, `<img src="`+p+`"`) {
				t.Errorf("body: got %q, want %s's picture %s", b, name, p)
			}
		}
		if n := strings.Count(b, "<img"); n != 3 || strings.Contains(b, "[") {
			t.Errorf("body: got %q, want 3 pictures and no placeholder", b)
		}
		if n := count("POST", claim) - claims; n != 3 {
			t.Errorf("claims: got %d, want 3 (nothing claimed for the cancelled upload)", n)
		}
		checkAccessible(t, bctx, "the composer after Cancel")
	})

	t.Run("order picked, not order finished", func(t *testing.T) {
		setBody("Intro")
		gate.setRule(func(m, ct string) string {
			if m == http.MethodPut && ct == "image/png" {
				return "hold"
			}
			return ""
		})
		held := gate.heldCount()
		pick(slowPath)
		waitFor(t, "A's PUT held", func() bool { return gate.heldCount() == held+1 })
		pick(fastPath)
		waitClass("b.jpg", "done")
		b := body()
		if a, bi := strings.Index(b, "[Uploading a.png…]"), strings.Index(b, pathOf("b.jpg")); a < 0 || bi < a {
			t.Errorf("body with B done and A running: got %q, want A's placeholder before B", b)
		}
		gate.setRule(nil)
		gate.release("image/png")
		waitClass("a.png", "done")
		a := pathOf("a.png")
		b = body()
		if ai, bi := strings.Index(b, a), strings.Index(b, pathOf("b.jpg")); !strings.HasPrefix(b, "Intro\n") || ai < 0 || bi < ai || strings.Contains(b, "[") {
			t.Errorf("body: got %q, want Intro, then A (%s), then B, and no placeholder", b, a)
		}
		// A is 700 px wide: srcset offers the server's narrower copies.
		img := evalJS[struct{ Srcset, Sizes, Alt string }](t, bctx, fmt.Sprintf(`(() => {
			const img = new DOMParser().parseFromString(document.getElementById('body').value, 'text/html').querySelector('img[src=%q]');
			return {Srcset: img.getAttribute('srcset'), Sizes: img.getAttribute('sizes'), Alt: img.getAttribute('alt')};
		})()`, a))
		if want := fmt.Sprintf("%[1]s?w=160&auto=format 160w, %[1]s?w=320&auto=format 320w, %[1]s?w=640&auto=format 640w, %[1]s 700w", a); img.Srcset != want {
			t.Errorf("A's srcset: got %q, want %q", img.Srcset, want)
		}
		if want := "(max-width: 700px) 100vw, 700px"; img.Sizes != want || img.Alt != "" {
			t.Errorf("A's sizes and alt: got %q %q, want %q and empty", img.Sizes, img.Alt, want)
		}
		// The browser loads each candidate of that srcset: the server makes
		// the copy at its width.
		for _, w := range []int{160, 320, 640} {
			got := inBrowser(t, bctx, "load a copy", chromedp.Evaluate[int](fmt.Sprintf(`new Promise(ok => { const i = new Image(); i.onload = () => ok(i.naturalWidth); i.onerror = () => ok(0); i.src = %q; })`,
				fmt.Sprintf("%s?w=%d&auto=format", a, w)), chromedp.EvalAwaitPromise))
			if got != w {
				t.Errorf("A's %d w copy in the browser: got %d px wide, want %d", w, got, w)
			}
		}
		// The alt text field writes the <img alt>.
		inBrowser(t, bctx, "describe A", chromedp.SendKeys(chromedp.CSS(`#uploads li[data-file="a.png"] input.alt`), "A view of the bay"))
		if b := body(); !strings.Contains(b, `<img src="`+a+`"`) || !strings.Contains(b, `alt="A view of the bay">`) {
			t.Errorf("body after describing A: got %q, want its alt", b)
		}
		if n := evalJS[int](t, bctx, `[...document.querySelectorAll('#preview-body img')].filter(i => i.alt === 'A view of the bay').length`); n != 1 {
			t.Errorf("preview: got %d pictures described, want 1", n)
		}
		checkAccessible(t, bctx, "the composer with pictures in the order picked")
	})

	// Remove means gone: the tag leaves the body at once, Undo is offered
	// for 5 s, then the picture is deleted from the server with its upload
	// token, and its path answers 404.
	t.Run("remove", func(t *testing.T) {
		p := pathOf("b.jpg")
		// Even after its tag was edited by hand.
		setBody(strings.Replace(body(), `src="`+p+`"`, `src="`+p+`" class="wide"`, 1))
		press("b.jpg", "Remove")
		if b := body(); strings.Contains(b, p) || !strings.Contains(b, pathOf("a.png")) {
			t.Errorf("body after Remove: got %q, want B (%s) gone and A kept", b, p)
		}
		if got := buttons("b.jpg"); !slices.Equal(got, []string{"Undo"}) {
			t.Errorf("buttons after Remove: got %q, want Undo", got)
		}
		if _, err := fetch(http.DefaultClient, s.base, p); err != nil {
			t.Errorf("GET %s during the undo time: got %v, want 200", p, err)
		}
		checkAccessible(t, bctx, "the composer while a removed picture can be brought back")
		inBrowser(t, bctx, "wait for b.jpg to be deleted", pollJS[bool](`document.querySelectorAll('#uploads li[data-file="b.jpg"]').length === 0`))
		if n := count(http.MethodDelete, "/api/v2/guide/user_images/*"); n != 1 {
			t.Errorf("DELETE requests: got %d, want 1", n)
		}
		if _, err := fetch(http.DefaultClient, s.base, p); statusOf(err) != http.StatusNotFound {
			t.Errorf("GET %s after Remove: got %v, want 404", p, err)
		}
		checkAccessible(t, bctx, "the composer after Remove")
	})

	t.Run("widths from data-variant-widths", func(t *testing.T) {
		evalJS[bool](t, bctx, `(() => { document.getElementById('composer').dataset.variantWidths = '300,600,900'; return true; })()`)
		pick(widePath)
		waitClass("wide.jpg", "done")
		p := pathOf("wide.jpg")
		got := evalJS[string](t, bctx, fmt.Sprintf(`new DOMParser().parseFromString(document.getElementById('body').value, 'text/html').querySelector('img[src=%q]').getAttribute('srcset')`, p))
		if want := fmt.Sprintf("%[1]s?w=300&auto=format 300w, %[1]s?w=600&auto=format 600w, %[1]s 700w", p); got != want {
			t.Errorf("srcset: got %q, want %q", got, want)
		}
	})

	t.Run("a PNG named .jpg", func(t *testing.T) {
		pick(fakePath)
		waitClass("photo.jpg", "done")
		if p := pathOf("photo.jpg"); !strings.HasSuffix(p, ".png") {
			t.Errorf("photo.jpg (a PNG): got path %q, want it published as a PNG", p)
		}
		checkAccessible(t, bctx, "the composer after a mislabelled PNG")
	})

	// A JPEG over the size limit (3 MB of comments around a small
	// picture) is encoded again in the page, and fits.
	t.Run("huge.jpg made smaller", func(t *testing.T) {
		pick(hugePath)
		waitClass("huge.jpg", "done")
		if got := state("huge.jpg"); !regexp.MustCompile(`^Added to the body, resized from 3 MB to [0-9.]+ KB$`).MatchString(got) {
			t.Errorf("state: got %q, want Added to the body, resized from 3 MB to some KB", got)
		}
		served, err := fetch(http.DefaultClient, s.base, pathOf("huge.jpg"))
		if err != nil {
			t.Fatal(err)
		}
		if m, err := jpeg.Decode(bytes.NewReader(served)); err != nil || m.Bounds().Dx() != 300 || m.Bounds().Dy() != 200 || len(served) > 100_000 {
			t.Errorf("served huge.jpg: %d bytes, %v; want a 300×200 JPEG of a few KB", len(served), err)
		}
	})

	// Files refused in the page say why: the type found against the types
	// accepted.
	for _, tc := range []struct{ path, name, want string }{
		{gifPath, "still.png", "still.png is a GIF image; pictures must be JPEG or PNG."},
	} {
		t.Run("refused "+tc.name, func(t *testing.T) {
			creates := count("POST", create)
			pick(tc.path)
			waitClass(tc.name, "failed")
			if got := state(tc.name); got != tc.want {
				t.Errorf("state: got %q, want %q", got, tc.want)
			}
			if got := buttons(tc.name); !slices.Equal(got, []string{"Remove"}) {
				t.Errorf("buttons: got %q, want Remove only", got)
			}
			if n := count("POST", create) - creates; n != 0 {
				t.Errorf("requests for a refused file: got %d, want none", n)
			}
			if b := body(); strings.Contains(b, tc.name) {
				t.Errorf("body: got %q, want no placeholder of the refused file", b)
			}
			checkAccessible(t, bctx, "the composer after refusing "+tc.name)
		})
	}

	saveScreenshots(t, bctx, "composer-uploads")
	reportPageErrors(t, &mu, &pageErrors)
}
