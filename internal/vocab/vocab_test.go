// Package vocab holds the test that keeps the API's vocabulary declared
// once: in github.com/userimages/userimages/client/api.
package vocab

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/userimages/userimages/client/api"
)

// spellings returns, for each of words, the non-test Go files under root
// that spell it as a string literal: the whole literal, or a quoted part of
// one (a JSON fragment such as {"code":"FileTooLarge"}). Import paths are
// not literals here ("image/jpeg" the package is not the MIME type).
func spellings(t *testing.T, root string, words []string) map[string][]string {
	t.Helper()
	found := map[string][]string{}
	fset := token.NewFileSet()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if name := d.Name(); path != root && (strings.HasPrefix(name, ".") || name == "testdata" || name == "node_modules") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		seen := map[string]bool{}
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.ImportSpec:
				return false
			case *ast.BasicLit:
				if n.Kind != token.STRING {
					return true
				}
				s, err := strconv.Unquote(n.Value)
				if err != nil {
					t.Errorf("%s: %v", fset.Position(n.Pos()), err)
					return true
				}
				for _, w := range words {
					if (s == w || strings.Contains(s, strconv.Quote(w))) && !seen[w] {
						seen[w] = true
						found[w] = append(found[w], rel)
					}
				}
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return found
}

// TestVocabularySpelledOnce fails when an error code or a format's MIME
// type is spelled as a string literal in more than one non-test Go file of
// the repository: everything else must use the constants of package api.
func TestVocabularySpelledOnce(t *testing.T) {
	var words []string
	for _, c := range api.Codes() {
		words = append(words, string(c.Code))
	}
	for _, f := range api.Formats() {
		words = append(words, f.MIME)
	}
	found := spellings(t, "../..", words)
	for _, w := range words {
		switch files := found[w]; {
		case len(files) == 0:
			t.Errorf("%q: spelled in no file; want it declared in client/api (is the walk broken?)", w)
		case len(files) > 1:
			t.Errorf("%q: spelled in %d files %v; want one (client/api), the others using its constant", w, len(files), files)
		}
	}
}

// TestSpellingsFindsTwins checks the checker: two files spelling the same
// code, one of them inside a JSON fragment, are both found; test files and
// import paths are not counted.
func TestSpellingsFindsTwins(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"a/a.go":      "package a\n\nconst c = \"FileTooLarge\"\n",
		"b/b.go":      "package b\n\nvar body = `{\"code\":\"FileTooLarge\"}`\n",
		"b/b_test.go": "package b\n\nconst d = \"FileTooLarge\"\n",
		"c/c.go":      "package c\n\nimport _ \"image/jpeg\"\n\nconst e = \"FileTooLargeX\"\n",
	}
	for name, src := range files {
		if err := os.MkdirAll(filepath.Join(dir, filepath.Dir(name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	found := spellings(t, dir, []string{"FileTooLarge", "image/jpeg"})
	got := found["FileTooLarge"]
	slices.Sort(got)
	if want := []string{filepath.Join("a", "a.go"), filepath.Join("b", "b.go")}; !slices.Equal(got, want) {
		t.Errorf("FileTooLarge: got %v, want %v", got, want)
	}
	if got := found["image/jpeg"]; len(got) != 0 {
		t.Errorf("image/jpeg: got %v, want no file (an import path is not the MIME type)", got)
	}
}
