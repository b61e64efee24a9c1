package lifecycle

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/anthropics/cco/config"
	"github.com/anthropics/cco/homefile"
)

// tailBlock is how much Tail reads at a time, backwards from the end.
const tailBlock = 64 << 10

// A Mark is where Tail stopped reading: Follow goes on from there.
type Mark struct {
	file   os.FileInfo // the log file Tail read, known by identity
	offset int64
	// Rotated files numbered up to base were there when Tail read file:
	// none of them is newer than it.
	base int64
}

// openRead opens a file of the log for reading, as homefile.Open opens
// CCO_HOME's files: no link followed, never blocking on a FIFO, only this
// user's regular file.
func openRead(path string) (*os.File, os.FileInfo, error) {
	f, err := homefile.Open(path, os.O_RDONLY)
	if err != nil {
		return nil, nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	return f, fi, nil
}

// same reports whether path names the file fi describes.
func same(path string, fi os.FileInfo) bool {
	named, err := os.Stat(path)
	return err == nil && os.SameFile(named, fi)
}

// Follow writes whole lines appended to the log at path after from, until
// ctx is done; then it writes what was appended up to that moment and
// returns. Each line is written once, in order; only a file that was
// removed (log_max_files) or moved aside by another program before Follow
// reached it is lost to it.
//
// It follows the file, by identity, not the name: when path names another
// file, it reads the old file to its end, then the files rotated after it
// (daemon.log.N, by growing N), then the new file from its start. A file
// moved aside by another program (logrotate) is read on until the new file
// gets its first line, for the daemon writes the old one until it reopens;
// a file at path that is new, not rotated by the daemon, replays none of
// the rotated files. A truncated file is read again from its start.
//
// It waits for changes to the log's directory (inotify on Linux), or looks
// every interval elsewhere, and while it passes from one file to the next.
func Follow(ctx context.Context, w io.Writer, path string, from Mark, interval time.Duration) error {
	dir := filepath.Dir(path)
	watched, _ := os.Stat(dir)
	wake, stop := watcher(dir, interval)
	defer func() { stop() }()
	fl := &follower{path: path, w: w, base: from.base}
	defer fl.close()
	if err := fl.start(from); err != nil {
		return err
	}
	for final := false; ; {
		if err := fl.step(); err != nil {
			return err
		}
		if final {
			return nil
		}
		// CCO_HOME removed and made anew: watch the new directory, and look
		// again for what came before the watch.
		if d, err := os.Stat(dir); err == nil && !os.SameFile(d, watched) {
			stop()
			watched = d
			wake, stop = watcher(dir, interval)
			continue
		}
		// Between two files the next change may come from where no watch
		// sees it (a file moved away, a removed directory): look every
		// interval until the new file is settled.
		var settle <-chan time.Time
		if !fl.settled() {
			settle = time.After(interval)
		}
		select {
		case <-ctx.Done():
			final = true
		case <-wake:
		case <-settle:
		}
	}
}

// watcher is watch; tests put poll in its place to follow as where there
// is no inotify.
var watcher = watch

// follower is Follow's state.
type follower struct {
	path string
	w    io.Writer
	// cur is the file last seen at path; old, one moved aside that its
	// writer may still append to, read before cur until cur gets a line.
	cur, old *source
	base     int64 // rotated files numbered up to base are not newer than cur
	moved    bool  // path did not name cur when last looked at
	buf      []byte
}

// source is an open file of the log and the line it has begun.
type source struct {
	f   *os.File
	fi  os.FileInfo
	off int64
	lw  lineWriter
}

// start finds the file Tail read, at path or rotated since.
func (fl *follower) start(from Mark) error {
	f, fi, err := openRead(fl.path)
	if err == nil && os.SameFile(fi, from.file) {
		return fl.adopt(f, fi, from.offset)
	}
	if err == nil {
		f.Close()
	}
	if !errors.Is(err, fs.ErrNotExist) && err != nil {
		return err
	}
	// Rotated since Tail: numbered base or above.
	for n := max(from.base, 1); ; n++ {
		rf, rfi, err := openRead(config.RotatedLog(fl.path, n))
		if errors.Is(err, fs.ErrNotExist) && n <= from.base {
			continue
		}
		if err != nil {
			break
		}
		if os.SameFile(rfi, from.file) {
			return fl.adopt(rf, rfi, from.offset)
		}
		rf.Close()
	}
	return nil // gone: the next step goes on with the files rotated after it
}

// settled reports whether the follower reads one file, the one at path as
// it last looked.
func (fl *follower) settled() bool { return fl.cur != nil && fl.old == nil && !fl.moved }

// adopt makes f, from offset on, the file followed.
func (fl *follower) adopt(f *os.File, fi os.FileInfo, offset int64) error {
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		f.Close()
		return err
	}
	fl.cur = &source{f: f, fi: fi, off: offset, lw: lineWriter{w: fl.w}}
	return nil
}

// step writes what is new, moving on to the file at path as often as it
// is another one.
func (fl *follower) step() error {
	for {
		moved, err := fl.look()
		if err != nil || !moved {
			return err
		}
	}
}

