package lifecycle

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"strconv"
	"time"
)

// tailBlock is how much Tail reads at a time, backwards from the end.
const tailBlock = 64 << 10

// Tail writes the last n lines of the file at path to w and returns the
// offset it read up to. It reads backwards from the end, so its cost depends
// on n and the length of the lines, not on the size of the file.
func Tail(w io.Writer, path string, n int) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return 0, err
	}
	size := fi.Size()
	start := tailStart(f, size, n)
	if _, err := io.Copy(w, io.NewSectionReader(f, start, size-start)); err != nil {
		return 0, err
	}
	return size, nil
}

// tailStart finds the offset of the n-th line from the end of f's first size
// bytes. A last line without a newline counts as a line.
func tailStart(f *os.File, size int64, n int) int64 {
	if n <= 0 {
		return size
	}
	buf := make([]byte, tailBlock)
	pos, seen := size, 0
	for pos > 0 {
		k := int64(len(buf))
		if pos < k {
			k = pos
		}
		pos -= k
		if _, err := f.ReadAt(buf[:k], pos); err != nil && !errors.Is(err, io.EOF) {
			return pos + k
		}
		b := buf[:k]
		for i := bytes.LastIndexByte(b, '\n'); i >= 0; i = bytes.LastIndexByte(b[:i], '\n') {
			if pos+int64(i) == size-1 {
				continue // the newline that ends the last line
			}
			if seen++; seen == n {
				return pos + int64(i) + 1
			}
		}
	}
	return 0
}

// Follow writes whole lines appended to the file at path from offset on,
// until ctx is done; then it writes what was appended up to that moment and
// returns. It keeps going across rotation — the daemon renames path to
// path.1 (and path.1 to path.2 …) and opens a new path: the rest of the old
// file comes first, then any file rotated after it, then the new path — and
// across truncation (read again from the start). Each line is written once.
// It looks for new data every interval.
func Follow(ctx context.Context, w io.Writer, path string, offset int64, interval time.Duration) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer func() { f.Close() }()
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		return err
	}
	lw := &lineWriter{w: w}
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for final := false; ; {
		if _, err := io.Copy(lw, f); err != nil {
			return err
		}
		cur, err := f.Stat()
		if err != nil {
			return err
		}
		next, err := os.Stat(path)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			// Between the rename and the new file: look again later.
		case err != nil:
			return err
		case !os.SameFile(cur, next):
			if err := copyRotatedAfter(lw, path, cur); err != nil {
				return err
			}
			if err := lw.flush(); err != nil {
				return err
			}
			if nf, err := os.Open(path); err == nil {
				f.Close()
				f = nf
				continue
			}
		default:
			if pos, err := f.Seek(0, io.SeekCurrent); err == nil && next.Size() < pos {
				lw.partial = lw.partial[:0]
				if _, err := f.Seek(0, io.SeekStart); err != nil {
					return err
				}
				continue
			}
		}
		if final {
			return nil
		}
		select {
		case <-ctx.Done():
			final = true
		case <-tick.C:
		}
	}
}

// copyRotatedAfter copies the files rotated after old — path.N … path.1,
// oldest first — when the log rotated more than once since it was last
// looked at.
func copyRotatedAfter(w io.Writer, path string, old os.FileInfo) error {
	var newer []string
	for i := 1; ; i++ {
		name := path + "." + strconv.Itoa(i)
		fi, err := os.Stat(name)
		if err != nil || os.SameFile(fi, old) {
			break
		}
		newer = append(newer, name)
	}
	for i := len(newer) - 1; i >= 0; i-- {
		f, err := os.Open(newer[i])
		if err != nil {
			continue // rotated away meanwhile
		}
		_, err = io.Copy(w, f)
		f.Close()
		if err != nil {
			return err
		}
	}
	return nil
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
