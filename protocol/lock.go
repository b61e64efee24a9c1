package protocol

import (
	"errors"
	"fmt"
	"io/fs"
	"os"

	"golang.org/x/sys/unix"
)

// The daemon's lock is a POSIX record lock (fcntl F_SETLK) on the whole of
// $CCO_HOME/daemon.lock rather than a flock: F_GETLK tells who holds it
// without taking it, so probing never makes a starting daemon fail, and the
// answer is the holder's pid — the proof that a pid is the daemon. The kernel
// drops it when the holder exits, before the process is reaped, so a zombie
// daemon holds nothing. On Linux, where the two kinds of lock are
// independent, the daemon also holds a flock, so that flock(1) and other
// tools that only know flock see the file locked too.

// Lock is the daemon's lock, held from Acquire until Release or exit.
type Lock struct{ f *os.File }

// Outside is the holder F_GETLK reports for a lock it cannot pin on a
// process: on macOS a flock(2) on the file, on Linux an open file
// description lock. Only a process outside cco takes those.
const Outside = -1

// HeldError says another process holds the lock.
type HeldError struct {
	PID  int
	Path string
}

func (e *HeldError) Error() string {
	if e.PID == Outside {
		return OutsideMessage(e.Path)
	}
	return fmt.Sprintf("the daemon is already running (pid %d); stop it with `cco daemon stop`", e.PID)
}

// OutsideMessage says that the lock at path is held by a process outside
// cco, and how to find it.
func OutsideMessage(path string) string {
	return fmt.Sprintf("%s is locked by a process outside cco (the system names no pid for it); find it with `lsof %s`, and end it or let it finish", path, path)
}

// AcquireLock takes the lock at path without waiting. When another process
// holds it the error is a *HeldError naming that process.
func AcquireLock(path string) (*Lock, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("opening the daemon lock: %w", err)
	}
	lk := wholeFile(unix.F_WRLCK)
	if err := unix.FcntlFlock(f.Fd(), unix.F_SETLK, &lk); err != nil {
		f.Close()
		if errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EACCES) {
			pid, perr := LockHolder(path)
			if perr == nil && pid != 0 {
				return nil, &HeldError{PID: pid, Path: path}
			}
		}
		return nil, fmt.Errorf("locking %s: %w", path, err)
	}
	if err := flockToo(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("locking %s: %w", path, err)
	}
	return &Lock{f: f}, nil
}

// Release drops the lock.
func (l *Lock) Release() error { return l.f.Close() }

// Intact reports whether path still names the locked file. When someone
// removed it (or all of CCO_HOME), the lock protects nothing any more and
// nobody can find the daemon through it: the daemon takes it anew.
func (l *Lock) Intact(path string) bool { return NamesFile(path, l.f) }

// NamesFile reports whether path names the open file f. It only stats
// path: opening and closing the lock file would drop a record lock this
// process holds on it.
func NamesFile(path string, f *os.File) bool {
	open, err := f.Stat()
	if err != nil {
		return false
	}
	named, err := os.Stat(path)
	return err == nil && os.SameFile(open, named)
}

// LockHolder returns the pid of the process holding the lock at path, 0
// when nobody does, or Outside. It does not take the lock.
func LockHolder(path string) (int, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("probing the daemon lock: %w", err)
	}
	defer f.Close()
	lk := wholeFile(unix.F_WRLCK)
	if err := unix.FcntlFlock(f.Fd(), unix.F_GETLK, &lk); err != nil {
		return 0, fmt.Errorf("probing the daemon lock %s: %w", path, err)
	}
	if lk.Type == unix.F_UNLCK {
		return 0, nil
	}
	return int(lk.Pid), nil
}

// WatchUnlock returns a channel that yields once nobody holds the lock at
// path: nil, or the error that ended the wait. It waits in the kernel
// (F_SETLKW), not by polling, and lets go of the lock before it reports.
func WatchUnlock(path string) <-chan error {
	done := make(chan error, 1)
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if errors.Is(err, fs.ErrNotExist) {
		done <- nil
		return done
	}
	if err != nil {
		done <- fmt.Errorf("waiting on the daemon lock: %w", err)
		return done
	}
	go func() {
		lk := wholeFile(unix.F_WRLCK)
		err := unix.FcntlFlock(f.Fd(), unix.F_SETLKW, &lk)
		for errors.Is(err, unix.EINTR) {
			err = unix.FcntlFlock(f.Fd(), unix.F_SETLKW, &lk)
		}
		f.Close() // drops the lock, before anyone may start a new daemon
		done <- err
	}()
	return done
}

func wholeFile(typ int16) unix.Flock_t {
	return unix.Flock_t{Type: typ, Whence: 0, Start: 0, Len: 0}
}
