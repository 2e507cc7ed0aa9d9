package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// checkAccessible runs axe-core in the page as it is now and fails t with
// every WCAG 2.1 A/AA violation axe reports; what names the page's state
// in the failure. axe-core is the npm package scripts/test.sh installs
// (pinned) and names in USERIMAGES_TEST_AXE; without it the check skips t,
// or fails it under CI.
func checkAccessible(t *testing.T, ctx context.Context, what string) {
	t.Helper()
	path := os.Getenv("USERIMAGES_TEST_AXE")
	if path == "" {
		if os.Getenv("CI") == "" {
			t.Skip("no axe-core: USERIMAGES_TEST_AXE is not set (bash scripts/test.sh installs it)")
		}
		t.Fatal("no axe-core in CI: USERIMAGES_TEST_AXE is not set, which scripts/test.sh does")
	}
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("axe-core: %v", err)
	}
	// axe.run answers a promise; its violations are reduced to what a
	// person fixing them needs: the rule, its help text and the elements.
	const run = `axe.run(document, {runOnly: {type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}})
		.then(r => JSON.stringify(r.violations.map(v => ({id: v.id, help: v.help, nodes: v.nodes.map(n => n.target.join(" "))}))))`
	inBrowser(t, ctx, "load axe-core", chromedp.Evaluate[any](string(src)))
	out := inBrowser(t, ctx, "run axe-core on "+what, chromedp.Evaluate[string](run, chromedp.EvalAwaitPromise))
	var violations []struct {
		ID, Help string
		Nodes    []string
	}
	if err := json.Unmarshal([]byte(out), &violations); err != nil {
		t.Fatalf("axe-core on %s: %v in %q", what, err, out)
	}
	for _, v := range violations {
		t.Errorf("axe-core on %s: %s (%s) at %s", what, v.ID, v.Help, strings.Join(v.Nodes, ", "))
	}
}

// screenshotWidths are the viewport widths of the screenshots tests write:
// a desktop and a small phone.
var screenshotWidths = []int64{1280, 375}

// saveScreenshots writes the whole page at each of screenshotWidths to
// test-artifacts/<name>-<width>.png at the repository's root, for people to
// look at, and restores the 1280 px viewport. A page wider than the
// viewport (horizontal scrolling) fails t.
func saveScreenshots(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	dir := filepath.Join("..", "test-artifacts")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, w := range screenshotWidths {
		inBrowser(t, ctx, "resize", chromedp.EmulateViewport(w, 900))
		// Usable at this width: nothing pushes the page sideways.
		if got := inBrowser(t, ctx, "measure", chromedp.Evaluate[int64](`document.documentElement.scrollWidth`)); got > w {
			t.Errorf("%s at %d px: the page is %d px wide, want no horizontal scrolling", name, w, got)
		}
		png := inBrowser(t, ctx, "screenshot", chromedp.FullScreenshot(100))
		p := filepath.Join(dir, fmt.Sprintf("%s-%d.png", name, w))
		if err := os.WriteFile(p, png, 0o644); err != nil {
			t.Fatal(err)
		}
		abs, _ := filepath.Abs(p)
		t.Logf("screenshot: %s", (&url.URL{Scheme: "file", Path: abs}).String())
	}
	inBrowser(t, ctx, "resize", chromedp.EmulateViewport(screenshotWidths[0], 1000))
}
