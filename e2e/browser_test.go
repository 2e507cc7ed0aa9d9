package e2e

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	cdpruntime "github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/userimages/userimages/client/api"
)

// chromiumPath is where Debian's chromium package puts the browser;
// scripts/test.sh installs it.
const chromiumPath = "/usr/bin/chromium"

// browserLimit is the --max-file-size of the browser test's server: small,
// so that a file over it is quick to make.
const browserLimit = 100_000

// newBrowser starts headless Chromium for the rest of t, its profile in
// dir, or skips t without Chromium (fails it under CI).
func newBrowser(t *testing.T, dir string) context.Context {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		if os.Getenv("CI") == "" {
			t.Skipf("no Chromium (bash scripts/test.sh installs it): %v", err)
		}
		t.Fatalf("no Chromium in CI, which scripts/test.sh should have installed: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx,
		chromedp.ExecPath(chromiumPath),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(filepath.Join(dir, "chromium")),
		chromedp.WindowSize(1280, 1000),
	)
	t.Cleanup(cancelAlloc)
	bctx, cancelBrowser := chromedp.NewContext(allocCtx)
	t.Cleanup(cancelBrowser)
	return bctx
}

// TestComposerInBrowser drives the composer page in headless Chromium: a
// JPEG picked through the file input goes through the three steps, shows
// in the preview and lands in the body as <img> with a srcset; a GIF over
// the size limit and a text file are refused, their size or what they
// are named, without a request; a file the server refuses gets the plain sentence of
// its code.
func TestComposerInBrowser(t *testing.T) {
	s := startServer(t, t.TempDir(), "--max-file-size", fmt.Sprint(browserLimit))
	rng := newRand(t)
	dir := t.TempDir()
	photo := encodeJPEG(t, rng, 320, 200)
	if len(photo) >= browserLimit {
		t.Fatalf("test photo is %d bytes, want it under the %d limit", len(photo), browserLimit)
	}
	photoPath := clientFile(t, dir, "office.jpg", photo)
	// A GIF is not made smaller in the page (it might move), so one over
	// the limit is refused.
	gif := encodeGIF(t, rng, 40, 30)
	bigPath := clientFile(t, dir, "big.gif", append(gif, make([]byte, browserLimit+50_000-len(gif))...))
	textPath := clientFile(t, dir, "notes.txt", []byte("not a picture\n"))
	// PNG's signature and then no image: the page sends it as image/png,
	// and the server refuses the bytes with an errors document.
	brokenPath := clientFile(t, dir, "broken.png", append([]byte("\x89PNG\r\n\x1a\n"), make([]byte, 200)...))
	bctx := newBrowser(t, dir)

	// The page's requests and its errors (script exceptions, CSP
	// violations, failed loads), as the browser reports them.
	var mu sync.Mutex
	var requests, pageErrors []string
	if err := chromedp.Listen(bctx, func(ev any) {
		mu.Lock()
		defer mu.Unlock()
		switch ev := ev.(type) {
		case *network.EventRequestWillBeSent:
			requests = append(requests, ev.Request.Method+" "+ev.Request.URL)
		default:
			// The 422 of the PNG named .jpg is expected; any other error
			// is not.
			if msg, ok := pageError(ev); ok {
				pageErrors = append(pageErrors, msg)
			}
		}
	}); err != nil {
		t.Fatalf("start Chromium: %v", err)
	}
	uploadRequests := func() (n int) {
		mu.Lock()
		defer mu.Unlock()
		for _, r := range requests {
			if strings.HasPrefix(r, "POST ") || strings.HasPrefix(r, "PUT ") {
				n++
			}
		}
		return n
	}
	t.Cleanup(func() {
		mu.Lock()
		defer mu.Unlock()
		if t.Failed() {
			t.Logf("requests the page made:\n%s", strings.Join(requests, "\n"))
		}
	})

	// / leads to the page, whose settings load.
	inBrowser(t, bctx, "open the page", chromedp.Navigate(s.base+"/"))
	if path := evalJS[string](t, bctx, "location.pathname"); path != "/composer/" {
		t.Errorf("/ led to %s, want /composer/", path)
	}
	inBrowser(t, bctx, "wait for the settings", pollJS[bool](`!document.getElementById('drop').disabled`))
	if bad := evalJS[[]string](t, bctx, unlabelledJS); len(bad) > 0 {
		t.Errorf("controls without an accessible name: %q", bad)
	}

	// A picture through the file input, as a user picks one.
	inBrowser(t, bctx, "write the post", chromedp.Steps(
		chromedp.SendKeys(chromedp.CSS("#title"), "Our new office"),
		chromedp.SendKeys(chromedp.CSS("#body"), "Here is the view:"),
		chromedp.SetUploadFiles(chromedp.CSS("#files"), []string{photoPath}),
	))
	// Until the preview shows the picture (or the page reports a failure).
	got := inBrowser(t, bctx, "wait for the preview", pollJS[struct {
		Src   string `json:"src"`
		Error string `json:"error"`
	}](`(() => {
		const img = document.querySelector('#preview-body img');
		if (img && img.complete && img.naturalWidth > 0) return {src: img.getAttribute('src'), alt: img.alt};
		const e = document.querySelector('#uploads .failed .upload-state');
		return e ? {error: e.textContent} : false;
	})()`))
	if got.Error != "" {
		t.Fatalf("upload failed in the page: %s", got.Error)
	}
	if !strings.HasPrefix(got.Src, "/hc/user_images/") || !strings.HasSuffix(got.Src, ".jpeg") {
		t.Fatalf("preview <img src>: got %q, want /hc/user_images/….jpeg", got.Src)
	}
	served, err := fetch(http.DefaultClient, s.base, got.Src)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(served, photo) {
		t.Errorf("GET %s: got %d bytes, want the %d of the uploaded file", got.Src, len(served), len(photo))
	}
	// The picture replaced its placeholder, with the server's narrower
	// copy in srcset and an empty alt until the person describes it.
	body := evalJS[string](t, bctx, `document.getElementById('body').value`)
	src := got.Src
	if want := "Here is the view:\n" + `<img src="` + src + `" srcset="` + src + `?w=160&amp;auto=format 160w, ` + src + ` 320w" sizes="(max-width: 320px) 100vw, 320px" alt="">`; !strings.Contains(body, want) || strings.Contains(body, "[Uploading") {
		t.Errorf("body: got %q, want it to contain %q and no placeholder", body, want)
	}
	if alt := evalJS[string](t, bctx, `document.querySelector('#preview-body img').alt`); alt != "" {
		t.Errorf("preview alt: got %q, want it empty (not the file name)", alt)
	}
	bar := evalJS[struct {
		Value float64 `json:"value"`
		Max   float64 `json:"max"`
		Label string  `json:"label"`
	}](t, bctx, `(() => { const p = document.querySelector('#uploads progress'); return {value: p.value, max: p.max, label: p.getAttribute('aria-label')}; })()`)
	if bar.Value != bar.Max || bar.Max != float64(len(photo)) || bar.Label != "Uploading office.jpg" {
		t.Errorf("progress bar: got %+v, want full at %d bytes, labelled Uploading office.jpg", bar, len(photo))
	}
	if n := uploadRequests(); n != 3 {
		t.Errorf("the upload made %d POST/PUT requests, want 3 (create, PUT, claim)", n)
	}

	// Files the server would refuse are refused in the page, their size
	// or type named, before any request; one the server refuses gets the
	// plain sentence of its code (client/api's, as the CLI words it).
	for _, f := range []struct{ path, name, want string }{
		{bigPath, "big.gif", "big.gif is 150 KB; pictures must be 100 KB or smaller."},
		{textPath, "notes.txt", "notes.txt is text, not a picture. Pictures must be JPEG, PNG, GIF or WebP."},
	} {
		before := uploadRequests()
		inBrowser(t, bctx, "pick "+f.name, chromedp.SetUploadFiles(chromedp.CSS("#files"), []string{f.path}))
		if msg := inBrowser(t, bctx, "wait for the refusal of "+f.name, pollJS[string](failedStateJS(f.name))); msg != f.want {
			t.Errorf("refusal of %s: got %q, want %q", f.name, msg, f.want)
		}
		// A request would have been sent right away, from the same handler.
		time.Sleep(200 * time.Millisecond)
		if n := uploadRequests() - before; n != 0 {
			t.Errorf("refused %s: the page made %d upload requests, want none", f.name, n)
		}
	}
	inBrowser(t, bctx, "pick broken.png", chromedp.SetUploadFiles(chromedp.CSS("#files"), []string{brokenPath}))
	msg := inBrowser(t, bctx, "wait for the server's refusal", pollJS[string](failedStateJS("broken.png")))
	if want := plainSentence(t, msg, "broken.png"); msg != want {
		t.Errorf("server refusal: got %q, want %q", msg, want)
	}
	if live := evalJS[string](t, bctx, `document.getElementById('status').textContent`); live != msg {
		t.Errorf("live region: got %q, want only the latest news, %q", live, msg)
	}
	if strings.Count(evalJS[string](t, bctx, `document.getElementById('body').value`), "<img") != 1 {
		t.Errorf("the refused upload was inserted into the body")
	}

	// Pasting into the body and dropping on the drop zone upload too. The
	// events are made in the page, with the served picture as their file.
	inBrowser(t, bctx, "paste and drop", chromedp.Evaluate[bool](fmt.Sprintf(`(async () => {
		const blob = await (await fetch(%q)).blob();
		const transfer = name => { const dt = new DataTransfer(); dt.items.add(new File([blob], name, {type: 'image/jpeg'})); return dt; };
		document.getElementById('body').dispatchEvent(new ClipboardEvent('paste', {clipboardData: transfer('pasted.jpg'), bubbles: true, cancelable: true}));
		document.getElementById('drop').dispatchEvent(new DragEvent('drop', {dataTransfer: transfer('dropped.jpg'), bubbles: true, cancelable: true}));
		return true;
	})()`, got.Src), chromedp.EvalAwaitPromise))
	inBrowser(t, bctx, "wait for the pasted and dropped pictures", pollJS[bool](`(() => {
		const imgs = [...document.querySelectorAll('#preview-body img')];
		return imgs.length === 3 && imgs.every(i => i.complete && i.naturalWidth > 0);
	})()`))
	done := evalJS[[]string](t, bctx, `[...document.querySelectorAll('#uploads li.done')].map(li => li.dataset.file).sort()`)
	if want := []string{"dropped.jpg", "office.jpg", "pasted.jpg"}; !slices.Equal(done, want) {
		t.Errorf("uploads done: got %q, want %q", done, want)
	}

	live := evalJS[string](t, bctx, `(() => { const s = document.getElementById('status'); return s.getAttribute('role') + ' ' + s.getAttribute('aria-live'); })()`)
	if live != "status polite" {
		t.Errorf("status region: got role and aria-live %q, want status polite", live)
	}

	checkAccessible(t, bctx, "the composer after uploads and refusals")
	saveScreenshots(t, bctx, "composer")
	reportPageErrors(t, &mu, &pageErrors)
}

