package config

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/anthropics/cco/internal/tooltest"
)

// TestSaveThroughLinks: Save replaces the file a chain of links leads to
// and keeps every link; a plain path is replaced as before.
func TestSaveThroughLinks(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "dotfiles", "cco.toml")
	if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(target, []byte("port = 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	hop := filepath.Join(dir, "hop")
	if err := os.Symlink("dotfiles/cco.toml", hop); err != nil { // relative to the link's directory
		t.Fatal(err)
	}
	link := filepath.Join(dir, "home", "config.toml")
	if err := os.MkdirAll(filepath.Dir(link), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(hop, link); err != nil {
		t.Fatal(err)
	}
	if err := Save(link, []byte("port = 2\n")); err != nil {
		t.Fatal(err)
	}
	for _, l := range []string{link, hop} {
		if fi, err := os.Lstat(l); err != nil || fi.Mode()&os.ModeSymlink == 0 {
			t.Errorf("%s is no longer a link: %v %v", l, fi, err)
		}
	}
	if b, _ := os.ReadFile(target); string(b) != "port = 2\n" {
		t.Errorf("the file the links lead to holds %q", b)
	}
	if fi, _ := os.Stat(target); fi.Mode().Perm() != 0o600 {
		t.Errorf("the file the links lead to: mode %v, want 0600", fi.Mode().Perm())
	}
	loop := filepath.Join(dir, "loop")
	if err := os.Symlink(loop, loop); err != nil {
		t.Fatal(err)
	}
	if err := Save(loop, nil); err == nil || !strings.Contains(err.Error(), "symbolic links in a row") {
		t.Errorf("Save through a loop of links: %v", err)
	}
}

// TestSaveRefusesWhatIsNotTheUsersFile: a link to a FIFO or to another
// user's file is not written through.
func TestSaveRefusesWhatIsNotTheUsersFile(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "config.toml")
	if err := os.Symlink(fifo, link); err != nil {
		t.Fatal(err)
	}
	if err := Save(link, []byte("port = 2\n")); err == nil || !strings.Contains(err.Error(), fifo+" is a FIFO") {
		t.Errorf("Save through a link to a FIFO: %v", err)
	}
	if os.Geteuid() != 0 {
		tooltest.Missing(t, "root, to give a file to another user")
	}
	theirs := filepath.Join(dir, "theirs.toml")
	if err := os.WriteFile(theirs, []byte("port = 1\n"), 0o666); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(theirs, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	os.Remove(link)
	if err := os.Symlink(theirs, link); err != nil {
		t.Fatal(err)
	}
	if err := Save(link, []byte("port = 2\n")); err == nil || !strings.Contains(err.Error(), "uid 65534") {
		t.Errorf("Save through a link to another user's file: %v", err)
	}
	if b, _ := os.ReadFile(theirs); string(b) != "port = 1\n" {
		t.Errorf("another user's file was written: %q", b)
	}
}
