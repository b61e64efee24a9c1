package testhost

import (
	"errors"
	"io/fs"
	"os"

	"golang.org/x/sys/unix"
)

// LockHeld reports whether anyone holds a record lock on path — this test
// process included. protocol.LockHolder asks with F_GETLK, which never
// reports the asking process's own locks, so an in-process test that used
// it to see a lock released could not fail; an open file description lock
// (F_OFD_GETLK) conflicts with every record lock, its own process's too.
func LockHeld(t interface{ Fatal(...any) }, path string) bool {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return false
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	lk := unix.Flock_t{Type: unix.F_WRLCK}
	if err := unix.FcntlFlock(f.Fd(), unix.F_OFD_GETLK, &lk); err != nil {
		t.Fatal("F_OFD_GETLK ", path, ": ", err)
	}
	return lk.Type != unix.F_UNLCK
}