// reportPageErrors fails t with the errors a page reported, which a
// listener appends to pageErrors under mu.
func reportPageErrors(t *testing.T, mu *sync.Mutex, pageErrors *[]string) {
	t.Helper()
	mu.Lock()
	defer mu.Unlock()
	if len(*pageErrors) > 0 {
		t.Errorf("the page reported errors:\n%s", strings.Join(*pageErrors, "\n"))
	}
}

// failedStateJS is the status line of the upload of name once it failed.
func failedStateJS(name string) string {
	return fmt.Sprintf(`(() => { const s = document.querySelector('#uploads li.failed[data-file=%q] .upload-state'); return s ? s.textContent : false; })()`, name)
}

// plainSentence is what the composer says of a refusal of file by the
// server, in msg with its code in parentheses at the end: the code's plain
// sentence from client/api, the one the CLI says too.
func plainSentence(t *testing.T, msg, file string) string {
	t.Helper()
	open := strings.LastIndex(msg, " (")
	if open < 0 || !strings.HasSuffix(msg, ")") {
		t.Fatalf("refusal %q: want a code in parentheses at the end", msg)
	}
	code := api.Code(msg[open+2 : len(msg)-1])
	info, ok := code.Info()
	if !ok {
		t.Fatalf("refusal %q: %q is not an API code", msg, code)
	}
	// Capitalized before the file's name goes in, as the page does.
	info.Plain = strings.ToUpper(info.Plain[:1]) + info.Plain[1:]
	return info.Sentence(file) + ". (" + string(code) + ")"
}

