package render

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/google/renameio/v2"
)

// WriteOption changes how WriteFile writes.
type WriteOption func(*writeOptions)

type writeOptions struct{ dirMode os.FileMode }

// DirMode is the mode of the parent directories WriteFile creates (0700
// unless given): 0755 suits a packager's output directory.
func DirMode(m os.FileMode) WriteOption {
	return func(o *writeOptions) { o.dirMode = m }
}

// WriteFile replaces path with data atomically: readers see the old file or
// the new one, never a mix. Missing parent directories are created (mode
// 0700 unless DirMode says otherwise); the file gets exactly mode perm.
func WriteFile(path string, data []byte, perm os.FileMode, opts ...WriteOption) error {
	o := writeOptions{dirMode: 0o700}
	for _, opt := range opts {
		opt(&o)
	}
	if err := os.MkdirAll(filepath.Dir(path), o.dirMode); err != nil {
		return fmt.Errorf("creating the directory of %s: %w", path, err)
	}
	if err := renameio.WriteFile(path, data, perm, renameio.WithStaticPermissions(perm)); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	removeAbandonedTemps(path, time.Now().Add(-abandonedAfter))
	return nil
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
