// Package homefile opens the files cco keeps in CCO_HOME (its lock files,
// its log, its database). It opens only this user's regular files: a symbolic link,
// FIFO, socket, device or directory where cco keeps a regular file, or a
// file of another user, is refused with an error naming it — never
// followed, never waited on, never chmod-ed. A file opened for writing is
// made mode 0600, whatever mode it had.
package homefile

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"strconv"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Mode is the mode of every file cco writes in CCO_HOME.
const Mode os.FileMode = 0o600

// Open opens path with flag (os.O_* flags) like os.OpenFile with mode
// 0600, but refuses what is not this user's regular file. It never follows
// a symbolic link in the last element of path (O_NOFOLLOW) and never
// blocks on a FIFO (O_NONBLOCK until the file is known to be regular).
func Open(path string, flag int) (*os.File, error) {
	fd, err := unix.Open(path, flag|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, uint32(Mode))
	if err != nil {
		if what := kind(path); what != "" {
			return nil, notRegular(path, what)
		}
		return nil, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return nil, &fs.PathError{Op: "stat", Path: path, Err: err}
	}
	if what := kindOf(uint32(st.Mode)); what != "" {
		unix.Close(fd)
		return nil, notRegular(path, what)
	}
	if uid := int(st.Uid); uid != os.Geteuid() {
		unix.Close(fd)
		return nil, fmt.Errorf("%s belongs to %s, not to %s who runs cco: cco does not touch another user's files; run cco as its owner, or remove it", path, Owner(uid), Owner(os.Geteuid()))
	}
	if err := unix.SetNonblock(fd, false); err != nil {
		unix.Close(fd)
		return nil, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	if flag&(os.O_WRONLY|os.O_RDWR) != 0 && os.FileMode(st.Mode).Perm() != Mode {
		if err := unix.Fchmod(fd, uint32(Mode)); err != nil {
			unix.Close(fd)
			return nil, &fs.PathError{Op: "chmod", Path: path, Err: err}
		}
	}
	return os.NewFile(uintptr(fd), path), nil
}

// Owner names a uid the way messages show it: "alice (uid 1000)".
func Owner(uid int) string {
	if u, err := user.LookupId(strconv.Itoa(uid)); err == nil {
		return fmt.Sprintf("%s (uid %d)", u.Username, uid)
	}
	return fmt.Sprintf("uid %d", uid)
}

// NotRegular says what path is when fi, its stat, is not a regular file,
// in the words of Open's errors; nil when it is one.
func NotRegular(path string, fi os.FileInfo) error {
	if fi.Mode().IsRegular() {
		return nil
	}
	return notRegular(path, kindOf(uint32(fi.Sys().(*syscall.Stat_t).Mode)))
}

func notRegular(path, what string) error {
	if what == "symbolic link" {
		return fmt.Errorf("%s is a symbolic link, which cco never writes, locks or reads through (it did not make it): remove it", path)
	}
	return fmt.Errorf("%s is a %s, where cco keeps a regular file: remove it", path, what)
}

// kind says what path is when it is not a regular file ("" when it is one,
// or cannot be told): after a failed open, ELOOP, ENXIO or EISDIR say
// little by themselves.
func kind(path string) string {
	var st unix.Stat_t
	if err := unix.Lstat(path, &st); err != nil {
		return ""
	}
	return kindOf(uint32(st.Mode))
}

func kindOf(mode uint32) string {
	switch mode & unix.S_IFMT {
	case unix.S_IFREG:
		return ""
	case unix.S_IFLNK:
		return "symbolic link"
	case unix.S_IFIFO:
		return "FIFO"
	case unix.S_IFSOCK:
		return "socket"
	case unix.S_IFDIR:
		return "directory"
	default:
		return "device"
	}
}

// lockPoll is the longest pause between two tries of Lock: a holder of a
// cco lock keeps it for milliseconds, so a short poll costs little.
const lockPoll = 10 * time.Millisecond

// Lock takes an exclusive flock on the file at path (made when missing),
// waiting at most wait for another holder to let go, and returns the
// function that lets go of it. It gives up early when ctx is done.
func Lock(ctx context.Context, path string, wait time.Duration) (unlock func(), err error) {
	deadline := time.Now().Add(wait)
	pause := time.Millisecond
	for {
		f, err := Open(path, os.O_RDWR|os.O_CREATE)
		if err != nil {
			return nil, err
		}
		err = unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		if err == nil {
			if names(path, f) {
				return func() { f.Close() }, nil
			}
			// Someone removed the file after it was opened: a lock of it
			// excludes nobody who opens the path now. Lock what it names.
			f.Close()
			continue
		}
		f.Close()
		if !errors.Is(err, unix.EWOULDBLOCK) && !errors.Is(err, unix.EINTR) {
			return nil, fmt.Errorf("locking %s: %w", path, err)
		}
		if !time.Now().Before(deadline) {
			return nil, fmt.Errorf("%s stayed locked by another cco for %v: try again once it is done", path, wait)
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("waiting for %s: %w", path, ctx.Err())
		case <-time.After(pause):
		}
		pause = min(2*pause, lockPoll)
	}
}

// names reports whether path still names the open file f.
func names(path string, f *os.File) bool {
	open, err := f.Stat()
	if err != nil {
		return false
	}
	named, err := os.Lstat(path)
	return err == nil && os.SameFile(open, named)
}
