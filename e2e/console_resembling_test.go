package e2e

import (
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"userimages/internal/testkit/testphoto"
)

// TestConsoleResembling: in headless Chromium, an image's page in the
// console lists the published images that resemble it (a re-encoded and
// a half-size copy, hashed after their PUTs while nothing is blocked) with
// their distances, and not an unrelated picture; "Take down all" with a
// reason and "block" takes the image and both copies down, each with its
// own audit record, and shows the audit log with one banner; their paths
// are 404, the unrelated picture is still served, and another re-encoded
// copy is refused. axe-core checks both pages.
func TestConsoleResembling(t *testing.T) {
	data := t.TempDir()
	runCLI(t, consoleAdminPW+"\n", "user", "add", "--admin", "--data", data, "--email", consoleAdmin, "--password-stdin")
	// The page loads four thumbnails at once, each a variant made on its
	// first request: more than the 2 one client has made at once, the
	// others wait their turn (TestVariantQueue).
	srv := startServer(t, data)
	c := http.DefaultClient
	photo := testphoto.Natural(800, 600, 41)
	path := publish(t, c, srv.base, jpegBytes(t, photo, 90), "image/jpeg")
	id := strings.TrimSuffix(strings.TrimPrefix(path, "/hc/user_images/"), ".jpeg")
	copies := []string{
		publish(t, c, srv.base, jpegBytes(t, photo, 50), "image/jpeg"),
		publish(t, c, srv.base, jpegBytes(t, scaled(photo, 400, 300), 90), "image/jpeg"),
	}
	unrelated := publish(t, c, srv.base, jpegBytes(t, testphoto.Natural(800, 600, 42), 90), "image/jpeg")

	ctx := newBrowser(t, t.TempDir())
	pageErrors := listenPageErrors(t, ctx)
	visit(t, ctx, srv, "/admin/login?next=/admin/images/"+id)
	fillIn(t, ctx, "Email", consoleAdmin)
	fillIn(t, ctx, "Password", consoleAdminPW)
	press(t, ctx, "main", "Sign in")

	// The copies are hashed in the background after their PUTs: the page
	// lists both once they are.
	cookie := signIn(t, srv, consoleAdmin, consoleAdminPW)
	waitFor(t, "the image page to list both copies", func() bool {
		return strings.Count(consolePage(t, srv, "/admin/images/"+id, cookie), `class="distance"`) == 2
	})
	visit(t, ctx, srv, "/admin/images/"+id)
	if n := evalJS[int](t, ctx, `document.querySelectorAll('ul[aria-label="Resembling images"] li').length`); n != 2 {
		t.Fatalf("image page: %d resembling images listed, want the 2 copies", n)
	}
	section := evalJS[string](t, ctx, `document.querySelector('ul[aria-label="Resembling images"]').innerText`)
	for _, p := range copies {
		copyID := strings.TrimSuffix(strings.TrimPrefix(p, "/hc/user_images/"), ".jpeg")
		if !evalJS[bool](t, ctx, fmt.Sprintf(`!!document.querySelector('ul[aria-label="Resembling images"] a[href="/admin/images/%s"]')`, copyID)) {
			t.Errorf("resembling images: no link to the copy %s", copyID)
		}
	}
	if strings.Contains(evalJS[string](t, ctx, `document.querySelector('ul[aria-label="Resembling images"]').innerHTML`), strings.TrimSuffix(strings.TrimPrefix(unrelated, "/hc/user_images/"), ".jpeg")) {
		t.Errorf("resembling images: the unrelated picture %s is listed", unrelated)
	}
	distances := regexp.MustCompile(`Distance (\d+)`).FindAllStringSubmatch(section, -1)
	if len(distances) != 2 {
		t.Errorf("resembling images: got %q, want each with its distance", section)
	}
	for _, d := range distances {
		if n, _ := strconv.Atoi(d[1]); n > 31 {
			t.Errorf("resembling images: distance %d, want at most 31", n)
		}
	}
	checkAccessible(t, ctx, "the image page with resembling images")
	saveScreenshots(t, ctx, "console-resembling")

	const form = `form[action$="/takedown-resembling"]`
	fillIn(t, ctx, "Reason for taking them all down", "one campaign, three files")
	if !evalJS[bool](t, ctx, fmt.Sprintf(`(() => { const b = document.querySelector(%q + ' input[name=block]'); b.click(); return b.checked; })()`, form)) {
		t.Fatal("no block checkbox in the Take down all form")
	}
	press(t, ctx, form, "Take down all")
	if p := evalJS[string](t, ctx, "location.pathname"); p != "/admin/log" {
		t.Errorf("after Take down all: at %s, want the audit log", p)
	}
	if n := evalJS[int](t, ctx, `document.querySelectorAll('main .flash, main [role=status]').length`); n != 1 {
		t.Errorf("after Take down all: got %d banners, want one", n)
	}
	text := pageText(t, ctx)
	for _, p := range append([]string{path}, copies...) {
		if !strings.Contains(text, p) {
			t.Errorf("audit log: no takedown of %s", p)
		}
	}
	if n := strings.Count(text, "one campaign, three files"); n != 3 || !strings.Contains(text, "take down and block") {
		t.Errorf("audit log: the reason %d times, want 3 records of take down and block; got %q", n, text)
	}
	checkAccessible(t, ctx, "the audit log after Take down all")
	saveScreenshots(t, ctx, "console-resembling-log")

	for _, p := range append([]string{path}, copies...) {
		if _, err := fetch(c, srv.base, p); statusOf(err) != http.StatusNotFound {
			t.Errorf("GET %s after Take down all: got %v, want 404", p, err)
		}
	}
	if _, err := fetch(c, srv.base, unrelated); err != nil {
		t.Errorf("GET %s, the unrelated picture: got %v, want it served", unrelated, err)
	}
	err := put(c, srv.base, jpegBytes(t, photo, 70), "image/jpeg")
	if e := (*errStatus)(nil); !errors.As(err, &e) || errorCode(e.body) != "BlockedContent" {
		t.Errorf("another re-encoded copy after the blocking Take down all: got %v, want 422 BlockedContent", err)
	}
	for _, e := range pageErrors() {
		t.Errorf("page error: %s", e)
	}
}
