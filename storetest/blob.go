package storetest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"testing/iotest"
	"time"

	"userimages/core"
)

// TestBlobStore checks that the stores open returns keep the contract of
// core.BlobStore. open must return a fresh, empty store on each call; it is
// called once per subtest with that subtest's t, so it can register its
// cleanup there.
func TestBlobStore(t *testing.T, open func(t *testing.T) core.BlobStore) {
	t.Run("PutOpen", func(t *testing.T) { testPutOpen(t, open) })
	t.Run("PutExisting", func(t *testing.T) { testPutExisting(t, open) })
	t.Run("PutReaderError", func(t *testing.T) { testPutReaderError(t, open) })
	t.Run("PutConcurrent", func(t *testing.T) { testPutConcurrent(t, open) })
	t.Run("OpenMissing", func(t *testing.T) { testOpenMissing(t, open) })
	t.Run("Seek", func(t *testing.T) { testSeek(t, open) })
	t.Run("Delete", func(t *testing.T) { testDelete(t, open) })
	t.Run("List", func(t *testing.T) { testList(t, open) })
	t.Run("ListEmpty", func(t *testing.T) { testListEmpty(t, open) })
	t.Run("ListStop", func(t *testing.T) { testListStop(t, open) })
	t.Run("NestedKeys", func(t *testing.T) { testNestedKeys(t, open) })
	t.Run("InvalidKeys", func(t *testing.T) { testInvalidKeys(t, open) })
}

type openBlob = func(t *testing.T) core.BlobStore

// modTimeSlack is how far a modification time may be outside the interval
// of the write, for coarse file system clocks and remote stores.
const modTimeSlack = 5 * time.Second

func stagingKey(n int) string { return "staging/" + ulid(n) }
func imageKey(n int) string   { return "images/" + imageID(n) }

// content returns n pseudo-random bytes, the same for the same seed.
func content(seed uint64, n int) []byte {
	b := make([]byte, n)
	rand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8), byte(n), byte(n >> 8), byte(n >> 16)}).Read(b)
	return b
}

// chunkReader yields r in reads of at most 4 KiB, hiding any WriterTo so
// that a store sees many small reads.
type chunkReader struct{ r io.Reader }

func (c chunkReader) Read(p []byte) (int, error) {
	if len(p) > 4096 {
		p = p[:4096]
	}
	return c.r.Read(p)
}

// failingReader yields data, then fails with err; with lastData it returns
// err together with the last bytes instead of in a read of its own.
type failingReader struct {
	data     []byte
	err      error
	lastData bool
}

func (f *failingReader) Read(p []byte) (int, error) {
	if len(f.data) == 0 {
		return 0, f.err
	}
	n := copy(p[:min(len(p), 4096)], f.data)
	f.data = f.data[n:]
	if f.lastData && len(f.data) == 0 {
		return n, f.err
	}
	return n, nil
}

var errBoom = errors.New("storetest: reader failed")

// mustPut stores data under key or fails t now.
func mustPut(t *testing.T, s core.BlobStore, key string, data []byte) {
	t.Helper()
	noErr(t, "Put("+key+")", s.Put(t.Context(), key, chunkReader{bytes.NewReader(data)}))
}

// checkModTime fails t unless got is within modTimeSlack of [before, after].
func checkModTime(t *testing.T, what string, got, before, after time.Time) {
	t.Helper()
	if got.Before(before.Add(-modTimeSlack)) || got.After(after.Add(modTimeSlack)) {
		t.Errorf("%s: got modification time %v, want between %v and %v", what, got, before, after)
	}
}

