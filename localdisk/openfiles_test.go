package localdisk

import (
	"context"
	"errors"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"userimages/core"
)

func readAll(t *testing.T, s *Store, key string) string {
	t.Helper()
	b, err := s.Open(context.Background(), key)
	if err != nil {
		t.Fatalf("open %s: %v", key, err)
	}
	defer b.Close()
	data, err := io.ReadAll(b)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// TestOpenFileCache: a blob read a second time and closed leaves its
// descriptor idle, which the next Open reuses from the start of the file; a key deleted
// through the Store or removed by another process is not served from an
// idle descriptor.
func TestOpenFileCache(t *testing.T) {
	ctx := context.Background()
	s := open(t, t.TempDir())
	for _, k := range []string{"images/a", "images/b"} {
		if err := s.Put(ctx, k, strings.NewReader("bytes of "+k)); err != nil {
			t.Fatal(err)
		}
	}
	if got := readAll(t, s, "images/a"); got != "bytes of images/a" {
		t.Fatalf("got %q", got)
	}
	if n := s.open.count(); n != 0 {
		t.Fatalf("idle descriptors after one read: %d, want 0 (kept from the second)", n)
	}
	readAll(t, s, "images/a")
	if n := s.open.count(); n != 1 {
		t.Fatalf("idle descriptors after two reads: %d, want 1", n)
	}
	// Read twice more: the same descriptor, rewound.
	for range 2 {
		if got := readAll(t, s, "images/a"); got != "bytes of images/a" {
			t.Fatalf("reused descriptor: got %q", got)
		}
	}
	if n := s.open.count(); n != 1 {
		t.Fatalf("idle descriptors: %d, want 1", n)
	}
	// Two readers at once: two descriptors.
	b1, _ := s.Open(ctx, "images/a")
	b2, _ := s.Open(ctx, "images/a")
	if b1.(*leased).osFile == b2.(*leased).osFile {
		t.Fatal("two readers at once share a descriptor")
	}
	b1.Close()
	b2.Close()
	if err := b2.Close(); !errors.Is(err, os.ErrClosed) {
		t.Fatalf("second Close: %v, want os.ErrClosed", err)
	}
	if n := s.open.count(); n != 2 {
		t.Fatalf("idle descriptors: %d, want 2", n)
	}
	// Deleted through the Store, with a reader out.
	out, _ := s.Open(ctx, "images/a")
	if err := s.Delete(ctx, "images/a"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Open(ctx, "images/a"); !errors.Is(err, core.ErrNotFound) {
		t.Fatalf("open after Delete: %v, want ErrNotFound", err)
	}
	out.Close()
	if n := s.open.count(); n != 0 {
		t.Fatalf("idle descriptors of a deleted key: %d, want 0", n)
	}
	// Removed by another process: the idle descriptor is not used.
	readAll(t, s, "images/b")
	readAll(t, s, "images/b")
	if n := s.open.count(); n != 1 {
		t.Fatalf("idle descriptors of images/b: %d, want 1", n)
	}
	p, _ := s.path("images/b")
	if err := os.Remove(p); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Open(ctx, "images/b"); !errors.Is(err, core.ErrNotFound) {
		t.Fatalf("open after another process removed the file: %v, want ErrNotFound", err)
	}
	if n := s.open.count(); n != 0 {
		t.Fatalf("idle descriptors of a removed file: %d, want 0", n)
	}
}

// TestOpenFileCacheIdle: descriptors idle for openFilesIdle are closed.
func TestOpenFileCacheIdle(t *testing.T) {
	ctx := context.Background()
	s := open(t, t.TempDir())
	now := time.Now()
	s.open.now = func() time.Time { return now }
	if err := s.Put(ctx, "images/a", strings.NewReader("x")); err != nil {
		t.Fatal(err)
	}
	readAll(t, s, "images/a")
	readAll(t, s, "images/a")
	s.open.closeIdle()
	if n := s.open.count(); n != 1 {
		t.Fatalf("idle descriptors after a sweep: %d, want 1 (not idle long enough)", n)
	}
	now = now.Add(openFilesIdle + time.Second)
	s.open.closeIdle()
	if n := s.open.count(); n != 0 || len(s.open.byKey) != 0 {
		t.Fatalf("after openFilesIdle: %d descriptors, %d entries, want none", n, len(s.open.byKey))
	}
}

// TestOpenFileCacheIdleRealTime: with the real clock, a server left idle
// ends with no descriptor kept and no key remembered.
func TestOpenFileCacheIdleRealTime(t *testing.T) {
	ctx := context.Background()
	s := open(t, t.TempDir())
	if err := s.Put(ctx, "images/a", strings.NewReader("x")); err != nil {
		t.Fatal(err)
	}
	readAll(t, s, "images/a")
	readAll(t, s, "images/a")
	if n := s.open.count(); n != 1 {
		t.Fatalf("idle descriptors: %d, want 1", n)
	}
	// Within twice openFilesIdle; waited for longer, as a loaded machine
	// may run the timer late.
	for deadline := time.Now().Add(5 * openFilesIdle); ; time.Sleep(100 * time.Millisecond) {
		s.open.mu.Lock()
		n, keys := s.open.idle, len(s.open.byKey)
		s.open.mu.Unlock()
		if n == 0 && keys == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %v idle: %d descriptors, %d keys, want none", 5*openFilesIdle, n, keys)
		}
	}
}

// TestOpenFileCacheDeleteRace: two reads that opened a file before a
// Delete, but count their open after it (so that their descriptors are
// kept idle under a new entry), never make a later Open serve the deleted
// file: not when nothing is stored under the key, nor when other bytes
// are stored under it again.
func TestOpenFileCacheDeleteRace(t *testing.T) {
	ctx := context.Background()
	s := open(t, t.TempDir())
	if err := s.Put(ctx, "images/a", strings.NewReader("old bytes")); err != nil {
		t.Fatal(err)
	}
	p, _ := s.path("images/a")
	var files []*os.File
	for range 2 { // opened, not yet counted
		f, err := openFile(p)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	if err := s.Delete(ctx, "images/a"); err != nil {
		t.Fatal(err)
	}
	var entries []*openEntry
	for range files {
		entries = append(entries, s.open.opened("images/a"))
	}
	for i, f := range files {
		if err := s.open.give("images/a", entries[i], f); err != nil {
			t.Fatal(err)
		}
	}
	if n := s.open.count(); n != 2 {
		t.Fatalf("idle descriptors of the deleted file: %d; the race this test is about keeps 2", n)
	}
	if _, err := s.Open(ctx, "images/a"); !errors.Is(err, core.ErrNotFound) {
		t.Fatalf("open after Delete, descriptors of the deleted file idle: %v, want ErrNotFound", err)
	}
	if n := s.open.count(); n != 0 {
		t.Errorf("idle descriptors after the open that found the file gone: %d, want 0", n)
	}

	// Again, then the key stored anew: the new bytes, never the old.
	if err := s.Put(ctx, "images/a", strings.NewReader("old bytes")); err != nil {
		t.Fatal(err)
	}
	f, err := openFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, "images/a"); err != nil {
		t.Fatal(err)
	}
	e := s.open.opened("images/a")
	s.open.opened("images/a")
	if err := s.open.give("images/a", e, f); err != nil {
		t.Fatal(err)
	}
	if err := s.Put(ctx, "images/a", strings.NewReader("new bytes")); err != nil {
		t.Fatal(err)
	}
	if got := readAll(t, s, "images/a"); got != "new bytes" {
		t.Errorf("read after the key was deleted and stored anew: %q, want the new bytes", got)
	}
}
