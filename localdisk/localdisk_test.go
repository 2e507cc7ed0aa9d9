package localdisk

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"testing/iotest"
	"time"

	"userimages/core"
	"userimages/storetest"
)

func TestBlobStore(t *testing.T) {
	t.Run("unnamed temp files", func(t *testing.T) {
		if !open(t, t.TempDir()).unnamedTemp {
			t.Skip("this file system or system has no O_TMPFILE; the named case covers it")
		}
		storetest.TestBlobStore(t, func(t *testing.T) core.BlobStore { return open(t, t.TempDir()) })
	})
	t.Run("named temp files", func(t *testing.T) {
		storetest.TestBlobStore(t, func(t *testing.T) core.BlobStore { return openNamed(t, t.TempDir()) })
	})
}

// openNamed opens a Store that writes through named temporary files, as on
// systems without O_TMPFILE.
func openNamed(t *testing.T, dir string) *Store {
	s := open(t, dir)
	s.unnamedTemp = false
	return s
}

// TestPutLeavesNoTempFiles: whether a Put stores, is refused or fails, the
// temporary directory ends empty, with either kind of temporary file.
func TestPutLeavesNoTempFiles(t *testing.T) {
	for name, openStore := range map[string]func(*testing.T, string) *Store{"default": open, "named": openNamed} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			s := openStore(t, dir)
			key := "images/Zq_-AAAAAAAAAAAAAAAAAA"
			data := bytes.Repeat([]byte("0123456789"), 20_000) // over one copy buffer
			put(t, s, key, data)
			if err := s.Put(t.Context(), key, bytes.NewReader([]byte("other"))); !errors.Is(err, core.ErrExist) {
				t.Errorf("Put over a key: got %v, want ErrExist", err)
			}
			broken := errors.New("connection reset")
			if err := s.Put(t.Context(), "staging/01HZX3AAAAAAAAAAAAAAAAAAAA", io.MultiReader(bytes.NewReader(data), iotest.ErrReader(broken))); !errors.Is(err, broken) {
				t.Errorf("Put of a failing reader: got %v, want it wrapped", err)
			}
			if got := read(t, s, key); !bytes.Equal(got, data) {
				t.Errorf("Open(%s): got %d bytes, want the %d put", key, len(got), len(data))
			}
			if got := keys(t, s); !slices.Equal(got, []string{key}) {
				t.Errorf("List: got %q, want only %s", got, key)
			}
			if entries, err := os.ReadDir(filepath.Join(dir, tmpDir)); err != nil || len(entries) != 0 {
				t.Errorf("temp dir: got %v, %v; want it empty", entries, err)
			}
		})
	}
}

func open(t *testing.T, dir string) *Store {
	t.Helper()
	s, err := Open(dir)
	if err != nil {
		t.Fatalf("Open(%s): got error %v, want nil", dir, err)
	}
	return s
}

func put(t *testing.T, s *Store, key string, data []byte) {
	t.Helper()
	if err := s.Put(t.Context(), key, bytes.NewReader(data)); err != nil {
		t.Fatalf("Put(%s): got error %v, want nil", key, err)
	}
}

func read(t *testing.T, s *Store, key string) []byte {
	t.Helper()
	b, err := s.Open(t.Context(), key)
	if err != nil {
		t.Fatalf("Open(%s): got error %v, want nil", key, err)
	}
	defer b.Close()
	data, err := io.ReadAll(b)
	if err != nil {
		t.Fatalf("Open(%s): read: got error %v, want nil", key, err)
	}
	return data
}

func keys(t *testing.T, s *Store) []string {
	t.Helper()
	var out []string
	err := s.List(t.Context(), "", func(key string, _ time.Time) error {
		out = append(out, key)
		return nil
	})
	if err != nil {
		t.Fatalf("List: got error %v, want nil", err)
	}
	slices.Sort(out)
	return out
}

