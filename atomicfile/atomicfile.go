// Package atomicfile replaces files atomically: a reader sees the old file
// or the new one, never a mix, and a writer killed at any moment leaves the
// old file whole.
package atomicfile

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/google/renameio/v2"
)

// Option changes how WriteFile writes.
type Option func(*options)

type options struct {
	dirMode  os.FileMode
	volatile bool
}

// DirMode is the mode of the parent directories WriteFile creates (0700
// unless given): 0755 suits a packager's output directory.
func DirMode(m os.FileMode) Option {
	return func(o *options) { o.dirMode = m }
}

// Volatile writes a file whose content a power loss makes meaningless,
// such as one describing a running process: the data is not flushed to
// disk before the rename (about a millisecond spared). A reader still sees
// the old file or the new one, and a writer killed at any moment still
// leaves the old file whole; only a crash of the whole system may leave
// the file empty or old.
func Volatile() Option {
	return func(o *options) { o.volatile = true }
}

// WriteFile replaces path with data atomically. Missing parent directories
// are created (mode 0700 unless DirMode says otherwise). The file gets
// exactly mode perm, whatever mode the file it replaces had and whatever the
// umask: the temporary file is chmod-ed before it is renamed into place.
// The temporary file is made beside path, never in $TMPDIR, so that the
// rename is atomic and a temporary file abandoned by a killed writer is
// found and removed by a later write. A symbolic link at path is replaced by
// the file, never written through.
func WriteFile(path string, data []byte, perm os.FileMode, opts ...Option) error {
	o := options{dirMode: 0o700}
	for _, opt := range opts {
		opt(&o)
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, o.dirMode); err != nil {
		return fmt.Errorf("creating the directory of %s: %w", path, err)
	}
	write := replace
	if o.volatile {
		write = replaceVolatile
	}
	if err := write(dir, path, data, perm); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	removeAbandonedTemps(path, time.Now().Add(-abandonedAfter))
	return nil
}

func replace(dir, path string, data []byte, perm os.FileMode) error {
	pf, err := renameio.TempFile(dir, path)
	if err != nil {
		return err
	}
	defer pf.Cleanup()
	if err := pf.Chmod(perm); err != nil {
		return err
	}
	if _, err := pf.Write(data); err != nil {
		return err
	}
	return pf.CloseAtomicallyReplace()
}

// replaceVolatile is replace without the flush to disk: a temporary file
// named as renameio names them (".<name><digits>" beside path), its mode
// set, written, closed and renamed over path.
func replaceVolatile(dir, path string, data []byte, perm os.FileMode) (err error) {
	f, err := os.CreateTemp(dir, "."+filepath.Base(path))
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if err := f.Chmod(perm); err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}

// abandonedAfter is how old a temporary file of WriteFile must be before it
// is taken for one a killed writer left behind; a live writer is done with
// its temporary file within milliseconds.
const abandonedAfter = time.Minute

// removeAbandonedTemps removes the temporary files of path that writers
// killed between create and rename left (renameio names them
// ".<name><digits>" beside path), so that they do not pile up.
func removeAbandonedTemps(path string, before time.Time) {
	dir, prefix := filepath.Dir(path), "."+filepath.Base(path)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		rest, ok := strings.CutPrefix(e.Name(), prefix)
		if !ok || rest == "" || strings.Trim(rest, "0123456789") != "" {
			continue
		}
		if fi, err := e.Info(); err == nil && fi.Mode().IsRegular() && fi.ModTime().Before(before) {
			os.Remove(filepath.Join(dir, e.Name()))
		}
	}
}
