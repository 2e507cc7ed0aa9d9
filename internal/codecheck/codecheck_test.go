// Package codecheck holds the test that keeps every function small enough
// to hold in one's head: at most maxComplexity (cyclomatic complexity,
// counted as gocyclo counts it) and at most maxLines lines, in the non-test
// Go files of the repository (client/ included).
package codecheck

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// The bounds of a function.
const (
	maxComplexity = 25
	maxLines      = 90
)

// skipped are the directories, relative to the repository's root, not
// checked: the fork of the standard library's image/jpeg, kept as close to
// its upstream as can be so that its changes stay readable as a diff.
var skipped = []string{"internal/jpegscale"}

// allowed are the functions that exceed the bounds today, while they are
// being split (issue 21). The list must shrink to empty: a function on it
// that no longer exceeds the bounds, or no longer exists, fails the test,
// so that it is taken off when it is fixed; nothing may be added.
var allowed = []string{}

// function is one function's measures.
type function struct {
	name       string // the package's directory, a dot, the function's name as gocyclo prints it
	pos        string // file:line
	lines      int
	complexity int
}

func (f function) String() string {
	return fmt.Sprintf("%s (%s): %d lines, complexity %d", f.name, f.pos, f.lines, f.complexity)
}

func (f function) tooBig() bool { return f.lines > maxLines || f.complexity > maxComplexity }

// complexity is the cyclomatic complexity of a function, as gocyclo counts
// it: 1, plus one per if, for, range, case clause other than default, comm
// clause other than default, && and ||. Function literals count in the
// function that holds them.
func complexity(fn ast.Node) int {
	c := 1
	ast.Inspect(fn, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.IfStmt, *ast.ForStmt, *ast.RangeStmt:
			c++
		case *ast.CaseClause:
			if n.List != nil {
				c++
			}
		case *ast.CommClause:
			if n.Comm != nil {
				c++
			}
		case *ast.BinaryExpr:
			if n.Op == token.LAND || n.Op == token.LOR {
				c++
			}
		}
		return true
	})
	return c
}

// funcName is a function's name as gocyclo prints it: f, (T).m or (*T).m.
func funcName(fn *ast.FuncDecl) string {
	if fn.Recv == nil || len(fn.Recv.List) == 0 {
		return fn.Name.Name
	}
	t := fn.Recv.List[0].Type
	star := ""
	if s, ok := t.(*ast.StarExpr); ok {
		star, t = "*", s.X
	}
	switch g := t.(type) {
	case *ast.IndexExpr:
		t = g.X
	case *ast.IndexListExpr:
		t = g.X
	}
	if id, ok := t.(*ast.Ident); ok {
		return "(" + star + id.Name + ")." + fn.Name.Name
	}
	return fn.Name.Name
}

// measureFile returns the functions of one file: its function
// declarations, and the function literals outside them (a package
// variable's), named by their place.
func measureFile(fset *token.FileSet, f *ast.File, dir, rel string) []function {
	var fns []function
	measure := func(name string, n ast.Node) {
		start, end := fset.Position(n.Pos()), fset.Position(n.End())
		fns = append(fns, function{
			name:       dir + "." + name,
			pos:        fmt.Sprintf("%s:%d", rel, start.Line),
			lines:      end.Line - start.Line + 1,
			complexity: complexity(n),
		})
	}
	for _, d := range f.Decls {
		if fn, ok := d.(*ast.FuncDecl); ok {
			measure(funcName(fn), fn)
			continue
		}
		ast.Inspect(d, func(n ast.Node) bool {
			if lit, ok := n.(*ast.FuncLit); ok {
				measure(fmt.Sprintf("func literal at line %d", fset.Position(lit.Pos()).Line), lit)
				return false
			}
			return true
		})
	}
	return fns
}

// measure returns the functions of the non-test, non-generated Go files
// under root, except those under the skipped directories.
func measure(t *testing.T, root string, skipped []string) []function {
	t.Helper()
	var fns []function
	fset := token.NewFileSet()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, path)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			name := d.Name()
			if path != root && (strings.HasPrefix(name, ".") || name == "testdata" || name == "node_modules" || slices.Contains(skipped, rel)) {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.ParseComments|parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		if ast.IsGenerated(f) {
			return nil
		}
		dir := filepath.ToSlash(filepath.Dir(rel))
		if dir == "." {
			dir = f.Name.Name
		}
		fns = append(fns, measureFile(fset, f, dir, rel)...)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return fns
}

// offences lists, against the allowlist allowed, the functions over the
// bounds that are not allowed and the allowed ones that are not (any more)
// over them.
func offences(fns []function, allowed []string) (tooBig []function, fixed []string) {
	over := map[string]bool{}
	for _, f := range fns {
		if !f.tooBig() {
			continue
		}
		over[f.name] = true
		if !slices.Contains(allowed, f.name) {
			tooBig = append(tooBig, f)
		}
	}
	for _, name := range allowed {
		if !over[name] {
			fixed = append(fixed, name)
		}
	}
	return tooBig, fixed
}

