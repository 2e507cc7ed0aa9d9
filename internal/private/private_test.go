package private_test

import (
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"userimages/internal/private"
)

// withUmask runs f under umask (process-wide: these tests are not parallel).
func withUmask(mask int, f func()) {
	old := syscall.Umask(mask)
	defer syscall.Umask(old)
	f()
}

func mode(t *testing.T, path string) fs.FileMode {
	t.Helper()
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return info.Mode().Perm()
}

// TestCreatedPrivate: under the loosest umask (0) and a strict one (0077),
// new directories are 0700 and new files 0600.
func TestCreatedPrivate(t *testing.T) {
	for _, mask := range []int{0, 0o077, 0o022} {
		root := t.TempDir()
		dir, file := filepath.Join(root, "a", "data"), filepath.Join(root, "a", "data", "f")
		withUmask(mask, func() {
			if err := private.MkdirAll(dir); err != nil {
				t.Fatal(err)
			}
			if err := private.CreateFile(file); err != nil {
				t.Fatal(err)
			}
		})
		if got := mode(t, dir); got != 0o700 {
			t.Errorf("umask %04o: dir got %04o, want 0700", mask, got)
		}
		if got := mode(t, file); got != 0o600 {
			t.Errorf("umask %04o: file got %04o, want 0600", mask, got)
		}
	}
}

// TestCreateFileKeepsExisting: an existing file keeps its bytes.
func TestCreateFileKeepsExisting(t *testing.T) {
	path := filepath.Join(t.TempDir(), "db")
	if err := os.WriteFile(path, []byte("data"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := private.CreateFile(path); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(path); string(b) != "data" {
		t.Errorf("got %q, want the file kept", b)
	}
}

// TestCorrect: an existing deployment's 0755 directory and 0644 files are
// made 0700 and 0600 and reported; private ones and missing ones are not.
func TestCorrect(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	os.Chmod(dir, 0o755)
	open, closed := filepath.Join(dir, "db"), filepath.Join(dir, "secret")
	os.WriteFile(open, nil, 0o644)
	os.Chmod(open, 0o644)
	os.WriteFile(closed, nil, 0o600)
	got, err := private.Correct(dir, open, closed, filepath.Join(dir, "missing"))
	if err != nil {
		t.Fatal(err)
	}
	want := []private.Correction{{Path: dir, Was: 0o755, Now: 0o700}, {Path: open, Was: 0o644, Now: 0o600}}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("got %v, want %v", got, want)
	}
	if m := mode(t, dir); m != 0o700 {
		t.Errorf("dir: got %04o, want 0700", m)
	}
	if m := mode(t, open); m != 0o600 {
		t.Errorf("db: got %04o, want 0600", m)
	}
	if again, _ := private.Correct(dir, open); len(again) != 0 {
		t.Errorf("second run: got %v, want nothing to correct", again)
	}
}
