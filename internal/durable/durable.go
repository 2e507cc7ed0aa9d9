// Package durable writes files that survive a crash whole or not at all:
// a temporary file in the destination's file system, written and fsynced,
// then given its name (rename, or link that never replaces), and the
// directory holding the name fsynced. Once a call returns, the file is on
// disk under its name.
package durable

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// Temp is a file being written that no name reaches yet.
type Temp struct {
	*os.File
	name string // its temporary name; "" when it has none (O_TMPFILE)
}

// CreateTemp returns a new empty file of mode 0600 in dir, which must be on
// the file system of its final name. With unnamed (where CanLinkUnnamed(dir)
// says the system allows it) the file has no name at all, so a crash leaves
// nothing behind; otherwise its name is made from pattern as
// os.CreateTemp's is.
func CreateTemp(dir, pattern string, unnamed bool) (*Temp, error) {
	if unnamed {
		f, err := createUnnamed(dir)
		if err != nil {
			return nil, err
		}
		return &Temp{File: f}, nil
	}
	f, err := os.CreateTemp(dir, pattern)
	if err != nil {
		return nil, err
	}
	return &Temp{File: f, name: f.Name()}, nil
}

// Discard closes the file and removes its temporary name, if any. It is
// safe to call after Link or Rename.
func (t *Temp) Discard() {
	t.Close()
	if t.name != "" {
		os.Remove(t.name)
	}
}

// Link fsyncs the complete file and gives it the name dst, whose directory
// must exist, never replacing an existing dst (the error then wraps
// fs.ErrExist); then it fsyncs dst's directory.
func (t *Temp) Link(dst string) error {
	if err := t.Sync(); err != nil {
		return fmt.Errorf("sync: %w", err)
	}
	var err error
	if t.name != "" {
		err = os.Link(t.name, dst)
	} else {
		err = linkUnnamed(t.File, dst)
	}
	if err != nil {
		return err
	}
	return SyncDir(filepath.Dir(dst))
}

// Rename fsyncs the complete file and closes it, renames it to dst
// (replacing what was there), and fsyncs dst's directory. The file must
// have a name.
func (t *Temp) Rename(dst string) error {
	if t.name == "" {
		return errors.New("rename: an unnamed file can only be linked")
	}
	err := t.Sync()
	if cerr := t.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(t.name, dst)
	}
	if err != nil {
		return err
	}
	t.name = "" // nothing left to remove
	return SyncDir(filepath.Dir(dst))
}

// WriteFile writes r to path, mode 0600, replacing the file that may be
// there: readers see the old file or the whole new one, and after a crash
// path holds one of them.
func WriteFile(path string, r io.Reader) error {
	t, err := write(path, r)
	if err != nil {
		return err
	}
	defer t.Discard()
	return t.Rename(path)
}

// WriteNew writes r to path, mode 0600, unless path exists: then it fails
// with an error wrapping fs.ErrExist and path is left as it was (of two
// processes writing at once, the first wins).
func WriteNew(path string, r io.Reader) error {
	t, err := write(path, r)
	if err != nil {
		return err
	}
	defer t.Discard()
	return t.Link(path)
}

// write copies r into a named temporary file beside path.
func write(path string, r io.Reader) (*Temp, error) {
	t, err := CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+"-*", false)
	if err != nil {
		return nil, err
	}
	if _, err := io.Copy(t, r); err != nil {
		t.Discard()
		return nil, err
	}
	return t, nil
}

// SyncDir fsyncs the directory dir, making the names created, renamed or
// removed in it durable.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
