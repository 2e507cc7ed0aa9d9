package localdisk

import (
	"io"
	"io/fs"
	"os"
	"sync"
	"syscall"
	"time"
)

// The open-file cache keeps the descriptors of objects read again and
// again, so that reading one once more (an image GET, the hot path) costs
// no open(2) and close(2): Open takes an idle descriptor of the key,
// checks with fstat(2) that the file still has a name (st_nlink > 0;
// another process, such as the CLI or another server on the same
// directory, may have deleted it), rewinds it and hands it out; the
// blob's Close gives it back. Each descriptor is used by one reader at a
// time, as the file offset is shared. So:
//   - a key deleted by this Store is forgotten at once (Delete), and its
//     descriptors out are closed when given back;
//   - a key deleted by another process is not served once its file is gone,
//     exactly as without the cache (the fstat sees it);
//   - objects are never rewritten in place (Put refuses an existing key),
//     so a descriptor never sees other bytes than its key's.
//
// A descriptor is kept only when its key was opened before within
// openFilesIdle: objects read once (hashing, variants made, backups) keep
// none. At most openFilesMax descriptors are kept idle and openFilesKeys
// keys remembered, in all; a descriptor left idle for openFilesIdle is
// closed (within twice that), so a server idle for a few seconds keeps
// none, as its SQLite readers (e2e TestWritePathUnderLoad).
const (
	openFilesMax  = 256
	openFilesKeys = 4096
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
	opens int       // since the entry was made: descriptors are kept from the second
	last  time.Time // of the last open
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
// information, or nil when there is none or its file is gone; it counts
// the open.
func (c *openFiles) take(key string) (*os.File, *openEntry, fs.FileInfo) {
	c.mu.Lock()
	e := c.byKey[key]
	if e == nil || len(e.files) == 0 {
		c.mu.Unlock()
		return nil, nil, nil
	}
	f := e.files[len(e.files)-1].f
	e.files = e.files[:len(e.files)-1]
	c.idle--
	e.opens++
	e.last = c.clock()
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

// opened counts an open of key's file that found no idle descriptor and
// returns the entry its descriptor is given back to: nil (it is closed)
// when openFilesKeys keys are remembered already.
func (c *openFiles) opened(key string) *openEntry {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.clock()
	e := c.byKey[key]
	if e == nil {
		if len(c.byKey) >= openFilesKeys {
			return nil
		}
		if c.byKey == nil {
			c.byKey = make(map[string]*openEntry)
		}
		e = &openEntry{}
		c.byKey[key] = e
		c.scheduleSweep()
	}
	e.opens++
	e.last = now
	return e
}

// give takes back f, a descriptor of key's entry e: kept idle if the key
// was opened more than once, unless the key was deleted since (e is no
// longer its entry) or openFilesMax are idle.
func (c *openFiles) give(key string, e *openEntry, f *os.File) error {
	c.mu.Lock()
	if e == nil || c.byKey[key] != e || e.opens < 2 || c.idle >= openFilesMax {
		c.mu.Unlock()
		return f.Close()
	}
	e.files = append(e.files, idleFile{f, c.clock()})
	c.idle++
	c.scheduleSweep()
	c.mu.Unlock()
	return nil
}

// scheduleSweep makes sure closeIdle runs in openFilesIdle; c.mu is held.
func (c *openFiles) scheduleSweep() {
	if !c.sweep {
		c.sweep = true
		time.AfterFunc(openFilesIdle, c.closeIdle)
	}
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

// closeIdle closes the descriptors idle for openFilesIdle and forgets
// the keys not opened for as long, and schedules itself again while any
// key is remembered.
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
		if len(kept) == 0 && !e.last.After(cutoff) {
			delete(c.byKey, key)
		}
	}
	c.idle -= len(stale)
	c.sweep = false
	if len(c.byKey) > 0 {
		c.scheduleSweep()
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
