// Package tooltest finds the real programs that tests check cco's output
// with (shells, mandoc, man). Without one, a test fails under CI=true and is
// skipped elsewhere, naming what to install.
package tooltest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"
)

// Need returns the path of the program tool, which Debian's package pkg
// installs.
func Need(t testing.TB, tool, pkg string) string {
	t.Helper()
	path, err := exec.LookPath(tool)
	if err != nil {
		missing(t, tool, pkg)
	}
	return path
}

// NeedFile returns path, a file that Debian's package pkg installs.
func NeedFile(t testing.TB, path, pkg string) string {
	t.Helper()
	if _, err := os.Stat(path); err != nil {
		missing(t, path, pkg)
	}
	return path
}

func missing(t testing.TB, what, pkg string) {
	t.Helper()
	Missing(t, "%s is not installed (apt-get install %s)", what, pkg)
}

// InCI reports whether the tests run in CI: CI is set to anything but
// "false" (CI systems set it to "true", "1" or "yes").
func InCI() bool {
	ci := os.Getenv("CI")
	return ci != "" && ci != "false"
}

// Missing is the one rule for a test that lacks what it needs (a tool,
// root, a kernel feature): it fails in CI, where every check must run, and
// is skipped elsewhere with the reason.
func Missing(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if InCI() {
		t.Fatalf("%s; in CI a missing prerequisite is a failure", msg)
	}
	t.Skipf("skipped: %s", msg)
}

// Lint checks a man page with `mandoc -Tlint -Wwarning`: any warning fails.
func Lint(t testing.TB, page string) {
	t.Helper()
	mandoc := Need(t, "mandoc", "mandoc")
	if out, err := exec.Command(mandoc, "-Tlint", "-Wwarning", page).CombinedOutput(); err != nil {
		t.Errorf("mandoc -Tlint -Wwarning %s: %v\n%s", filepath.Base(page), err, out)
	}
}

// ManText is a man page as `man -l` shows a user at width columns, as
// plain text.
func ManText(t testing.TB, page string, width int) string {
	t.Helper()
	cmd := exec.Command(Need(t, "man", "man-db"), "-l", page)
	cmd.Env = append(os.Environ(), fmt.Sprintf("MANWIDTH=%d", width), "MAN_KEEP_FORMATTING=", "LC_ALL=C.UTF-8")
	out, err := cmd.Output()
	if err != nil || len(out) == 0 {
		t.Errorf("man -l %s: %v", filepath.Base(page), err)
	}
	return overstrike.ReplaceAllString(string(out), "")
}

// overstrike is how man marks bold and underlined characters on a pipe.
var overstrike = regexp.MustCompile(".\b")
