package lifecycle

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
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
// until ctx is done. It keeps going across rotation (the path names a new
// file: the rest of the old one is read first, then the new one from its
// start) and truncation (read again from the start), and writes each line
// once. It checks for new data every interval.
func Follow(ctx context.Context, w io.Writer, path string, offset int64, interval time.Duration) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer func() { f.Close() }()
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		return err
	}
	var partial []byte
	buf := make([]byte, tailBlock)
	// drain writes every whole line up to the end of f.
	drain := func() error {
		for {
			n, err := f.Read(buf)
			if n > 0 {
				partial = append(partial, buf[:n]...)
				if i := bytes.LastIndexByte(partial, '\n'); i >= 0 {
					if _, werr := w.Write(partial[:i+1]); werr != nil {
						return werr
					}
					partial = append(partial[:0], partial[i+1:]...)
				}
			}
			if errors.Is(err, io.EOF) || n == 0 {
				return nil
			}
			if err != nil {
				return err
			}
		}
	}
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		if err := drain(); err != nil {
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
			// Rotated: what the old file still holds comes first.
			if err := drain(); err != nil {
				return err
			}
			if len(partial) > 0 {
				if _, err := w.Write(append(partial, '\n')); err != nil {
					return err
				}
				partial = partial[:0]
			}
			nf, err := os.Open(path)
			if err != nil {
				continue
			}
			f.Close()
			f = nf
			continue
		default:
			if pos, err := f.Seek(0, io.SeekCurrent); err == nil && next.Size() < pos {
				// Truncated: start over.
				partial = partial[:0]
				if _, err := f.Seek(0, io.SeekStart); err != nil {
					return err
				}
				continue
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}
