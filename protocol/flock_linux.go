package protocol

import (
	"context"
	"errors"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// flockWait bounds flockToo's wait: see there.
const flockWait = time.Second

// flockToo takes a flock on f beside the record lock (see lock.go). The
// record lock already excludes every other daemon, but a daemon that is
// exiting releases its record lock when its descriptor is closed and its
// flock only when the file is let go, a moment later: flockToo waits up to
// flockWait for that moment rather than fail a start.
func flockToo(f *os.File) error {
	ctx, cancel := context.WithTimeout(context.Background(), flockWait)
	defer cancel()
	var err error
	if perr := Poll(ctx, func() (bool, error) {
		err = unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		return !errors.Is(err, unix.EWOULDBLOCK) && !errors.Is(err, unix.EINTR), nil
	}); perr != nil {
		return err
	}
	return err
}
