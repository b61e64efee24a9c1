package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/anthropics/cco/internal/tooltest"
)

// TestCheckRefusesWritableByOthers: a CCO_HOME that group or others may
// write to is refused, by Check and Ensure, with a message naming it, its
// mode and the fix; its mode is left as it was.
func TestCheckRefusesWritableByOthers(t *testing.T) {
	for _, mode := range []os.FileMode{0o770, 0o707, 0o777, 0o1777} {
		p := Paths{Home: filepath.Join(t.TempDir(), ".cco")}
		if err := os.Mkdir(p.Home, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p.Home, mode); err != nil {
			t.Fatal(err)
		}
		for name, f := range map[string]func() error{"Check": p.Check, "Ensure": p.Ensure} {
			err := f()
			if err == nil || !strings.Contains(err.Error(), p.Home) || !strings.Contains(err.Error(), "writable by group or others") ||
				!strings.Contains(err.Error(), "chmod 700 "+p.Home) {
				t.Errorf("%s of a CCO_HOME of mode %v: %v", name, mode, err)
			}
		}
		if fi, _ := os.Stat(p.Home); fi.Mode()&os.ModePerm != mode&os.ModePerm {
			t.Errorf("a refused CCO_HOME's mode changed from %v to %v", mode, fi.Mode())
		}
	}
}

// TestEnsureTightens: an existing CCO_HOME that others may read or enter
// is made 0700 by Ensure; Check (every command) only looks; a missing one
// is made 0700 whatever the umask.
func TestEnsureTightens(t *testing.T) {
	p := Paths{Home: filepath.Join(t.TempDir(), ".cco")}
	if err := p.Check(); err != nil {
		t.Fatalf("Check of a missing CCO_HOME: %v", err)
	}
	if err := p.Ensure(); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(p.Home); fi.Mode().Perm() != 0o700 {
		t.Fatalf("new CCO_HOME: mode %v", fi.Mode().Perm())
	}
	for _, mode := range []os.FileMode{0o755, 0o750, 0o711, 0o705} {
		if err := os.Chmod(p.Home, mode); err != nil {
			t.Fatal(err)
		}
		if err := p.Check(); err != nil {
			t.Errorf("Check of mode %v: %v", mode, err)
		}
		if fi, _ := os.Stat(p.Home); fi.Mode().Perm() != mode {
			t.Errorf("Check changed mode %v to %v", mode, fi.Mode().Perm())
		}
		if err := p.Ensure(); err != nil {
			t.Errorf("Ensure of mode %v: %v", mode, err)
		}
		if fi, _ := os.Stat(p.Home); fi.Mode().Perm() != 0o700 {
			t.Errorf("Ensure left mode %v as %v, want 0700", mode, fi.Mode().Perm())
		}
	}
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := (Paths{Home: file}).Check(); err == nil || !strings.Contains(err.Error(), file+" is not a directory") {
		t.Errorf("Check of a CCO_HOME that is a file: %v", err)
	}
}

// TestRefusesAnotherUsersHome: root (sudo keeping HOME) in a CCO_HOME of
// another user is refused with a message naming the directory and its
// owner; so is making CCO_HOME in another user's directory.
func TestRefusesAnotherUsersHome(t *testing.T) {
	if os.Geteuid() != 0 {
		tooltest.Missing(t, "root, to give CCO_HOME to another user")
	}
	theirs := t.TempDir()
	if err := os.Chmod(theirs, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(theirs, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	p := Paths{Home: filepath.Join(theirs, ".cco")}
	if err := os.Mkdir(p.Home, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(p.Home, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	for name, f := range map[string]func() error{"Check": p.Check, "Ensure": p.Ensure} {
		err := f()
		if err == nil || !strings.Contains(err.Error(), "refusing CCO_HOME "+p.Home) || !strings.Contains(err.Error(), "uid 65534") {
			t.Errorf("%s of another user's CCO_HOME: %v", name, err)
		}
	}
	fresh := Paths{Home: filepath.Join(theirs, "sub", ".cco")}
	err := fresh.Ensure()
	if err == nil || !strings.Contains(err.Error(), theirs) || !strings.Contains(err.Error(), "uid 65534") {
		t.Errorf("Ensure of a CCO_HOME to make in another user's directory: %v", err)
	}
	if _, err := os.Stat(filepath.Join(theirs, "sub")); !os.IsNotExist(err) {
		t.Errorf("Ensure made a directory in another user's directory: %v", err)
	}
}

// BenchmarkCheck is what every command (status too) pays for the check of
// CCO_HOME.
func BenchmarkCheck(b *testing.B) {
	p := Paths{Home: b.TempDir()}
	for b.Loop() {
		if err := p.Check(); err != nil {
			b.Fatal(err)
		}
	}
}
