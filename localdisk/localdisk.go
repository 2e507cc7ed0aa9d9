// Package localdisk is the embedded blob store: one file per object under a
// root directory, written atomically and durably (temp file, fsync, link,
// directory fsync).
package localdisk

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"

	"userimages/core"
	"userimages/internal/durable"
)

// tmpDir holds partial writes; keys cannot start with a dot, so it never
// collides with one.
const tmpDir = ".tmp"

var validKey = regexp.MustCompile(`^[A-Za-z0-9_-]+(/[A-Za-z0-9_-]+)*$`)

// Store is a core.BlobStore on a local directory.
type Store struct {
	root string
	// durable holds the directories this Store has made sure survive a
	// crash: created if needed and their entry in the parent fsynced.
	durable sync.Map
	// unnamedTemp: the file system makes unnamed temporary files
	// (Linux's O_TMPFILE), which need no name and no removal.
	unnamedTemp bool
	// buffers are Put's copy buffers, reused: twice io.Copy's 32 KiB, for
	// half the system calls per upload at a bounded cost per upload.
	buffers sync.Pool
	// open keeps the descriptors of objects read recently (openfiles.go).
	open openFiles
}

// copyBufferSize is the size of Put's copy buffers.
const copyBufferSize = 64 << 10

// staleTemp is how long a partial write must have been left untouched
// before Open deletes it. Writes in progress (of this or another process on
// the same directory) touch their file as data arrives, so only writes
// abandoned by a crash are this old.
const staleTemp = time.Hour

// Open returns a Store rooted at dir, creating it, and removes partial writes
// abandoned by a crash. It is safe to open a directory another process is
// using.
func Open(dir string) (*Store, error) {
	tmp := filepath.Join(dir, tmpDir)
	if err := os.MkdirAll(tmp, 0o700); err != nil {
		return nil, fmt.Errorf("open blob store %s: %w", dir, err)
	}
	entries, err := os.ReadDir(tmp)
	if err != nil {
		return nil, fmt.Errorf("open blob store %s: %w", dir, err)
	}
	for _, e := range entries {
		if info, err := e.Info(); err == nil && time.Since(info.ModTime()) > staleTemp {
			os.RemoveAll(filepath.Join(tmp, e.Name()))
		}
	}
	s := &Store{root: dir, unnamedTemp: durable.CanLinkUnnamed(tmp)}
	s.buffers.New = func() any { b := make([]byte, copyBufferSize); return &b }
	if err := s.mkdirAll(dir); err != nil {
		return nil, fmt.Errorf("open blob store %s: %w", dir, err)
	}
	return s, nil
}

// path maps a key to its file. The last segment is sharded by its first two
// characters so that no directory holds millions of entries.
func (s *Store) path(key string) (string, error) {
	if !validKey.MatchString(key) {
		return "", fmt.Errorf("blob key %q: invalid", key)
	}
	dir, name := "", key
	if i := strings.LastIndexByte(key, '/'); i >= 0 {
		dir, name = key[:i], key[i+1:]
	}
	return filepath.Join(s.root, filepath.FromSlash(dir), shard(name), name), nil
}

// shard returns the directory holding the file of a key whose last segment
// is name. Its prefix is not in the key alphabet, so a shard directory never
// has the name of a key's segment: otherwise key "a" (file a/a) and key
// "a/a" (file a/a/a) would collide, and List("a/") would report key "a".
func shard(name string) string {
	if len(name) > 2 {
		name = name[:2]
	}
	return "@" + name
}

func (s *Store) Put(ctx context.Context, key string, r io.Reader) (err error) {
	defer func() { err = fault(err) }()
	dst, err := s.path(key)
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if _, err := os.Lstat(dst); err == nil {
		return fmt.Errorf("put %s: %w", key, core.ErrExist)
	}
	t, err := s.createTemp()
	if err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	defer t.Discard()
	buf := s.buffers.Get().(*[]byte)
	_, err = io.CopyBuffer(struct{ io.Writer }{t.File}, r, *buf) // the struct hides ReadFrom, which would not use buf
	s.buffers.Put(buf)
	if err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	return s.link(key, t, dst)
}

// Scratch returns an empty temporary file on the store's disk, for a body
// being checked before its copy is Put: unnamed where the file system
// allows, never synced, gone when closed. On a full disk it fails, or its
// writes do, with syscall.ENOSPC.
func (s *Store) Scratch() (_ core.Scratch, err error) {
	defer func() { err = fault(err) }()
	t, err := s.createTemp()
	if err != nil {
		return nil, fmt.Errorf("scratch: %w", err)
	}
	return scratchFile{t}, nil
}

// scratchFile is a temporary file that Close discards.
type scratchFile struct{ *durable.Temp }

func (f scratchFile) Close() error {
	f.Discard()
	return nil
}

// FreeSpace returns the bytes left for this process on the store's disk,
// or errors.ErrUnsupported where the system cannot tell.
func (s *Store) FreeSpace() (int64, error) { return freeSpace(s.root) }

// createTemp returns a new empty file in the temp directory, unnamed where
// the file system allows: a crash then leaves nothing behind.
func (s *Store) createTemp() (*durable.Temp, error) {
	return durable.CreateTemp(filepath.Join(s.root, tmpDir), "put-*", s.unnamedTemp)
}

