// Package vocab holds the test that keeps the API's vocabulary declared
// once: in github.com/userimages/userimages/client/api.
package vocab

import (
	"fmt"
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
// that spell it as a string literal, as spells says (see spellsWord and
// spellsRoute). Import paths are not literals here ("image/jpeg" the
// package is not the MIME type); struct tags are.
func spellings(t *testing.T, root string, words []string, spells func(literal, word string) bool) map[string][]string {
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
					if spells(s, w) && !seen[w] {
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

// spellsWord: the literal is the word, or has it as a quoted part (a JSON
// fragment such as {"code":"FileTooLarge"}, or a struct tag
// json:"file_size").
func spellsWord(literal, word string) bool {
	return literal == word || strings.Contains(literal, strconv.Quote(word))
}

// spellsRoute: the literal, or a quoted part of it, is the route's pattern
// ("POST /api/v2/guide/user_images") or its path, with or without another
// method ("GET /api/v2/guide/user_images"); or, for a route with a
// wildcard, the literal starts with the path up to it, as code that fills
// the wildcard spells it ("/hc/user_images/" + file).
func spellsRoute(literal, route string) bool {
	path := api.Route(route).Path()
	if spellsWord(literal, route) || spellsWord(literal, path) {
		return true
	}
	if method, rest, ok := strings.Cut(literal, " "); ok && method == strings.ToUpper(method) {
		literal = rest
	}
	stem, _, wild := strings.Cut(path, "{")
	return literal == path || wild && strings.HasPrefix(literal, stem)
}

// misplaced returns a complaint for each of words that a Go file outside
// client/api spells (found by spellings), and for each that no file of
// client/api spells (is the walk broken?).
func misplaced(kind string, words []string, found map[string][]string) []string {
	home := filepath.Join("client", "api") + string(filepath.Separator)
	var complaints []string
	for _, w := range words {
		var outside []string
		declared := false
		for _, f := range found[w] {
			if strings.HasPrefix(f, home) {
				declared = true
			} else {
				outside = append(outside, f)
			}
		}
		slices.Sort(outside)
		if len(outside) > 0 {
			complaints = append(complaints, fmt.Sprintf("%s %q: spelled in %v; want it spelled only in client/api, the others using its constant", kind, w, outside))
		}
		if !declared {
			complaints = append(complaints, fmt.Sprintf("%s %q: spelled in no file of client/api; want it declared there (is the walk broken?)", kind, w))
		}
	}
	return complaints
}

// vocabulary is what package api declares: its words (error codes, MIME
// types, request properties, the API-token user suffix) and its routes.
func vocabulary() (words, routes []string) {
	for _, c := range api.Codes() {
		words = append(words, string(c.Code))
	}
	for _, f := range api.Formats() {
		words = append(words, f.MIME)
	}
	for _, p := range api.Properties() {
		words = append(words, string(p))
	}
	words = append(words, api.APITokenUserSuffix)
	for _, r := range api.Routes() {
		routes = append(routes, string(r))
	}
	return words, routes
}

// TestVocabularySpelledOnce fails when an error code, a format's MIME
// type, a request property, the API-token user suffix or a route is
// spelled as a string literal in a non-test Go file of the repository
// outside client/api: everything else must use the constants of package
// api.
func TestVocabularySpelledOnce(t *testing.T) {
	const root = "../.."
	words, routes := vocabulary()
	complaints := misplaced("word", words, spellings(t, root, words, spellsWord))
	complaints = append(complaints, misplaced("route", routes, spellings(t, root, routes, spellsRoute))...)
	for _, c := range complaints {
		t.Error(c)
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
	found := spellings(t, dir, []string{"FileTooLarge", "image/jpeg"}, spellsWord)
	got := found["FileTooLarge"]
	slices.Sort(got)
	if want := []string{filepath.Join("a", "a.go"), filepath.Join("b", "b.go")}; !slices.Equal(got, want) {
		t.Errorf("FileTooLarge: got %v, want %v", got, want)
	}
	if got := found["image/jpeg"]; len(got) != 0 {
		t.Errorf("image/jpeg: got %v, want no file (an import path is not the MIME type)", got)
	}
}

// TestCheckerCatchesTwins checks the whole check on a tree of its own:
// routes and a property spelled outside client/api, in any of the ways
// code spells them, are each reported with every file that spells them;
// spellings inside client/api, in tests, in comments, or of longer words
// are not; and a word client/api does not spell is reported as missing.
func TestCheckerCatchesTwins(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"client/api/api.go": "package api\n\nconst (\n\tRouteClaim = \"POST /api/v2/guide/user_images\"\n\tRouteImage = \"GET /hc/user_images/{file}\"\n\tPropBrandID = \"brand_id\"\n)\n\n" +
			"type ClaimRequest struct {\n\tBrandID string `json:\"brand_id\"`\n}\n",
		// The route: its pattern, its path, and its path with another method.
		"httpapi/server.go":  "package httpapi\n\nconst patternClaim = \"POST /api/v2/guide/user_images\"\n",
		"client/client.go":   "package client\n\nfunc url(base string) string { return base + \"/api/v2/guide/user_images\" }\n",
		"console/console.go": "package console\n\nconst probe = \"GET /api/v2/guide/user_images\"\n",
		// A route with a wildcard: its path up to the wildcard, filled.
		"core/path.go": "package core\n\nfunc Path(file string) string { return \"/hc/user_images/\" + file }\n",
		// The property: a plain literal, a struct tag, a JSON fragment.
		"httpapi/decode.go":  "package httpapi\n\nfunc brand(obj map[string]string) string { return obj[\"brand_id\"] }\n",
		"cmd/bench/bench.go": "package main\n\ntype claim struct {\n\tBrand string `json:\"brand_id\"`\n}\n",
		"e2e/body.go":        "package e2e\n\nconst body = `{\"token\":\"x\",\"brand_id\":\"1\"}`\n",
		// Not spellings: tests, comments, longer words and paths.
		"httpapi/server_test.go": "package httpapi\n\nconst p = \"POST /api/v2/guide/user_images\"\nconst b = \"brand_id\"\n",
		"core/core.go": "package core\n\n// POST /api/v2/guide/user_images {\"brand_id\": …}\n" +
			"const (\n\tx = \"brand_ids\"\n\ty = \"/api/v2/guide/user_images_old\"\n\tz = \"/hc/user_images\"\n)\n",
	}
	for name, src := range files {
		if err := os.MkdirAll(filepath.Join(dir, filepath.Dir(name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	const route, image, prop = "POST /api/v2/guide/user_images", "GET /hc/user_images/{file}", "brand_id"
	routes := []string{route, image}
	got := misplaced("route", routes, spellings(t, dir, routes, spellsRoute))
	got = append(got, misplaced("word", []string{prop, "file_size"}, spellings(t, dir, []string{prop, "file_size"}, spellsWord))...)
	p := filepath.Join
	want := []string{
		fmt.Sprintf("route %q: spelled in %v; want it spelled only in client/api, the others using its constant", route,
			[]string{p("client", "client.go"), p("console", "console.go"), p("httpapi", "server.go")}),
		fmt.Sprintf("route %q: spelled in %v; want it spelled only in client/api, the others using its constant", image,
			[]string{p("core", "path.go")}),
		fmt.Sprintf("word %q: spelled in %v; want it spelled only in client/api, the others using its constant", prop,
			[]string{p("cmd", "bench", "bench.go"), p("e2e", "body.go"), p("httpapi", "decode.go")}),
		`word "file_size": spelled in no file of client/api; want it declared there (is the walk broken?)`,
	}
	if !slices.Equal(got, want) {
		t.Errorf("got complaints\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