// unlabelledJS lists the page's controls that have no accessible name.
const unlabelledJS = `[...document.querySelectorAll('input, textarea, select, button, progress')]
	.filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label') && !(el.tagName === 'BUTTON' && el.textContent.trim()))
	.map(el => el.outerHTML)`

// pageError returns what a page event reports, when it is an error: a
// thrown exception, or a console error other than a network 422 (which
// the tests provoke on purpose).
// listenPageErrors collects the errors the pages of ctx report
// (pageError) from now on; errs returns those so far.
func listenPageErrors(t *testing.T, ctx context.Context) (errs func() []string) {
	t.Helper()
	var mu sync.Mutex
	var got []string
	if err := chromedp.Listen(ctx, func(ev any) {
		if msg, ok := pageError(ev); ok {
			mu.Lock()
			got = append(got, msg)
			mu.Unlock()
		}
	}); err != nil {
		t.Fatalf("start Chromium: %v", err)
	}
	return func() []string {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(got)
	}
}

func pageError(ev any) (string, bool) {
	switch ev := ev.(type) {
	case *cdpruntime.EventExceptionThrown:
		return "exception: " + ev.ExceptionDetails.Text + exceptionText(ev.ExceptionDetails), true
	case *cdplog.EventEntryAdded:
		expected := ev.Entry.Source == cdplog.EntrySourceNetwork && strings.Contains(ev.Entry.Text, "status of 422")
		if ev.Entry.Level == cdplog.EntryLevelError && !expected {
			return string(ev.Entry.Source) + ": " + ev.Entry.Text + " " + ev.Entry.URL, true
		}
	}
	return "", false
}