// link makes dst a durable name for the complete file t, never replacing
// an existing dst.
func (s *Store) link(key string, t *durable.Temp, dst string) error {
	if err := s.mkdirAll(filepath.Dir(dst)); err != nil {
		return fmt.Errorf("store %s: %w", key, err)
	}
	err := t.Link(dst)
	if errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("store %s: %w", key, core.ErrExist)
	} else if err != nil {
		return fmt.Errorf("store %s: %w", key, err)
	}
	return nil
}

// mkdirAll makes dir and its parents exist durably: created if missing, and
// the entries of the store's root and of every directory in it fsynced in
// their parent once per Store, even when another writer created them
// (which may not have synced them yet). Existing directories above the
// root are left alone.
func (s *Store) mkdirAll(dir string) error {
	if _, ok := s.durable.Load(dir); ok {
		return nil
	}
	ours := dir == s.root || strings.HasPrefix(dir, s.root+string(filepath.Separator))
	if _, err := os.Stat(dir); err == nil && !ours {
		return nil
	}
	parent := filepath.Dir(dir)
	if parent != dir {
		if err := s.mkdirAll(parent); err != nil {
			return err
		}
	}
	if err := os.Mkdir(dir, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
		return err
	}
	if err := durable.SyncDir(parent); err != nil {
		return err
	}
	s.durable.Store(dir, true)
	return nil
}

// osFile lets blob embed an *os.File under a field name other than File,
// which is the name of its method below.
type osFile = os.File

// blob is an open object file.
type blob struct {
	*osFile
	info fs.FileInfo
}

func (b blob) Size() int64        { return b.info.Size() }
func (b blob) ModTime() time.Time { return b.info.ModTime() }

// File returns the open file itself, so that a server can hand it to
// net/http, which sends an *os.File with sendfile(2). Reading or seeking it
// is reading or seeking the blob; Close still goes through the blob.
func (b blob) File() *os.File { return b.osFile }

// Open opens key's file, or takes an idle descriptor of it from the
// open-file cache (openfiles.go); the blob's Close gives it back.
func (s *Store) Open(ctx context.Context, key string) (_ core.Blob, err error) {
	if f, e, info := s.open.take(key); f != nil {
		return &leased{blob{f, info}, s, key, e}, nil
	}
	defer func() { err = fault(err) }()
	p, err := s.path(key)
	if err != nil {
		return nil, err
	}
	f, err := openFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("open %s: %w", key, core.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", key, err)
	}
	info, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("open %s: %w", key, err)
	}
	return &leased{blob{f, info}, s, key, s.open.opened(key)}, nil
}

// leased is a blob whose descriptor goes back to the open-file cache
// when closed (once: a second Close is an error, as for a file).
type leased struct {
	blob
	s     *Store
	key   string
	entry *openEntry
}

func (l *leased) Close() error {
	if l.s == nil {
		return os.ErrClosed
	}
	s := l.s
	l.s = nil
	return s.open.give(l.key, l.entry, l.osFile)
}

func (s *Store) Delete(ctx context.Context, key string) (err error) {
	defer func() { err = fault(err) }()
	p, err := s.path(key)
	if err != nil {
		return err
	}
	err = os.Remove(p)
	s.open.forget(key)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("delete %s: %w", key, err)
	}
	return nil
}

// List walks the files under prefix, which must be empty or end in a slash.
func (s *Store) List(ctx context.Context, prefix string, fn func(key string, modTime time.Time) error) (err error) {
	defer func() { err = fault(err) }()
	dir := strings.TrimSuffix(prefix, "/")
	if prefix != "" && (!strings.HasSuffix(prefix, "/") || !validKey.MatchString(dir)) {
		return fmt.Errorf("list %q: prefix must be a key followed by a slash", prefix)
	}
	start := filepath.Join(s.root, filepath.FromSlash(dir))
	err = filepath.WalkDir(start, func(p string, d fs.DirEntry, err error) error {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		if d.IsDir() {
			if d.Name() == tmpDir {
				return filepath.SkipDir
			}
			return ctx.Err()
		}
		rel, err := filepath.Rel(s.root, p)
		if err != nil {
			return err
		}
		// Drop the shard directory to get the key back; files elsewhere
		// are not objects.
		key, parent := filepath.Base(rel), filepath.Dir(rel)
		if filepath.Base(parent) != shard(key) {
			return nil
		}
		if dir := filepath.Dir(parent); dir != "." {
			key = filepath.ToSlash(dir) + "/" + key
		}
		if !validKey.MatchString(key) {
			return nil
		}
		info, err := d.Info()
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		return fn(key, info.ModTime())
	})
	if err != nil {
		return fmt.Errorf("list %q: %w", prefix, err)
	}
	return nil
}

var (
	_ core.BlobStore    = (*Store)(nil)
	_ core.ScratchSpace = (*Store)(nil)
)

// fault marks an error of the store as its own (core.StoreFault): every
// error a BlobStore method returns passes it, as go-cloud's drivers
// classify their own.
func fault(err error) error { return core.StoreFault(err) }
