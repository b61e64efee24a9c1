package protocol

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// NotRegularError says that a CCO_HOME file cco reads or locks is not a
// regular file: a FIFO, a socket, a directory, a device or a symbolic link.
type NotRegularError struct {
	Path string
	What string // "a FIFO", "a directory", ...
}

func (e *NotRegularError) Error() string {
	return fmt.Sprintf("%s is %s where cco keeps a regular file: remove it", e.Path, e.What)
}

// OpenFile opens one of CCO_HOME's files, which must be a regular file of
// the user who runs cco. It never blocks on a FIFO (O_NONBLOCK), never
// follows a symbolic link (O_NOFOLLOW), refuses anything but a regular file
// with a *NotRegularError naming it, refuses another user's file, and makes
// a file opened for writing 0600.
func OpenFile(path string, flag int, perm os.FileMode) (*os.File, error) {
	f, err := os.OpenFile(path, flag|unix.O_NONBLOCK|unix.O_NOFOLLOW|unix.O_CLOEXEC, perm)
	if err != nil {
		// ELOOP (a link), ENXIO (a socket, or a FIFO opened for writing
		// without a reader), EISDIR: say what is there.
		if !errors.Is(err, fs.ErrNotExist) {
			if fi, lerr := os.Lstat(path); lerr == nil && !fi.Mode().IsRegular() {
				return nil, &NotRegularError{Path: path, What: kind(fi.Mode())}
			}
		}
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, &NotRegularError{Path: path, What: kind(fi.Mode())}
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && int(st.Uid) != os.Geteuid() {
		f.Close()
		return nil, fmt.Errorf("%s belongs to uid %d, not to uid %d who runs cco: cco never uses another user's file in CCO_HOME", path, st.Uid, os.Geteuid())
	}
	// Every file cco writes is 0600, whatever mode it was found with
	// (O_CREATE's perm applies only to a new file).
	if flag&(os.O_WRONLY|os.O_RDWR) != 0 && fi.Mode().Perm() != 0o600 {
		if err := f.Chmod(0o600); err != nil {
			f.Close()
			return nil, err
		}
	}
	return f, nil
}

func kind(m fs.FileMode) string {
	switch {
	case m&fs.ModeSymlink != 0:
		return "a symbolic link"
	case m&fs.ModeNamedPipe != 0:
		return "a FIFO"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m.IsDir():
		return "a directory"
	case m&fs.ModeDevice != 0:
		return "a device"
	default:
		return "not a regular file"
	}
}
