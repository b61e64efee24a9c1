package main

import (
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/anthropics/cco/internal/tooltest"
)

// TestMakeInstall installs into a temporary DESTDIR as a packager does,
// finds the pages there with man, and uninstalls every file again.
func TestMakeInstall(t *testing.T) {
	makeTool := tooltest.Need(t, "make", "make")
	man := tooltest.Need(t, "man", "man-db")
	dest := t.TempDir()
	if out, err := exec.Command(makeTool, "-C", root, "install", "DESTDIR="+dest).CombinedOutput(); err != nil {
		t.Fatalf("make install: %v\n%s", err, out)
	}
	prefix := filepath.Join(dest, "usr", "local")
	for _, f := range []string{
		"bin/cco",
		"share/man/man1/cco.1",
		"share/man/man1/cco-daemon.1",
		"share/man/man1/cco-usage.1",
		"share/man/man5/cco-config.toml.5",
		"share/bash-completion/completions/cco",
		"share/zsh/site-functions/_cco",
		"share/fish/vendor_completions.d/cco.fish",
		"lib/systemd/user/cco-daemon.service",
	} {
		if _, err := os.Stat(filepath.Join(prefix, f)); err != nil {
			t.Errorf("make install did not install %s: %v", f, err)
		}
	}
	unit, _ := os.ReadFile(filepath.Join(prefix, "lib/systemd/user/cco-daemon.service"))
	if !strings.Contains(string(unit), "ExecStart=/usr/local/bin/cco ") {
		t.Errorf("the installed unit does not run /usr/local/bin/cco:\n%s", unit)
	}
	for _, page := range [][]string{{"cco-daemon"}, {"cco-usage"}, {"5", "cco-config.toml"}, {"cco"}} {
		cmd := exec.Command(man, append([]string{"-w"}, page...)...)
		cmd.Env = append(os.Environ(), "MANPATH="+filepath.Join(prefix, "share", "man"))
		if out, err := cmd.Output(); err != nil || !strings.HasPrefix(string(out), dest) {
			t.Errorf("man -w %s with the installed MANPATH: %q %v", strings.Join(page, " "), out, err)
		}
	}

	if out, err := exec.Command(makeTool, "-C", root, "uninstall", "DESTDIR="+dest).CombinedOutput(); err != nil {
		t.Fatalf("make uninstall: %v\n%s", err, out)
	}
	filepath.WalkDir(dest, func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			t.Errorf("make uninstall left %s", path)
		}
		return err
	})
}
