// Package doclinks holds the test that keeps the documentation's links
// working: every relative link in the repository's Markdown files names a
// file that exists and, with a #fragment into a Markdown file, a heading of
// that file (as GitHub makes anchors of headings).
package doclinks

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"unicode"
)

// TestMarkdownLinks checks every [text](target) link outside code blocks
// of every .md file of the repository but http(s) and mailto ones.
func TestMarkdownLinks(t *testing.T) {
	root := filepath.Join("..", "..")
	docs := map[string]string{} // path → text outside code blocks
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (strings.HasPrefix(d.Name(), ".") && path != root || d.Name() == "node_modules" || d.Name() == "testdata") {
			return filepath.SkipDir
		}
		if !d.IsDir() && strings.HasSuffix(path, ".md") {
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			docs[filepath.Clean(path)] = proseOf(string(b))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(docs) < 5 {
		t.Fatalf("found only %d Markdown files under %s", len(docs), root)
	}
	link := regexp.MustCompile(`\]\(([^)\s]+)\)`)
	for path, text := range docs {
		for _, m := range link.FindAllStringSubmatch(text, -1) {
			if err := check(path, m[1], docs); err != "" {
				t.Errorf("%s: link %s: %s", strings.TrimPrefix(path, root+string(filepath.Separator)), m[1], err)
			}
		}
	}
}

// check returns what is wrong with the link target in the document path,
// or "".
func check(path, target string, docs map[string]string) string {
	if strings.HasPrefix(target, "http://") || strings.HasPrefix(target, "https://") || strings.HasPrefix(target, "mailto:") {
		return ""
	}
	file, fragment, _ := strings.Cut(target, "#")
	dest := path
	if file != "" {
		dest = filepath.Clean(filepath.Join(filepath.Dir(path), file))
		if _, err := os.Stat(dest); err != nil {
			return "no such file"
		}
	}
	if fragment == "" || !strings.HasSuffix(dest, ".md") {
		return ""
	}
	if !anchors(docs[dest])[fragment] {
		return "no heading makes the anchor #" + fragment
	}
	return ""
}

// proseOf returns the text of a Markdown document without its fenced code
// blocks.
func proseOf(doc string) string {
	var b strings.Builder
	fenced := false
	for _, line := range strings.Split(doc, "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "```") {
			fenced = !fenced
			continue
		}
		if !fenced {
			b.WriteString(line + "\n")
		}
	}
	return b.String()
}

// anchors returns the anchors GitHub makes of a document's headings:
// lower case, letters, digits, '-' and '_' kept, spaces made '-', the rest
// dropped; a repeated one gets -1, -2, …
func anchors(prose string) map[string]bool {
	heading := regexp.MustCompile(`(?m)^#{1,6}\s+(.*?)\s*#*\s*$`)
	linkText := regexp.MustCompile(`\[([^\]]*)\]\([^)]*\)`)
	seen := map[string]int{}
	out := map[string]bool{}
	for _, m := range heading.FindAllStringSubmatch(prose, -1) {
		var b strings.Builder
		for _, r := range strings.ToLower(linkText.ReplaceAllString(m[1], "$1")) {
			switch {
			case unicode.IsLetter(r) || unicode.IsDigit(r) || r == '-' || r == '_':
				b.WriteRune(r)
			case r == ' ':
				b.WriteByte('-')
			}
		}
		a := b.String()
		if n := seen[a]; n > 0 {
			out[a+"-"+strconv.Itoa(n)] = true
		} else {
			out[a] = true
		}
		seen[a]++
	}
	for _, m := range regexp.MustCompile(`<a (?:id|name)="([^"]+)"`).FindAllStringSubmatch(prose, -1) {
		out[m[1]] = true
	}
	return out
}

// TestAnchors checks the anchors made of headings against GitHub's.
func TestAnchors(t *testing.T) {
	got := anchors("# Scale-out deployment\n## 10. Users of the host app (JWT)\n### `serve`\n### [The picture's size](#x)\n## Notes\n## Notes\n<a id=\"kept\"></a>\n")
	for _, want := range []string{"scale-out-deployment", "10-users-of-the-host-app-jwt", "serve", "the-pictures-size", "notes", "notes-1", "kept"} {
		if !got[want] {
			t.Errorf("no anchor %q in %v", want, got)
		}
	}
	if err := check("README.md", "README.md#no-such-heading", map[string]string{"README.md": "# Title\n"}); err == "" {
		t.Error("a link to a missing heading passed")
	}
}