// checkContent fails t unless key holds exactly want.
func checkContent(t *testing.T, s core.BlobStore, key string, want []byte) {
	t.Helper()
	b, err := s.Open(t.Context(), key)
	if err != nil {
		t.Errorf("Open(%s): got error %v, want nil", key, err)
		return
	}
	defer b.Close()
	if b.Size() != int64(len(want)) {
		t.Errorf("Open(%s): got Size %d, want %d", key, b.Size(), len(want))
	}
	got, err := io.ReadAll(b)
	if err != nil {
		t.Errorf("Open(%s): read: got error %v, want nil", key, err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("Open(%s): got %d bytes %s, want %d bytes %s", key, len(got), prefix(got), len(want), prefix(want))
	}
	if err := b.Close(); err != nil {
		t.Errorf("Open(%s): Close: got error %v, want nil", key, err)
	}
}

// prefix abbreviates b for messages.
func prefix(b []byte) string {
	if len(b) > 16 {
		return fmt.Sprintf("%x…", b[:16])
	}
	return fmt.Sprintf("%x", b)
}

// checkMissing fails t unless Open of key returns ErrNotFound.
func checkMissing(t *testing.T, s core.BlobStore, key string) {
	t.Helper()
	b, err := s.Open(t.Context(), key)
	if err == nil {
		b.Close()
	}
	wantErr(t, "Open("+key+")", err, core.ErrNotFound)
}

// list returns how often List(prefix) reported each key and their
// modification times.
func list(t *testing.T, s core.BlobStore, prefix string) (map[string]int, map[string]time.Time) {
	t.Helper()
	count, mod := map[string]int{}, map[string]time.Time{}
	err := s.List(t.Context(), prefix, func(key string, modTime time.Time) error {
		count[key]++
		mod[key] = modTime
		return nil
	})
	if err != nil {
		t.Errorf("List(%q): got error %v, want nil", prefix, err)
	}
	return count, mod
}

// checkList fails t unless List(prefix) reports each of want exactly once
// and nothing else.
func checkList(t *testing.T, s core.BlobStore, prefix string, want ...string) {
	t.Helper()
	count, _ := list(t, s, prefix)
	for key, n := range count {
		if n != 1 {
			t.Errorf("List(%q): got %q %d times, want once", prefix, key, n)
		}
	}
	got := slices.Sorted(maps.Keys(count))
	want = slices.Sorted(slices.Values(want))
	if !slices.Equal(got, want) {
		t.Errorf("List(%q): got keys %q, want %q", prefix, got, want)
	}
}

func testPutOpen(t *testing.T, open openBlob) {
	s := open(t)
	tests := []struct {
		key  string
		data []byte
	}{
		{stagingKey(1), content(1, 2_000_000)},
		{imageKey(1), content(2, 12345)},
		{"a", []byte("x")},
		{"empty", nil},
		{"x/y/z", content(3, 4096)},
		{"A-_9/b_-Z", []byte("mixed alphabet")},
		{stagingKey(2), bytes.Repeat([]byte{0}, 70000)},
	}
	before := time.Now()
	for _, tt := range tests {
		mustPut(t, s, tt.key, tt.data)
	}
	after := time.Now()
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			checkContent(t, s, tt.key, tt.data)
			b, err := s.Open(t.Context(), tt.key)
			noErr(t, "Open", err)
			defer b.Close()
			checkModTime(t, "Open("+tt.key+").ModTime", b.ModTime(), before, after)
		})
	}
}

func testPutExisting(t *testing.T, open openBlob) {
	s := open(t)
	key := imageKey(1)
	orig := content(1, 5000)
	mustPut(t, s, key, orig)
	for _, tt := range []struct {
		name string
		r    io.Reader
	}{
		{"same", bytes.NewReader(orig)},
		{"shorter", bytes.NewReader([]byte("short"))},
		{"longer", bytes.NewReader(content(2, 100000))},
		{"empty", bytes.NewReader(nil)},
		{"failing", &failingReader{data: content(3, 10000), err: errBoom}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := s.Put(t.Context(), key, tt.r)
			if tt.name == "failing" {
				if !errorsIsAny(err, core.ErrExist, errBoom) {
					t.Errorf("Put on an existing key with a failing reader: got error %v, want %v or %v", err, core.ErrExist, errBoom)
				}
			} else {
				wantErr(t, "Put on an existing key", err, core.ErrExist)
			}
			checkContent(t, s, key, orig)
		})
	}
	checkList(t, s, "", key)
}

func testPutReaderError(t *testing.T, open openBlob) {
	tests := []struct {
		name string
		r    io.Reader
	}{
		{"at-start", iotest.ErrReader(errBoom)},
		{"midway", io.MultiReader(chunkReader{bytes.NewReader(content(1, 100000))}, iotest.ErrReader(errBoom))},
		{"with-last-data", &failingReader{data: content(2, 50000), err: errBoom, lastData: true}},
		{"after-all-data", &failingReader{data: content(3, 50000), err: errBoom}},
		{"unexpected-eof", io.MultiReader(bytes.NewReader(content(4, 1000)), iotest.ErrReader(io.ErrUnexpectedEOF))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := open(t)
			key := stagingKey(1)
			err := s.Put(t.Context(), key, tt.r)
			if err == nil {
				t.Fatalf("Put with a failing reader: got nil, want an error")
			}
			if !errorsIsAny(err, errBoom, io.ErrUnexpectedEOF) {
				t.Errorf("Put with a failing reader: got error %v, want one wrapping the reader's", err)
			}
			checkMissing(t, s, key)
			checkList(t, s, "")
			// Nothing is left to block a retry.
			want := content(5, 3000)
			mustPut(t, s, key, want)
			checkContent(t, s, key, want)
			checkList(t, s, "", key)
		})
	}
}

