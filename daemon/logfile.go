package daemon

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sync"

	"github.com/anthropics/cco/protocol"
	"golang.org/x/sys/unix"
)

// LogFile is the daemon's log: one writer, guarded by a mutex, that rotates
// by size between whole writes, so that no line is lost or torn however
// many goroutines log at once. Each Write must be whole lines (slog handlers
// write one record per call).
type LogFile struct {
	mu       sync.Mutex
	path     string
	f        *os.File
	size     int64
	maxSize  int64
	maxFiles int
	// std: point fds 1 and 2 at the current file after every open, so that
	// a panic's output and anything else written there lands in the log.
	std bool
	// orig holds copies of fds 1 and 2 from before the first redirect, until
	// RestoreStd or ForgetStd; nil when there are none.
	orig []int
}

// OpenLog opens (appends to) the log at path. It rotates once the file
// would pass maxSize bytes, keeping maxFiles old files: path.1 the newest.
func OpenLog(path string, maxSize int64, maxFiles int, std bool) (*LogFile, error) {
	l := &LogFile{path: path, maxSize: maxSize, maxFiles: maxFiles, std: std}
	if err := l.open(); err != nil {
		return nil, err
	}
	return l, nil
}

func (l *LogFile) open() error {
	f, err := os.OpenFile(l.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("opening the daemon log: %w", err)
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
func (l *LogFile) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.size > 0 && l.size+int64(len(p)) > l.maxSize {
		if err := l.rotate(); err != nil {
			// Keep logging into the current file rather than lose lines.
			fmt.Fprintf(l.f, "cco: log rotation failed: %v\n", err)
		}
	}
	n, err := l.f.Write(p)
	l.size += int64(n)
	return n, err
}

// rotate shifts path.N-1 to path.N … path to path.1 and starts a new path.
// path never goes missing, so a reader (`cco daemon logs`) always finds it:
// path.1 is made a second name of the current file, then a new empty file
// is renamed over path.
func (l *LogFile) rotate() error {
	for i := l.maxFiles; ; i++ { // files beyond a lowered log_max_files
		if err := os.Remove(fmt.Sprintf("%s.%d", l.path, i+1)); err != nil {
			break
		}
	}
	for i := l.maxFiles - 1; i >= 1; i-- {
		err := os.Rename(fmt.Sprintf("%s.%d", l.path, i), fmt.Sprintf("%s.%d", l.path, i+1))
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	if err := os.Remove(l.path + ".1"); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err // only left when log_max_files is 1
	}
	if err := os.Link(l.path, l.path+".1"); err != nil {
		return err
	}
	next := l.path + ".next"
	f, err := os.OpenFile(next, os.O_WRONLY|os.O_APPEND|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if err := os.Rename(next, l.path); err != nil {
		f.Close()
		return err
	}
	return l.adopt(f)
}

// SetLimits changes the rotation size and the number of old files kept.
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
