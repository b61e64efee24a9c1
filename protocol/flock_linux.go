package protocol

import (
	"os"

	"golang.org/x/sys/unix"
)

// flockToo takes a flock on f beside the record lock (see lock.go): the
// record lock already excludes every other daemon, so this never waits.
func flockToo(f *os.File) error {
	return unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
}