func testPutConcurrent(t *testing.T, open openBlob) {
	s := open(t)
	key := stagingKey(1)
	const n = 10
	data := make([][]byte, n)
	for i := range data {
		data[i] = content(uint64(100+i), 300000)
	}
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			errs[i] = s.Put(t.Context(), key, chunkReader{bytes.NewReader(data[i])})
		})
	}
	close(start)
	wg.Wait()

	winner := -1
	for i, err := range errs {
		switch {
		case err == nil && winner < 0:
			winner = i
		case err == nil:
			t.Errorf("Put %d: got nil, but %d succeeded already", i, winner)
		default:
			wantErr(t, fmt.Sprintf("Put %d", i), err, core.ErrExist)
		}
	}
	if winner < 0 {
		t.Fatalf("Put: got no success among %d, want exactly one", n)
	}
	checkContent(t, s, key, data[winner])
	checkList(t, s, "", key)
}

func testOpenMissing(t *testing.T, open openBlob) {
	s := open(t)
	for _, key := range []string{stagingKey(1), imageKey(1), "a", "a/b"} {
		checkMissing(t, s, key)
	}
	mustPut(t, s, "a/b", []byte("b"))
	for _, key := range []string{stagingKey(1), "a", "a/c", "a/b/c", "b"} {
		checkMissing(t, s, key)
	}
}

