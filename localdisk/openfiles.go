package localdisk

import (
	"io"
	"io/fs"
	"os"
	"sync"
	"syscall"
	"time"
)

// The open-file cache keeps the descriptors of objects read recently, so
// that reading one again (an image GET, the hot path) costs no open(2) and
// close(2): Open takes an idle descriptor of the key, checks with fstat(2)
// that the file still has a name (st_nlink > 0; another process, such as
// the CLI or another server on the same directory, may have deleted it),
// rewinds it and hands it out; the blob's Close gives it back. Each
// descriptor is used by one reader at a time, as the file offset is
// shared. So:
//   - a key deleted by this Store is forgotten at once (Delete), and its
//     descriptors out are closed when given back;
//   - a key deleted by another process is not served once its file is gone,
//     exactly as without the cache (the fstat sees it);
//   - objects are never rewritten in place (Put refuses an existing key),
//     so a descriptor never sees other bytes than its key's.
//
// At most openFilesMax descriptors are kept idle, in all; one left idle
// for openFilesIdle is closed (within twice that), so a server idle for a
// few seconds keeps none, as its SQLite readers (e2e TestWritePathUnderLoad).
const (
	openFilesMax  = 256
	openFilesIdle = 2 * time.Second
)

// openFiles is the idle descriptors by key. The zero value is ready to
// use; it is safe for concurrent use.
type openFiles struct {
	mu    sync.Mutex
	byKey map[string]*openEntry
	idle  int  // descriptors idle, in all
	sweep bool // a sweep is scheduled
	// now is the clock of idle times (time.Now when nil).
	now func() time.Time
}

// openEntry is one key's idle descriptors; a key deleted is no longer in
// byKey, so a descriptor of it given back is closed.
type openEntry struct {
	files []idleFile
}

type idleFile struct {
	f     *os.File
	since time.Time
}

func (c *openFiles) clock() time.Time {
	if c.now != nil {
		return c.now()
	}
	return time.Now()
}

// take returns an idle descriptor of key, rewound, with its file's current
// information, or nil when there is none or its file is gone.
func (c *openFiles) take(key string) (*os.File, *openEntry, fs.FileInfo) {
	c.mu.Lock()
	e := c.byKey[key]
	if e == nil || len(e.files) == 0 {
		c.mu.Unlock()
		return nil, e, nil
	}
	f := e.files[len(e.files)-1].f
	e.files = e.files[:len(e.files)-1]
	c.idle--
	c.mu.Unlock()
	info, err := f.Stat()
	if err == nil {
		if st, ok := info.Sys().(*syscall.Stat_t); ok && st.Nlink == 0 {
			err = fs.ErrNotExist
		}
	}
	if err == nil {
		_, err = f.Seek(0, io.SeekStart)
	}
	if err != nil {
		f.Close()
		c.forget(key)
		return nil, nil, nil
	}
	return f, e, info
}

// entry returns key's entry, made if missing: the one the descriptors
// opened now are given back to.
func (c *openFiles) entry(key string) *openEntry {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e := c.byKey[key]; e != nil {
		return e
	}
	if c.byKey == nil {
		c.byKey = make(map[string]*openEntry)
	}
	e := &openEntry{}
	c.byKey[key] = e
	return e
}

// give takes back f, a descriptor of key's entry e: kept idle unless the
// key was deleted since (e is no longer its entry) or openFilesMax are
// idle.
func (c *openFiles) give(key string, e *openEntry, f *os.File) error {
	c.mu.Lock()
	if c.byKey[key] != e || c.idle >= openFilesMax {
		if c.byKey[key] == e && len(e.files) == 0 {
			delete(c.byKey, key) // no entry without descriptors stays
		}
		c.mu.Unlock()
		return f.Close()
	}
	e.files = append(e.files, idleFile{f, c.clock()})
	c.idle++
	if !c.sweep {
		c.sweep = true
		time.AfterFunc(openFilesIdle, c.closeIdle)
	}
	c.mu.Unlock()
	return nil
}

// forget closes key's idle descriptors; those out are closed when given
// back.
func (c *openFiles) forget(key string) {
	c.mu.Lock()
	e := c.byKey[key]
	delete(c.byKey, key)
	var files []idleFile
	if e != nil {
		files, e.files = e.files, nil
		c.idle -= len(files)
	}
	c.mu.Unlock()
	for _, f := range files {
		f.f.Close()
	}
}

// closeIdle closes the descriptors idle for openFilesIdle, and schedules
// itself again while any are left.
func (c *openFiles) closeIdle() {
	var stale []*os.File
	c.mu.Lock()
	cutoff := c.clock().Add(-openFilesIdle)
	for key, e := range c.byKey {
		kept := e.files[:0]
		for _, f := range e.files {
			if f.since.After(cutoff) {
				kept = append(kept, f)
			} else {
				stale = append(stale, f.f)
			}
		}
		clear(e.files[len(kept):])
		e.files = kept
		if len(kept) == 0 {
			delete(c.byKey, key)
		}
	}
	c.idle -= len(stale)
	c.sweep = c.idle > 0
	if c.sweep {
		time.AfterFunc(openFilesIdle, c.closeIdle)
	}
	c.mu.Unlock()
	for _, f := range stale {
		f.Close()
	}
}

// count is the number of idle descriptors.
func (c *openFiles) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.idle
}
