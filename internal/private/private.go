// Package private keeps files and directories readable by their owner
// only: the data directory (0700), and the files that hold secrets or
// personal data (0600): the database and its WAL and SHM, snapshots, the
// signing secret. Modes are set explicitly, never left to the umask, which
// an operator's shell or unit file may leave at 0022 (or 0).
package private

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// Modes of private directories and files.
const (
	DirMode  fs.FileMode = 0o700
	FileMode fs.FileMode = 0o600
)

// MkdirAll creates dir and its missing parents, as os.MkdirAll does, and
// makes dir itself mode 0700 whatever the umask; an existing dir keeps its
// mode (Correct corrects it, saying so).
func MkdirAll(dir string) error {
	if info, err := os.Stat(dir); err == nil && info.IsDir() {
		return nil
	}
	if err := os.MkdirAll(dir, DirMode); err != nil {
		return err
	}
	return os.Chmod(dir, DirMode)
}

// CreateFile creates path empty, mode 0600 whatever the umask, unless it
// exists: then it is left as it is (Correct corrects it, saying so).
func CreateFile(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, FileMode)
	if errors.Is(err, fs.ErrExist) {
		return nil
	}
	if err != nil {
		return err
	}
	err = f.Chmod(FileMode)
	return errors.Join(err, f.Close())
}

// Correction is a mode Correct changed.
type Correction struct {
	Path     string
	Was, Now fs.FileMode
}

// Correct makes each path that exists private: 0700 for a directory, 0600
// for a file, if its permission bits are other than that. It returns what
// it changed, for the caller to log; a path that does not exist is not an
// error. Symbolic links are followed (a data directory may be one).
func Correct(paths ...string) ([]Correction, error) {
	var done []Correction
	for _, p := range paths {
		info, err := os.Stat(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return done, err
		}
		want := FileMode
		if info.IsDir() {
			want = DirMode
		}
		if info.Mode().Perm() == want {
			continue
		}
		if err := os.Chmod(p, want); err != nil {
			return done, fmt.Errorf("make %s private: %w", p, err)
		}
		done = append(done, Correction{Path: p, Was: info.Mode().Perm(), Now: want})
	}
	return done, nil
}
