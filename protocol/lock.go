package protocol

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/anthropics/cco/homefile"
	"golang.org/x/sys/unix"
)

// The daemon's lock is a POSIX record lock (fcntl F_SETLK) on the whole of
// $CCO_HOME/daemon.lock rather than a flock: F_GETLK tells who holds it
// without taking it, so probing never makes a starting daemon fail, and the
// answer is the holder's pid — one of the proofs that a pid is the daemon
// (the others are in the state file: see State.Describes). The kernel drops
// it when the holder exits, before the process is reaped, so a zombie daemon
// holds nothing. Only the daemon ever takes it: clients probe it (F_GETLK)
// and wait for its release by probing, so that no client is ever seen
// holding it. On Linux, where the two kinds of lock are
// independent, the daemon also holds a flock, so that flock(1) and other
// tools that only know flock see the file locked too.

// Lock is the daemon's lock, held from Acquire until Release or exit.
type Lock struct{ f *os.File }

// Outside is the holder F_GETLK reports for a lock it cannot pin on a
// process: on macOS a flock(2) on the file, on Linux an open file
// description lock. Only a process outside cco takes those.
const Outside = -1

// HeldError says another process holds the lock: a daemon, or any process
// that locked the file.
type HeldError struct {
	PID  int
	Path string
}

func (e *HeldError) Error() string {
	if e.PID == Outside {
		return OutsideMessage(e.Path)
	}
	return fmt.Sprintf("%s is locked by pid %d: a daemon already runs for this CCO_HOME, or another process holds its lock; see `cco daemon status`", e.Path, e.PID)
}

// OutsideMessage says that the lock at path is held by a process outside
// cco, and how to find it.
func OutsideMessage(path string) string {
	return fmt.Sprintf("%s is locked by a process outside cco (the system names no pid for it); find it with `lsof %s`, and end it or let it finish", path, path)
}

// AcquireLock takes the lock at path without waiting. When another process
// holds it the error is a *HeldError naming that process.
func AcquireLock(path string) (*Lock, error) {
	f, err := homefile.Open(path, os.O_RDWR|os.O_CREATE)
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
		if errors.Is(err, unix.EWOULDBLOCK) {
			// A cco daemon holds both locks: this is someone's flock(1).
			return nil, fmt.Errorf("%s is locked with flock by a process that is not a cco daemon (no daemon holds its record lock): end that process (see `fuser %s`), then start again", path, path)
		}
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
	f, err := homefile.Open(path, os.O_RDONLY)
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

// WaitUnlocked returns once nobody holds the lock at path, or with ctx's
// error. It probes the lock (see Poll) and never takes it: a waiting client
// must not look like the daemon to another client, nor keep a starting
// daemon from taking its lock.
func WaitUnlocked(ctx context.Context, path string) error {
	return Poll(ctx, func() (bool, error) {
		pid, err := LockHolder(path)
		return pid == 0, err
	})
}

func wholeFile(typ int16) unix.Flock_t {
	return unix.Flock_t{Type: typ, Whence: 0, Start: 0, Len: 0}
}

// HolderName names a lock holder as LockHolder returns it, for messages.
func HolderName(pid int) string {
	if pid == Outside {
		return "a process outside cco (the system names no pid for it)"
	}
	return fmt.Sprintf("pid %d", pid)
}