func testSeek(t *testing.T, open openBlob) {
	s := open(t)
	key := imageKey(1)
	data := content(1, 10000)
	mustPut(t, s, key, data)
	b, err := s.Open(t.Context(), key)
	noErr(t, "Open", err)
	defer b.Close()

	read := func(n int, want []byte) {
		t.Helper()
		got := make([]byte, n)
		if _, err := io.ReadFull(b, got); err != nil {
			t.Fatalf("read %d bytes: got error %v, want nil", n, err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("read %d bytes: got %s, want %s", n, prefix(got), prefix(want))
		}
	}
	seek := func(offset int64, whence int, want int64) {
		t.Helper()
		pos, err := b.Seek(offset, whence)
		if err != nil || pos != want {
			t.Fatalf("Seek(%d, %d): got %d, %v, want %d, nil", offset, whence, pos, err, want)
		}
	}
	read(10, data[:10])
	seek(0, io.SeekCurrent, 10)
	seek(5000, io.SeekStart, 5000)
	read(100, data[5000:5100])
	seek(-100, io.SeekEnd, 9900)
	read(100, data[9900:])
	if n, err := b.Read(make([]byte, 10)); n != 0 || err != io.EOF {
		t.Errorf("Read at the end: got %d, %v, want 0, EOF", n, err)
	}
	seek(-5000, io.SeekCurrent, 5000)
	read(10, data[5000:5010])
	seek(0, io.SeekEnd, int64(len(data)))
	seek(0, io.SeekStart, 0)
	got, err := io.ReadAll(b)
	if err != nil || !bytes.Equal(got, data) {
		t.Errorf("ReadAll after Seek to the start: got %d bytes, %v, want %d bytes, nil", len(got), err, len(data))
	}
}

func testDelete(t *testing.T, open openBlob) {
	s := open(t)
	ctx := t.Context()
	k1, k2 := imageKey(1), imageKey(2)
	mustPut(t, s, k1, []byte("one"))
	mustPut(t, s, k2, []byte("two"))

	noErr(t, "Delete", s.Delete(ctx, k1))
	checkMissing(t, s, k1)
	checkContent(t, s, k2, []byte("two"))
	noErr(t, "Delete again", s.Delete(ctx, k1))
	noErr(t, "Delete of a never stored key", s.Delete(ctx, imageKey(3)))
	noErr(t, "Delete under a missing prefix", s.Delete(ctx, stagingKey(1)))
	noErr(t, "Delete of a short missing key", s.Delete(ctx, "a"))
	checkList(t, s, "", k2)

	// The key can be stored anew.
	mustPut(t, s, k1, []byte("one again"))
	checkContent(t, s, k1, []byte("one again"))
	checkList(t, s, "", k1, k2)
}

func testList(t *testing.T, open openBlob) {
	s := open(t)
	img := []string{imageKey(1), imageKey(2), imageKey(3)}
	stg := []string{stagingKey(1), stagingKey(2)}
	short := []string{"a", "a/b", "a/b/c", "im", "imag", "im/x", "images2/x"}
	before := time.Now()
	for i, key := range slices.Concat(img, stg, short) {
		mustPut(t, s, key, content(uint64(i), 100))
	}
	after := time.Now()

	tests := []struct {
		prefix string
		want   []string
	}{
		{"", slices.Concat(img, stg, short)},
		{"images/", img},
		{"staging/", stg},
		{"a/", []string{"a/b", "a/b/c"}},
		{"a/b/", []string{"a/b/c"}},
		{"im/", []string{"im/x"}},
		{"images2/", []string{"images2/x"}},
		{"nothing/", nil},
		{"a/b/c/", nil},
		// Directories an implementation might shard by are not prefixes.
		{"images/" + imageID(1)[:2] + "/", nil},
		{"staging/" + ulid(1)[:2] + "/", nil},
		{"images/" + imageID(1)[:1] + "/", nil},
	}
	for _, tt := range tests {
		t.Run("prefix="+tt.prefix, func(t *testing.T) {
			checkList(t, s, tt.prefix, tt.want...)
		})
	}
	_, mod := list(t, s, "")
	for key, m := range mod {
		checkModTime(t, "List modification time of "+key, m, before, after)
	}
}

func testListEmpty(t *testing.T, open openBlob) {
	s := open(t)
	checkList(t, s, "")
	checkList(t, s, "images/")
	mustPut(t, s, stagingKey(1), []byte("x"))
	checkList(t, s, "images/")
	noErr(t, "Delete", s.Delete(t.Context(), stagingKey(1)))
	checkList(t, s, "staging/")
	checkList(t, s, "")
}

func testListStop(t *testing.T, open openBlob) {
	s := open(t)
	for i := range 5 {
		mustPut(t, s, imageKey(i), []byte("x"))
	}
	errStop := errors.New("storetest: stop")
	calls := 0
	err := s.List(t.Context(), "images/", func(string, time.Time) error {
		calls++
		return errStop
	})
	wantErr(t, "List with fn failing", err, errStop)
	if calls != 1 {
		t.Errorf("List with fn failing: got %d calls, want 1", calls)
	}
}

// testNestedKeys checks that keys are opaque: a key may be a prefix of
// another, whatever the store makes of their characters.
func testNestedKeys(t *testing.T, open openBlob) {
	keys := []string{
		"a", "a/a", "a/a/a", "a/a/a/a",
		"ab", "ab/abc", "ab/ab/abc", "ab/ab",
		"images/Zq", "images/Zq/Zq_-x", "images/Zq/Zq", "Zq/Zq",
	}
	for _, order := range []string{"forward", "backward"} {
		t.Run(order, func(t *testing.T) {
			s := open(t)
			keys := slices.Clone(keys)
			if order == "backward" {
				slices.Reverse(keys)
			}
			for i, key := range keys {
				mustPut(t, s, key, []byte(fmt.Sprint(i, key)))
			}
			for i, key := range keys {
				checkContent(t, s, key, []byte(fmt.Sprint(i, key)))
			}
			checkList(t, s, "", keys...)
			checkList(t, s, "a/", "a/a", "a/a/a", "a/a/a/a")
			checkList(t, s, "ab/", "ab/abc", "ab/ab/abc", "ab/ab")
			checkList(t, s, "images/Zq/", "images/Zq/Zq_-x", "images/Zq/Zq")

			// Deleting one key leaves the others.
			noErr(t, "Delete", s.Delete(t.Context(), keys[0]))
			checkMissing(t, s, keys[0])
			for i, key := range keys[1:] {
				checkContent(t, s, key, []byte(fmt.Sprint(i+1, key)))
			}
			checkList(t, s, "", keys[1:]...)
		})
	}
}

// InvalidKeys are keys outside the alphabet of core.BlobStore, or with empty,
// dot or dot-dot segments; implementations must refuse them.
var InvalidKeys = []string{
	"", "../x", "/abs", "a//b", "a/../b", ".tmp/x", "a b",
	"/", "a/", ".", "..", "./a", "a/.", "a/./b", ".hidden", "..a",
	"a\\b", "a\x00b", "ä", "a:b", "a\nb", "a/b/../../../etc/passwd",
}

func testInvalidKeys(t *testing.T, open openBlob) {
	s := open(t)
	ctx := t.Context()
	// Keys an invalid key might be cleaned into.
	valid := map[string][]byte{"x": []byte("x"), "b": []byte("b"), "a/b": []byte("a/b"), "abs": []byte("abs"), "a": []byte("a")}
	for key, data := range valid {
		mustPut(t, s, key, data)
	}
	for _, key := range InvalidKeys {
		t.Run(fmt.Sprintf("%q", key), func(t *testing.T) {
			if err := s.Put(ctx, key, bytes.NewReader([]byte("evil"))); err == nil {
				t.Errorf("Put(%q): got nil, want an error", key)
			}
			if b, err := s.Open(ctx, key); err == nil {
				b.Close()
				t.Errorf("Open(%q): got nil, want an error", key)
			}
			if err := s.Delete(ctx, key); err == nil {
				t.Errorf("Delete(%q): got nil, want an error", key)
			}
		})
	}
	for key, data := range valid {
		checkContent(t, s, key, data)
	}
	checkMissing(t, s, "new")
	checkList(t, s, "", slices.Collect(maps.Keys(valid))...)
}
