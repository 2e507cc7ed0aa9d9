package localdisk

import (
	"crypto/rand"
	"encoding/hex"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"
)

// openFile opens name for reading as os.Open does, without os.Open's bid to
// register the file with the network poller, which regular files refuse:
// on Linux that costs two fcntl(2) calls and a failing epoll_ctl(2), a
// tenth of the CPU of serving a small image. The file is used the same way
// (blocking reads; net/http still sends it with sendfile).
func openFile(name string) (*os.File, error) {
	for {
		fd, err := syscall.Open(name, syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return nil, &fs.PathError{Op: "open", Path: name, Err: err}
		}
		return os.NewFile(uintptr(fd), name), nil
	}
}

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

// canLinkUnnamed reports whether unnamed files can be made in dir and
// linked into it: the file system must support O_TMPFILE and /proc must be
// mounted. Otherwise Put uses named temporary files.
func canLinkUnnamed(dir string) bool {
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

// freeSpace returns the bytes available to this process on dir's file
// system.
func freeSpace(dir string) (int64, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return 0, &fs.PathError{Op: "statfs", Path: dir, Err: err}
	}
	return int64(st.Bavail) * st.Bsize, nil
}
