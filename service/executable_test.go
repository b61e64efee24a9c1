package service

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/anthropics/cco/internal/testhost"
)

// TestStableExecutable lays out a Homebrew-like install, bin/cco a symlink
// into a versioned directory, and runs cco the ways a user can.
func TestStableExecutable(t *testing.T) {
	root := t.TempDir()
	versioned := filepath.Join(root, "Cellar", "cco", "1.2.0", "bin", "cco")
	testhost.WriteExecutable(t, versioned)
	bin := filepath.Join(root, "bin")
	link := filepath.Join(bin, "cco")
	if err := os.MkdirAll(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../Cellar/cco/1.2.0/bin/cco", link); err != nil {
		t.Fatal(err)
	}
	other := filepath.Join(root, "other", "cco")
	testhost.WriteExecutable(t, other)
	notExec := filepath.Join(root, "plain", "cco")
	if err := os.MkdirAll(filepath.Dir(notExec), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(notExec, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	// os.Executable on Linux: the symlink resolved.
	running := func() (string, error) { return versioned, nil }
	unknown := func() (string, error) { return "", errors.New("no /proc") }

	for _, c := range []struct {
		name, argv0, path, cwd string
		exe                    func() (string, error)
		want                   string
	}{
		{"found on PATH, past a file that is not executable", "cco", filepath.Join(root, "plain") + ":" + bin, "/", running, link},
		{"empty PATH entry is the cwd", "cco", ":/nonexistent", bin, running, link},
		{"relative PATH entry", "cco", "bin", root, running, link},
		{"absolute argv0", link, "", "/", running, link},
		{"relative argv0", "./bin/../bin/cco", "", root, running, link},
		{"argv0 names another program", other, "", "/", running, versioned},
		{"argv0 not on PATH", "cco", "/nonexistent", "/", running, versioned},
		{"argv0 a login shell's", "-cco", bin, "/", running, versioned},
		{"argv0 empty", "", bin, "/", running, versioned},
		{"os.Executable fails", "cco", bin, "/", unknown, link},
	} {
		got, err := StableExecutable(c.argv0, c.path, c.cwd, c.exe)
		if err != nil || got != c.want {
			t.Errorf("%s: got %q, %v; want %q", c.name, got, err, c.want)
		}
	}
	if _, err := StableExecutable("cco", "/nonexistent", "/", unknown); err == nil || !strings.Contains(err.Error(), "--exec") {
		t.Errorf("nothing to go by: got %v, want an error pointing to --exec", err)
	}
}

func TestTransientExecutable(t *testing.T) {
	for path, want := range map[string]string{
		"/tmp/go-build123456/b001/exe/cco":         "/tmp/go-build123456/b001/exe/cco is a temporary build of `go run`, deleted when it exits",
		"/home/u/.cache/go-build/ab/cco":           "/home/u/.cache/go-build/ab/cco is a temporary build of `go run`, deleted when it exits",
		"/var/folders/x/T/go-build99/b001/exe/cco": "/var/folders/x/T/go-build99/b001/exe/cco is a temporary build of `go run`, deleted when it exits",
		"/tmp/cco":                               "/tmp/cco is in the temporary directory /tmp, which is cleaned without notice",
		"/scratch/t/cco":                         "/scratch/t/cco is in the temporary directory /scratch/t, which is cleaned without notice",
		"/usr/local/bin/cco":                     "",
		"/home/u/.local/bin/cco":                 "",
		"/tmpfoo/cco":                            "",
		"/opt/homebrew/Cellar/cco/1.2.0/bin/cco": "",
	} {
		if got := TransientExecutable(path, "/scratch/t", "/tmp", ""); got != want {
			t.Errorf("TransientExecutable(%q) = %q, want %q", path, got, want)
		}
	}
}
