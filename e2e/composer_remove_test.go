package e2e

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestComposerRemoveDeletes: in Chromium, the composer's Remove takes the
// picture out of the body, offers Undo for 5 s, then deletes it from the
// server with its upload token, so that its path answers 404; Undo within
// that time keeps it; a page closed during it still sends the deletion.
func TestComposerRemoveDeletes(t *testing.T) {
	s := startServer(t, t.TempDir())
	rng := newRand(t)
	dir := t.TempDir()
	files := map[string]string{}
	for _, name := range []string{"gone.jpg", "kept.jpg", "closed.jpg"} {
		files[name] = clientFile(t, dir, name, encodeJPEG(t, rng, 300, 200))
	}
	bctx := newBrowser(t, dir)
	inBrowser(t, bctx, "open the composer", chromedp.Navigate(s.base+"/composer/"))
	inBrowser(t, bctx, "wait for the settings", pollJS[bool](`!document.getElementById('drop').disabled`))

	item := func(name string) string {
		return fmt.Sprintf(`document.querySelector('#uploads li[data-file=%q]')`, name)
	}
	published := func(name string) string {
		t.Helper()
		inBrowser(t, bctx, "pick "+name, chromedp.SetUploadFiles(chromedp.CSS("#files"), []string{files[name]}))
		inBrowser(t, bctx, "wait for "+name, pollJS[bool](fmt.Sprintf(`(() => { const li = %s; return !!li && li.classList.contains('done'); })()`, item(name))))
		return evalJS[string](t, bctx, item(name)+`.dataset.path`)
	}
	press := func(name, button string) {
		t.Helper()
		evalJS[bool](t, bctx, fmt.Sprintf(`(() => { [...%s.querySelectorAll('button')].find(b => b.textContent === %q).click(); return true; })()`, item(name), button))
	}
	body := func() string { return evalJS[string](t, bctx, `document.getElementById('body').value`) }
	status := func(path string) int {
		t.Helper()
		_, err := fetch(http.DefaultClient, s.base, path)
		if err == nil {
			return http.StatusOK
		}
		return statusOf(err)
	}

	gone := published("gone.jpg")
	kept := published("kept.jpg")

	// Remove: out of the body at once, online while Undo is offered, then
	// deleted.
	press("gone.jpg", "Remove")
	if b := body(); strings.Contains(b, gone) || !strings.Contains(b, kept) {
		t.Errorf("body after Remove: got %q, want %s gone and %s kept", b, gone, kept)
	}
	if got := evalJS[string](t, bctx, item("gone.jpg")+`.querySelector('button').textContent`); got != "Undo" {
		t.Errorf("button after Remove: got %q, want Undo", got)
	}
	if st := status(gone); st != http.StatusOK {
		t.Errorf("GET %s while Undo is offered: got %d, want 200", gone, st)
	}
	checkAccessible(t, bctx, "the composer while a removed picture can be brought back")
	inBrowser(t, bctx, "wait for gone.jpg to be deleted", pollJS[bool](item("gone.jpg")+` === null`))
	if st := status(gone); st != http.StatusNotFound {
		t.Errorf("GET %s after Remove: got %d, want 404", gone, st)
	}
	if st := status(gone + "?w=160"); st != http.StatusNotFound {
		t.Errorf("GET %s?w=160 after Remove: got %d, want 404", gone, st)
	}

	// Undo within the undo time: back where it was, and never deleted.
	evalJS[bool](t, bctx, `(() => { document.getElementById('composer').dataset.undoSeconds = '1'; return true; })()`)
	before := body()
	press("kept.jpg", "Remove")
	if strings.Contains(body(), kept) {
		t.Fatalf("body after Remove: got %q, want %s gone", body(), kept)
	}
	press("kept.jpg", "Undo")
	if got := body(); got != before {
		t.Errorf("body after Undo: got %q, want it as before Remove: %q", got, before)
	}
	time.Sleep(1500 * time.Millisecond) // past the undo time: no deletion may follow
	if st := status(kept); st != http.StatusOK {
		t.Errorf("GET %s after Undo: got %d, want 200", kept, st)
	}
	if got := evalJS[string](t, bctx, item("kept.jpg")+`.querySelector('.upload-state').textContent`); got != "Added to the body" {
		t.Errorf("state after Undo: got %q, want Added to the body", got)
	}

	// The page goes away while Undo is offered: the deletion goes with it.
	evalJS[bool](t, bctx, `(() => { document.getElementById('composer').dataset.undoSeconds = '60'; return true; })()`)
	closed := published("closed.jpg")
	press("closed.jpg", "Remove")
	inBrowser(t, bctx, "leave the page", chromedp.Navigate("about:blank"))
	deadline := time.Now().Add(10 * time.Second)
	for status(closed) != http.StatusNotFound && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	if st := status(closed); st != http.StatusNotFound {
		t.Errorf("GET %s after the page was left during the undo time: got %d, want 404", closed, st)
	}
	if st := status(kept); st != http.StatusOK {
		t.Errorf("GET %s (not removed) after the page was left: got %d, want 200", kept, st)
	}
}
