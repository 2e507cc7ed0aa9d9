package main

import (
	"os"
	"strings"
	"testing"
)

// TestHashLine: `userimages hash` prints what Meta's pdq-photo-hasher
// prints for a PNG (pdq/testdata/goldens.csv holds its output), with and
// without --dihedral.
func TestHashLine(t *testing.T) {
	const file = "../../pdq/testdata/shapes-300x200.png"
	goldens, err := os.ReadFile("../../pdq/testdata/goldens.csv")
	if err != nil {
		t.Fatal(err)
	}
	var want string
	for line := range strings.Lines(string(goldens)) {
		if strings.HasSuffix(line, ",testdata/shapes-300x200.png\n") {
			want = strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "testdata/shapes-300x200.png") + file
		}
	}
	if want == "" {
		t.Fatal("goldens.csv has no shapes-300x200.png")
	}
	got, err := hashLine(file, true)
	if err != nil || got != want {
		t.Errorf("--dihedral: got %q, %v\nwant %q", got, err, want)
	}
	fields := strings.Split(want, ",")
	want = fields[0] + "," + fields[8] + "," + file
	if got, err := hashLine(file, false); err != nil || got != want {
		t.Errorf("got %q, %v\nwant %q", got, err, want)
	}
	if _, err := hashLine("hash_test.go", false); err == nil || !strings.Contains(err.Error(), "not a JPEG, PNG, GIF or WebP") {
		t.Errorf("a Go file: got %v", err)
	}
}
