package durable

import (
	"crypto/rand"
	"encoding/hex"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"
)

// createUnnamed creates an unnamed file in dir (O_TMPFILE): it has no
// directory entry until linkUnnamed gives it one, so a crash before that
// leaves nothing to clean up, and no name is made or removed per write.
func createUnnamed(dir string) (*os.File, error) {
	for {
		fd, err := unix.Open(dir, unix.O_TMPFILE|unix.O_RDWR|unix.O_CLOEXEC, 0o600)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, &fs.PathError{Op: "open O_TMPFILE", Path: dir, Err: err}
		}
		return os.NewFile(uintptr(fd), filepath.Join(dir, "(unnamed)")), nil
	}
}

// linkUnnamed gives the unnamed file f the name dst, failing with
// fs.ErrExist if dst exists. Linking through /proc/self/fd needs no
// privilege, unlike linkat's AT_EMPTY_PATH.
func linkUnnamed(f *os.File, dst string) error {
	err := unix.Linkat(unix.AT_FDCWD, "/proc/self/fd/"+strconv.Itoa(int(f.Fd())), unix.AT_FDCWD, dst, unix.AT_SYMLINK_FOLLOW)
	if err != nil {
		return &os.LinkError{Op: "link", Old: f.Name(), New: dst, Err: err}
	}
	return nil
}

// CanLinkUnnamed reports whether unnamed files can be made in dir and
// linked into it: the file system must support O_TMPFILE and /proc must be
// mounted. Otherwise CreateTemp must be asked for named files.
func CanLinkUnnamed(dir string) bool {
	f, err := createUnnamed(dir)
	if err != nil {
		return false
	}
	defer f.Close()
	var b [8]byte
	rand.Read(b[:])
	probe := filepath.Join(dir, "probe-"+hex.EncodeToString(b[:]))
	if err := linkUnnamed(f, probe); err != nil {
		return false
	}
	os.Remove(probe)
	return true
}