// TestFunctionsSmall fails for each function over the bounds, and for each
// allowed function no longer over them.
func TestFunctionsSmall(t *testing.T) {
	fns := measure(t, "../..", skipped)
	for _, dir := range []string{"imagesafe.", "core.", "client/api."} {
		if !slices.ContainsFunc(fns, func(f function) bool { return strings.HasPrefix(f.name, dir) }) {
			t.Fatalf("measured no function of %s (is the walk broken?)", strings.TrimSuffix(dir, "."))
		}
	}
	tooBig, fixed := offences(fns, allowed)
	for _, f := range tooBig {
		t.Errorf("%v: want at most %d lines and complexity %d; split it", f, maxLines, maxComplexity)
	}
	for _, name := range fixed {
		t.Errorf("%s is allowed to exceed the bounds but does not (any more): take it off the list", name)
	}
	if testing.Verbose() {
		slices.SortFunc(fns, func(a, b function) int { return b.complexity - a.complexity })
		for _, f := range fns[:10] {
			t.Logf("most complex: %v", f)
		}
		slices.SortFunc(fns, func(a, b function) int { return b.lines - a.lines })
		for _, f := range fns[:10] {
			t.Logf("longest: %v", f)
		}
	}
}

// TestCheckerCounts checks the checker on small sources: a function just
// over each bound is found, one at the bound is not, and an allowed
// function that is small is reported as fixed.
func TestCheckerCounts(t *testing.T) {
	// ifs returns a function of complexity 1+n: n ifs, each with one line.
	ifs := func(name string, n int) string {
		return "func " + name + "(x int) {\n" + strings.Repeat("\tif x > 0 {\n\t}\n", n) + "}\n"
	}
	// long returns a function of n lines (its braces included), complexity 1.
	long := func(name string, n int) string {
		return "func " + name + "() {\n" + strings.Repeat("\t_ = 0\n", n-2) + "}\n"
	}
	files := map[string]string{
		"a/a.go": "package a\n\n" + ifs("atBound", maxComplexity-1) + ifs("overBound", maxComplexity) + long("longAtBound", maxLines) + long("tooLong", maxLines+1),
		"a/b.go": "package a\n\ntype T struct{}\n\n" +
			// 1 + for + range + 2 cases + 1 comm clause + && + || + if = 9
			"func (*T) Mixed(c chan int, xs []int) {\n\tfor {\n\t\tfor range xs {\n\t\t}\n\t\tswitch {\n\t\tcase true, false:\n\t\tcase len(xs) > 0 && xs[0] > 0 || xs == nil:\n\t\tdefault:\n\t\t}\n\t\tselect {\n\t\tcase <-c:\n\t\tdefault:\n\t\t}\n\t\tif func() bool { return true }() {\n\t\t}\n\t}\n}\n" +
			"var v = func(x int) {\n" + strings.Repeat("\tif x > 0 {\n\t}\n", maxComplexity) + "}\n",
		"a/a_test.go": "package a\n\n" + ifs("inTest", 2*maxComplexity),
		"a/gen.go":    "// Code generated by hand. DO NOT EDIT.\n\npackage a\n\n" + ifs("generated", 2*maxComplexity),
		"fork/f.go":   "package fork\n\n" + ifs("forked", 2*maxComplexity),
	}
	dir := t.TempDir()
	for name, src := range files {
		if err := os.MkdirAll(filepath.Join(dir, filepath.Dir(name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	fns := measure(t, dir, []string{"fork"})
	got := map[string][2]int{}
	for _, f := range fns {
		got[f.name] = [2]int{f.lines, f.complexity}
	}
	want := map[string][2]int{
		"a.atBound":                 {2 + 2*(maxComplexity-1), maxComplexity},
		"a.overBound":               {2 + 2*maxComplexity, maxComplexity + 1},
		"a.longAtBound":             {maxLines, 1},
		"a.tooLong":                 {maxLines + 1, 1},
		"a.(*T).Mixed":              {17, 9},
		"a.func literal at line 22": {2 + 2*maxComplexity, maxComplexity + 1},
	}
	for name, w := range want {
		if g, ok := got[name]; !ok || g != w {
			t.Errorf("%s: got lines, complexity %v (found %v), want %v", name, g, ok, w)
		}
	}
	if len(got) != len(want) {
		t.Errorf("measured %v; want only %v (no test, generated or skipped file)", got, want)
	}
	tooBig, fixed := offences(fns, []string{"a.tooLong", "a.atBound"})
	var names []string
	for _, f := range tooBig {
		names = append(names, f.name)
	}
	slices.Sort(names)
	if want := []string{"a.func literal at line 22", "a.overBound"}; !slices.Equal(names, want) {
		t.Errorf("too big: got %v, want %v", names, want)
	}
	if want := []string{"a.atBound"}; !slices.Equal(fixed, want) {
		t.Errorf("fixed: got %v, want %v (an allowed function within the bounds)", fixed, want)
	}
}
