package testhost

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// InotifyFDs counts this process's open inotify instances, so that a test
// can see one left open; it skips the test where there is no inotify.
func InotifyFDs(t testing.TB) int {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Skip("counts inotify instances, which only Linux has")
	}
	links, err := filepath.Glob("/proc/self/fd/*")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, l := range links {
		if target, err := os.Readlink(l); err == nil && target == "anon_inode:inotify" {
			n++
		}
	}
	return n
}