func exceptionText(d *cdpruntime.ExceptionDetails) string {
	if d.Exception != nil && d.Exception.Description != "" {
		return " " + d.Exception.Description
	}
	return ""
}

// pollJS polls expr until it is truthy and returns its value; it gives up
// after 15 s.
func pollJS[T any](expr string) chromedp.Action[T] {
	return chromedp.Poll[T](expr, chromedp.WithPollingTimeout(15*time.Second), chromedp.WithPollingInterval(50*time.Millisecond))
}

// inBrowser runs one action in the browser, failing the test with what it was
// doing if the action fails.
func inBrowser[T any](t *testing.T, ctx context.Context, what string, a chromedp.Action[T]) T {
	t.Helper()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		t.Fatalf("browser: %s: %v", what, err)
	}
	return v
}

func evalJS[T any](t *testing.T, ctx context.Context, expr string) T {
	t.Helper()
	return inBrowser(t, ctx, "evaluate "+expr, chromedp.Evaluate[T](expr))
}

// TestComposerScaleOut: the composer of a scale-out instance, in the
// browser, PUTs a picture straight to the bucket (whose CORS rule allows
// the page's origin, as DEPLOYMENT.md sets it up) and shows it inline.
func TestComposerScaleOut(t *testing.T) {
	d := newScaleOut(t)
	srv := d.start(t)
	bucket, _, _ := strings.Cut(strings.TrimPrefix(d.blob, "s3://"), "?")
	d.s3.AllowBrowsers(t, bucket, srv.base)
	dir := t.TempDir()
	photo := encodeJPEG(t, newRand(t), 320, 200)
	photoPath := clientFile(t, dir, "office.jpg", photo)

	bctx := newBrowser(t, dir)
	var mu sync.Mutex
	var puts []string
	if err := chromedp.Listen(bctx, func(ev any) {
		if e, ok := ev.(*network.EventRequestWillBeSent); ok && e.Request.Method == http.MethodPut {
			mu.Lock()
			puts = append(puts, e.Request.URL)
			mu.Unlock()
		}
	}); err != nil {
		t.Fatalf("start Chromium: %v", err)
	}
	src := uploadInComposer(t, bctx, srv.base+"/composer/", photoPath)
	mu.Lock()
	defer mu.Unlock()
	if len(puts) != 1 || !strings.HasPrefix(puts[0], d.s3.Endpoint+"/") {
		t.Errorf("PUTs the page made: got %q, want one, to the bucket at %s", puts, d.s3.Endpoint)
	}
	if served, err := fetch(http.DefaultClient, srv.base, src); err != nil || !bytes.Equal(served, photo) {
		t.Errorf("GET %s: got %d bytes, %v; want the %d of the file", src, len(served), err, len(photo))
	}
}

// uploadInComposer opens the composer at page, picks the file at path and
// returns the src of its picture once the preview shows it, failing t if
// the page reports the upload failed.
func uploadInComposer(t *testing.T, bctx context.Context, page, path string) string {
	t.Helper()
	inBrowser(t, bctx, "open the composer", chromedp.Navigate(page))
	inBrowser(t, bctx, "wait for the settings", pollJS[bool](`!document.getElementById('drop').disabled`))
	inBrowser(t, bctx, "pick the photo", chromedp.SetUploadFiles(chromedp.CSS("#files"), []string{path}))
	got := inBrowser(t, bctx, "wait for the preview", pollJS[struct {
		Src   string `json:"src"`
		Error string `json:"error"`
	}](`(() => {
		const img = document.querySelector('#preview-body img');
		if (img && img.complete && img.naturalWidth > 0) return {src: img.getAttribute('src')};
		const e = document.querySelector('#uploads .failed .upload-state');
		return e ? {error: e.textContent} : false;
	})()`))
	if got.Error != "" {
		t.Fatalf("upload failed in the page: %s", got.Error)
	}
	return got.Src
}
