// Package tooltest finds the real programs that tests check cco's output
// with (shells, mandoc, man). Without one, a test fails under CI=true and is
// skipped elsewhere, naming what to install.
package tooltest

import (
	"os"
	"os/exec"
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
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s is missing (apt-get install %s); CI must run every check", what, pkg)
	}
	t.Skipf("%s is not installed (apt-get install %s): skipping the check it does", what, pkg)
}
