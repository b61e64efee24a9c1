package daemon

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"

	"github.com/anthropics/cco/config"
	"github.com/anthropics/cco/homefile"
	"github.com/anthropics/cco/protocol"
	"golang.org/x/sys/unix"
)

// LogFile is the daemon's log: one writer, guarded by a mutex, that rotates
// by size between whole writes, so that no line is lost or torn however
// many goroutines log at once. Each Write must be whole lines (slog handlers
// write one record per call); a Write lands whole or, when the disk is full,
// not at all.
//
// Rotation gives the file a second name, daemon.log.N, with N one more than
// the newest rotated file, and renames a new empty file over daemon.log; it
// then removes the oldest rotated files beyond log_max_files. Its cost does
// not depend on how many files are kept.
type LogFile struct {
	mu       sync.Mutex
	path     string
	f        *os.File
	size     int64
	maxSize  int64
	maxFiles int
	// Rotated files are numbered oldest … next-1 (some may be gone).
	oldest, next int64
	// failing: the last rotation failed and said so; the next failure does
	// not say it again.
	failing bool
	// std: point fds 1 and 2 at the current file after every open, so that
	// a panic's output and anything else written there lands in the log.
	std bool
	// orig holds copies of fds 1 and 2 from before the first redirect, until
	// RestoreStd or ForgetStd; nil when there are none.
	orig []int
	// rotations counts the rotations done since OpenLog, for /metrics.
	rotations atomic.Uint64
}

// Rotations is how many times the log was rotated since it was opened.
func (l *LogFile) Rotations() uint64 { return l.rotations.Load() }

// OpenLog opens (appends to) the log at path. It rotates once the file
// would pass maxSize bytes, keeping maxFiles rotated files.
func OpenLog(path string, maxSize int64, maxFiles int, std bool) (*LogFile, error) {
	l := &LogFile{path: path, maxSize: maxSize, maxFiles: maxFiles, std: std, oldest: 1, next: 1}
	rotated, err := config.RotatedLogs(path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("listing the rotated daemon logs: %w", err)
	}
	if err := l.open(); err != nil {
		return nil, err
	}
	if len(rotated) > 0 {
		l.oldest, l.next = rotated[0].N, rotated[len(rotated)-1].N+1
		// A rotation cut short between its two steps leaves the newest
		// rotated name on the current file: drop that second name, or its
		// lines would be read twice.
		if newest := rotated[len(rotated)-1].Path; protocol.NamesFile(newest, l.f) {
			if err := os.Remove(newest); err != nil {
				l.f.Close()
				return nil, fmt.Errorf("removing %s, a second name of the daemon log: %w", newest, err)
			}
		}
	}
	return l, nil
}

// openLogFile opens a file of the log for appending, as homefile.Open
// opens CCO_HOME's files: no link followed, never blocking on a FIFO, only
// this user's regular file, made 0600.
func openLogFile(name string, flag int) (*os.File, error) {
	f, err := homefile.Open(name, flag|os.O_WRONLY|os.O_APPEND|os.O_CREATE)
	if err != nil {
		return nil, fmt.Errorf("opening the daemon log: %w", err)
	}
	return f, nil
}

func (l *LogFile) open() error {
	f, err := openLogFile(l.path, 0)
	if err != nil {
		return err
	}
	return l.adopt(f)
}

// adopt makes f the file written to, closing the previous one.
func (l *LogFile) adopt(f *os.File) error {
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return fmt.Errorf("opening the daemon log: %w", err)
	}
	if l.std && l.f == nil {
		for _, fd := range []int{1, 2} {
			c, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 3)
			if err != nil {
				l.closeOrig()
				f.Close()
				return fmt.Errorf("keeping fd %d: %w", fd, err)
			}
			l.orig = append(l.orig, c)
		}
	}
	if l.std {
		for _, fd := range []int{1, 2} {
			if err := unix.Dup2(int(f.Fd()), fd); err != nil {
				f.Close()
				return fmt.Errorf("pointing fd %d at %s: %w", fd, l.path, err)
			}
		}
	}
	if l.f != nil {
		l.f.Close()
	}
	l.f, l.size = f, fi.Size()
	return nil
}