// look writes what is new and moves on to the file at path when it is
// another one, and reports whether it did.
func (fl *follower) look() (bool, error) {
	// Whether path still names cur is asked before cur is read: if it does
	// not, the writer had left cur by then, and the read takes all of it.
	moved := fl.cur == nil || !same(fl.path, fl.cur.fi)
	fl.moved = moved
	hold := false
	if fl.old != nil {
		fi, err := fl.cur.f.Stat()
		if err != nil {
			return false, err
		}
		if err := fl.read(fl.old); err != nil {
			return false, err
		}
		if fi.Size() > 0 { // the writer moved on: old is complete
			if err := fl.finish(fl.old); err != nil {
				return false, err
			}
			fl.old = nil
		} else {
			hold = true
		}
	}
	if fl.cur != nil && !hold {
		if err := fl.read(fl.cur); err != nil {
			return false, err
		}
		if fi, err := fl.cur.f.Stat(); err == nil && fi.Size() < fl.cur.off {
			// Truncated: read again from the start.
			if _, err := fl.cur.f.Seek(0, io.SeekStart); err != nil {
				return false, err
			}
			fl.cur.off, fl.cur.lw.partial = 0, fl.cur.lw.partial[:0]
			if err := fl.read(fl.cur); err != nil {
				return false, err
			}
		}
	}
	if !moved {
		return false, nil
	}
	return fl.moveOn()
}

// moveOn goes from cur to the file now at path: cur to its end, then the
// files rotated after cur and before the new one.
//
// Those are found by number, not by listing the directory: the daemon
// numbers them one after the other, and a listing made while it adds files
// may show a later one and miss an earlier.
func (fl *follower) moveOn() (bool, error) {
	f, fi, err := openRead(fl.path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil // between a move and a new file: look again later
	}
	if err != nil {
		return false, err
	}
	if err := fl.rotatedBefore(fi); err != nil {
		f.Close()
		return false, err
	}
	fl.old = fl.cur
	fl.cur = &source{f: f, fi: fi, lw: lineWriter{w: fl.w}}
	return true, nil
}

// rotatedBefore writes what is left of old and cur, then the files
// numbered after base up to the first that is next (the file now at path)
// or missing. cur stays open, as old, when no such file follows it: it
// may have been moved aside by another program, whose writer goes on
// appending to it until it reopens.
func (fl *follower) rotatedBefore(next os.FileInfo) error {
	if fl.old != nil { // moved aside twice: the writer is past it
		if err := fl.read(fl.old); err != nil {
			return err
		}
		if err := fl.finish(fl.old); err != nil {
			return err
		}
		fl.old = nil
	}
	if fl.cur != nil { // not read yet while old was
		if err := fl.read(fl.cur); err != nil {
			return err
		}
	}
	n, err := fl.firstAfterBase()
	if err != nil {
		return err
	}
	for ; ; n++ {
		rf, rfi, err := openRead(config.RotatedLog(fl.path, n))
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		if os.SameFile(rfi, next) || fl.cur != nil && os.SameFile(rfi, fl.cur.fi) {
			rf.Close()
			fl.base = n
			if os.SameFile(rfi, next) {
				return nil
			}
			continue
		}
		if fl.cur != nil { // the writer is past it
			if err := fl.finish(fl.cur); err != nil {
				rf.Close()
				return err
			}
			fl.cur = nil
		}
		s := &source{f: rf, fi: rfi, lw: lineWriter{w: fl.w}}
		if err := fl.read(s); err != nil {
			rf.Close()
			return err
		}
		if err := fl.finish(s); err != nil {
			return err
		}
		fl.base = n
	}
}

// firstAfterBase is the number of the first rotated file after base:
// base+1, unless that is gone (log_max_files removed it before the
// follower got there), then the oldest one left above base.
func (fl *follower) firstAfterBase() (int64, error) {
	n := fl.base + 1
	if _, err := os.Stat(config.RotatedLog(fl.path, n)); !errors.Is(err, fs.ErrNotExist) {
		return n, nil
	}
	rotated, err := config.RotatedLogs(fl.path)
	if err != nil {
		return 0, err
	}
	for _, r := range rotated {
		if r.N > n {
			return r.N, nil
		}
	}
	return n, nil
}

// read writes the whole lines appended to s since it was last read.
func (fl *follower) read(s *source) error {
	if fl.buf == nil {
		fl.buf = make([]byte, 64<<10)
	}
	for {
		n, err := s.f.Read(fl.buf)
		s.off += int64(n)
		if _, werr := s.lw.Write(fl.buf[:n]); werr != nil {
			return werr
		}
		if errors.Is(err, io.EOF) || n == 0 {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// finish ends a file that will not grow: its last line even without a
// newline.
func (fl *follower) finish(s *source) error {
	s.f.Close()
	return s.lw.flush()
}

func (fl *follower) close() {
	for _, s := range []*source{fl.old, fl.cur} {
		if s != nil {
			s.f.Close()
		}
	}
}

// lineWriter passes on whole lines only, keeping a partial last line until
// its newline arrives.
type lineWriter struct {
	w       io.Writer
	partial []byte
}

func (l *lineWriter) Write(p []byte) (int, error) {
	l.partial = append(l.partial, p...)
	if i := bytes.LastIndexByte(l.partial, '\n'); i >= 0 {
		if _, err := l.w.Write(l.partial[:i+1]); err != nil {
			return 0, err
		}
		l.partial = append(l.partial[:0], l.partial[i+1:]...)
	}
	return len(p), nil
}

// flush writes a partial last line, ended: at the end of a rotated file.
func (l *lineWriter) flush() error {
	if len(l.partial) == 0 {
		return nil
	}
	_, err := l.w.Write(append(l.partial, '\n'))
	l.partial = l.partial[:0]
	return err
}
