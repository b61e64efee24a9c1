package protocol_test

import (
	"os"
	"strings"
	"testing"

	_ "github.com/anthropics/cco/internal/golden" // its -update flag: `go test ./... -update` works from the root
	"github.com/anthropics/cco/internal/tooltest"

	"github.com/anthropics/cco/config"
	"github.com/anthropics/cco/lifecycle"
	. "github.com/anthropics/cco/protocol"
	"golang.org/x/sys/unix"
)

// TestLockHeldOutside: a lock the system cannot pin on a pid (macOS: a
// flock; Linux: an open file description lock, used here) is reported as
// held by a process outside cco, never as "pid -1".
func TestLockHeldOutside(t *testing.T) {
	home := t.TempDir()
	paths := config.Paths{Home: home}
	path := paths.LockFile()
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	lk := unix.Flock_t{Type: unix.F_WRLCK}
	if err := unix.FcntlFlock(f.Fd(), unix.F_OFD_SETLK, &lk); err != nil {
		tooltest.Missing(t, "no open file description locks here: %v", err)
	}
	if pid, err := LockHolder(path); err != nil || pid != Outside {
		t.Fatalf("LockHolder = %d, %v; want %d", pid, err, Outside)
	}
	_, err = AcquireLock(path)
	for _, want := range []string{path + " is locked by a process outside cco", "lsof " + path} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("AcquireLock: %v; want it to say %q", err, want)
		}
	}
	if err != nil && strings.Contains(err.Error(), "pid -1") {
		t.Errorf("AcquireLock names pid -1: %v", err)
	}
	_, err = lifecycle.New(paths).Inspect()
	if err == nil || !strings.Contains(err.Error(), "outside cco") {
		t.Errorf("Inspect: %v", err)
	}
}