// Write appends p, rotating first if p would take the file past its size.
// p lands whole or not at all.
func (l *LogFile) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.size > 0 && l.size+int64(len(p)) > l.maxSize {
		if err := l.rotate(); err != nil && !l.failing {
			// Keep logging into the current file rather than lose lines.
			var b bytes.Buffer
			slog.New(slog.NewTextHandler(&b, nil)).Error("rotating the log failed; writing on into the current file", "err", err)
			l.write(b.Bytes())
			l.failing = true
		} else if err == nil {
			l.failing = false
		}
	}
	return l.write(p)
}

// write appends p with one write. A short write (a full disk) is taken
// back by cutting the file to where it ended before, so that no torn line
// stays in it.
func (l *LogFile) write(p []byte) (int, error) {
	n, err := l.f.Write(p)
	if err == nil {
		l.size += int64(n)
		return n, nil
	}
	if n > 0 {
		if terr := l.f.Truncate(l.size); terr != nil {
			l.size += int64(n)
			return n, fmt.Errorf("%w; and taking back the %d bytes written of %d: %v", err, n, len(p), terr)
		}
	}
	return 0, err
}

// rotate makes the current file daemon.log.N, starts a new daemon.log and
// removes the rotated files beyond maxFiles, oldest first. daemon.log never
// goes missing, so a reader (`cco daemon logs`) always finds it: the
// rotated name is a second name of the current file, then a new empty file
// is renamed over daemon.log.
func (l *LogFile) rotate() error {
	rotated := config.RotatedLog(l.path, l.next)
	if err := os.Link(l.path, rotated); err != nil {
		if errors.Is(err, fs.ErrExist) {
			l.next++ // not ours: the next rotation takes the next number
		}
		return err
	}
	next := config.NextLog(l.path)
	f, err := openLogFile(next, os.O_TRUNC)
	if err == nil {
		if err = os.Rename(next, l.path); err != nil {
			f.Close()
		}
	}
	if err != nil {
		os.Remove(rotated) // still the current file's second name
		return err
	}
	l.next++
	l.rotations.Add(1)
	if err := l.adopt(f); err != nil {
		return err
	}
	for ; l.next-l.oldest > int64(l.maxFiles); l.oldest++ {
		old := config.RotatedLog(l.path, l.oldest)
		if err := os.Remove(old); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("removing the oldest rotated log: %w", err)
		}
	}
	return nil
}

// SetLimits changes the rotation size and the number of rotated files
// kept; files beyond the new number go at the next rotation.
func (l *LogFile) SetLimits(maxSize int64, maxFiles int) {
	l.mu.Lock()
	l.maxSize, l.maxFiles = maxSize, maxFiles
	l.mu.Unlock()
}

// Reopen opens the path anew: after someone moved or removed the file.
func (l *LogFile) Reopen() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.open()
}

// ReopenIfGone opens the path anew when it no longer names the file being
// written (someone removed or replaced it), so that lines go where
// `cco daemon logs` looks. It reports whether it did.
func (l *LogFile) ReopenIfGone() (bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if protocol.NamesFile(l.path, l.f) {
		return false, nil
	}
	return true, l.open()
}

// RestoreStd points fds 1 and 2 back where they were before OpenLog, for a
// daemon that fails to start: its error then reaches whoever started it.
func (l *LogFile) RestoreStd() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	var errs []error
	for i, c := range l.orig {
		errs = append(errs, unix.Dup2(c, i+1))
	}
	l.closeOrig()
	return errors.Join(errs...)
}

// ForgetStd drops the copies of fds 1 and 2 that RestoreStd would restore,
// once the daemon serves: a pipe among them must not be held open.
func (l *LogFile) ForgetStd() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.closeOrig()
}

func (l *LogFile) closeOrig() {
	for _, c := range l.orig {
		unix.Close(c)
	}
	l.orig = nil
}

// Close closes the file. Fds 1 and 2, if pointed at it, stay open.
func (l *LogFile) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.f.Close()
}
