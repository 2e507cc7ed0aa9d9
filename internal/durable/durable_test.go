package durable

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"
)

// TestWriteFile: WriteFile replaces, WriteNew never does, both leave the
// file whole with mode 0600 and no temporary file beside it, and a failed
// write leaves the old file as it was.
func TestWriteFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "secret")
	if err := WriteNew(path, strings.NewReader("first\n")); err != nil {
		t.Fatal(err)
	}
	if err := WriteNew(path, strings.NewReader("second\n")); !errors.Is(err, fs.ErrExist) {
		t.Errorf("WriteNew over an existing file: got %v, want fs.ErrExist", err)
	}
	checkFile(t, path, "first\n")
	if err := WriteFile(path, strings.NewReader("third\n")); err != nil {
		t.Fatal(err)
	}
	checkFile(t, path, "third\n")
	failing := io.MultiReader(strings.NewReader("par"), iotest.ErrReader(errors.New("disk on fire")))
	if err := WriteFile(path, failing); err == nil || !strings.Contains(err.Error(), "disk on fire") {
		t.Errorf("WriteFile of a failing reader: got %v, want its error", err)
	}
	if err := WriteNew(filepath.Join(dir, "other"), failing); err == nil {
		t.Errorf("WriteNew of a failing reader: got no error")
	}
	checkFile(t, path, "third\n")
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("directory holds %v, want only the file", entries)
	}
}

// TestTemp: a temporary file, named or unnamed, gets its name only when
// linked, and Discard leaves nothing behind.
func TestTemp(t *testing.T) {
	for _, unnamed := range []bool{false, true} {
		dir := t.TempDir()
		if unnamed && !CanLinkUnnamed(dir) {
			t.Logf("no unnamed temporary files here")
			continue
		}
		tmp, err := CreateTemp(dir, "put-*", unnamed)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tmp.WriteString("bytes"); err != nil {
			t.Fatal(err)
		}
		dst := filepath.Join(dir, "dst")
		if err := tmp.Link(dst); err != nil {
			t.Fatal(err)
		}
		tmp.Discard()
		checkFile(t, dst, "bytes")
		discarded, err := CreateTemp(dir, "put-*", unnamed)
		if err != nil {
			t.Fatal(err)
		}
		discarded.Discard()
		if entries, _ := os.ReadDir(dir); len(entries) != 1 {
			t.Errorf("unnamed %v: directory holds %v, want only dst", unnamed, entries)
		}
		if unnamed {
			other, _ := CreateTemp(dir, "put-*", true)
			if err := other.Rename(dst); err == nil {
				t.Errorf("Rename of an unnamed file: got no error")
			}
			other.Discard()
		}
	}
}

func checkFile(t *testing.T, path, want string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil || string(b) != want {
		t.Errorf("%s: got %q, %v; want %q", path, b, err, want)
	}
	if info, err := os.Stat(path); err == nil && info.Mode().Perm() != 0o600 {
		t.Errorf("%s: mode %v, want 0600", path, info.Mode().Perm())
	}
}