// TestPartialWrites checks that files left in the temporary directory by a
// crash mid-write are never keys, and that Open removes them once stale but
// leaves a write in progress (of another process) alone.
func TestPartialWrites(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	s := open(t, dir)
	key := "staging/01HZX3AAAAAAAAAAAAAAAAAAAA"
	put(t, s, key, []byte("complete"))

	tmp := filepath.Join(dir, tmpDir)
	leftovers := []string{filepath.Join(tmp, "put-123456"), filepath.Join(tmp, "x"), filepath.Join(tmp, "staging", "01", "x")}
	for _, p := range leftovers {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("partial"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	old := time.Now().Add(-2 * staleTemp)
	for _, p := range append(leftovers, filepath.Join(tmp, "staging")) {
		if err := os.Chtimes(p, old, old); err != nil {
			t.Fatal(err)
		}
	}
	inProgress := filepath.Join(tmp, "put-in-progress")
	if err := os.WriteFile(inProgress, []byte("half"), 0o600); err != nil {
		t.Fatal(err)
	}
	check := func(what string, s *Store) {
		t.Helper()
		if got, want := keys(t, s), []string{key}; !slices.Equal(got, want) {
			t.Errorf("%s: List: got %q, want %q", what, got, want)
		}
		for _, k := range []string{".tmp/put-123456", ".tmp/x", tmpDir, "put-123456", "x"} {
			if b, err := s.Open(ctx, k); err == nil {
				b.Close()
				t.Errorf("%s: Open(%q): got nil, want an error", what, k)
			}
		}
		if got := read(t, s, key); string(got) != "complete" {
			t.Errorf("%s: Open(%s): got %q, want %q", what, key, got, "complete")
		}
	}
	check("before reopening", s)

	s = open(t, dir)
	check("after reopening", s)
	entries, err := os.ReadDir(tmp)
	if err != nil {
		t.Fatalf("ReadDir(%s): got error %v, want nil", tmp, err)
	}
	if len(entries) != 1 || entries[0].Name() != filepath.Base(inProgress) {
		t.Errorf("ReadDir(%s) after reopening: got %v, want only the write in progress", tmp, entries)
	}
	put(t, s, "images/Zq_-AAAAAAAAAAAAAAAAAA", []byte("new"))
}

// TestInvalidKeysStayInside checks that invalid keys touch nothing next to
// the store's directory.
func TestInvalidKeysStayInside(t *testing.T) {
	ctx := t.Context()
	parent := t.TempDir()
	dir := filepath.Join(parent, "store")
	s := open(t, dir)
	for _, name := range []string{"x", "abs", "b"} {
		if err := os.WriteFile(filepath.Join(parent, name), []byte("outside"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	put(t, s, "x", []byte("inside"))
	for _, key := range storetest.InvalidKeys {
		if err := s.Put(ctx, key, bytes.NewReader([]byte("evil"))); err == nil {
			t.Errorf("Put(%q): got nil, want an error", key)
		}
		if err := s.Delete(ctx, key); err == nil {
			t.Errorf("Delete(%q): got nil, want an error", key)
		}
	}
	entries, err := os.ReadDir(parent)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if want := []string{"abs", "b", "store", "x"}; !slices.Equal(names, want) {
		t.Errorf("next to the store: got %q, want %q", names, want)
	}
	for _, name := range []string{"x", "abs", "b"} {
		if got, err := os.ReadFile(filepath.Join(parent, name)); err != nil || string(got) != "outside" {
			t.Errorf("ReadFile(%s): got %q, %v, want %q, nil", name, got, err, "outside")
		}
	}
	if got := keys(t, s); !slices.Equal(got, []string{"x"}) {
		t.Errorf("List: got %q, want [x]", got)
	}
	tmp, err := os.ReadDir(filepath.Join(dir, tmpDir))
	if err != nil || len(tmp) != 0 {
		t.Errorf("ReadDir(%s): got %d entries, %v, want none, nil", tmpDir, len(tmp), err)
	}
}
