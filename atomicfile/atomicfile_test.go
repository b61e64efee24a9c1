package atomicfile

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	_ "github.com/anthropics/cco/internal/golden" // its -update flag: `go test ./... -update` works from the root
)

// ways are the ways WriteFile writes: each test runs for each.
var ways = map[string][]Option{"flushed": nil, "volatile": {Volatile()}}

func TestWriteFileModesAndDirs(t *testing.T) {
	for way, opts := range ways {
		t.Run(way, func(t *testing.T) { testModesAndDirs(t, opts) })
	}
}

func testModesAndDirs(t *testing.T, opts []Option) {
	path := filepath.Join(t.TempDir(), "new", "config.toml")
	if err := WriteFile(path, []byte("a"), 0o600, opts...); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(path, []byte("b"), 0o600, opts...); err != nil {
		t.Fatal(err)
	}
	if entries, _ := os.ReadDir(filepath.Dir(path)); len(entries) != 1 {
		t.Errorf("the directory holds %v, want config.toml alone (no temporary file left)", entries)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("file: %v %v", fi, err)
	}
	if di, _ := os.Stat(filepath.Dir(path)); di.Mode().Perm() != 0o700 {
		t.Fatalf("new parent directory mode %v, want 0700", di.Mode().Perm())
	}
	if b, _ := os.ReadFile(path); string(b) != "b" {
		t.Fatalf("content %q", b)
	}
}

// TestWriteFileRemovesAbandonedTemps: the temporary files of writers killed
// before their rename are removed once they are old; a fresh one (a writer
// at work right now) and other files are left alone.
func TestWriteFileRemovesAbandonedTemps(t *testing.T) {
	for way, opts := range ways {
		t.Run(way, func(t *testing.T) { testRemovesAbandonedTemps(t, opts) })
	}
}

func testRemovesAbandonedTemps(t *testing.T, opts []Option) {
	dir := t.TempDir()
	path := filepath.Join(dir, "config.toml")
	old := time.Now().Add(-2 * abandonedAfter)
	files := map[string]bool{ // name -> should survive
		".config.toml123456789": false,
		".config.toml42":        true, // fresh
		".config.tomlx1":        true, // not a temporary file of ours
		".config.toml":          true,
		"config.toml.bak":       true,
	}
	for name := range files {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
		if name != ".config.toml42" {
			os.Chtimes(p, old, old)
		}
	}
	if err := WriteFile(path, []byte("new"), 0o600, opts...); err != nil {
		t.Fatal(err)
	}
	for name, survive := range files {
		_, err := os.Stat(filepath.Join(dir, name))
		if survive != (err == nil) {
			t.Errorf("%s: survive=%v, stat error %v", name, survive, err)
		}
	}
}

// TestWriteFileSetsModeWhateverTheOldFileHad: a world-writable file (a
// user's chmod, another tool's write) is replaced by one with exactly perm,
// and the umask cannot take bits away from perm either.
func TestWriteFileSetsModeWhateverTheOldFileHad(t *testing.T) {
	for way, opts := range ways {
		t.Run(way, func(t *testing.T) { testSetsMode(t, opts) })
	}
}

func testSetsMode(t *testing.T, opts []Option) {
	path := filepath.Join(t.TempDir(), "config.toml")
	if err := os.WriteFile(path, []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o666); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(path, []byte("new"), 0o600, opts...); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v after replacing a 0666 file, want 0600", fi.Mode().Perm())
	}
	old := syscall.Umask(0o077)
	defer syscall.Umask(old)
	if err := WriteFile(path, []byte("shared"), 0o644, opts...); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o644 {
		t.Fatalf("mode %v under umask 077, want 0644", fi.Mode().Perm())
	}
}

// TestWriteFileReplacesASymlink: a link planted at path is replaced, and
// what it pointed to is untouched.
func TestWriteFileReplacesASymlink(t *testing.T) {
	for way, opts := range ways {
		t.Run(way, func(t *testing.T) { testReplacesASymlink(t, opts) })
	}
}

func testReplacesASymlink(t *testing.T, opts []Option) {
	dir := t.TempDir()
	victim := filepath.Join(dir, "victim")
	if err := os.WriteFile(victim, []byte("keep"), 0o600); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "daemon.pid")
	if err := os.Symlink(victim, path); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(path, []byte("state"), 0o600, opts...); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(victim); string(b) != "keep" {
		t.Fatalf("the link's target was written: %q", b)
	}
	if fi, _ := os.Lstat(path); !fi.Mode().IsRegular() {
		t.Fatalf("%s is %v, want a regular file", path, fi.Mode())
	}
}
