package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"syscall"
	"time"

	"github.com/anthropics/cco/protocol"
)

// killWait bounds the wait for the lock after SIGKILL.
const killWait = 5 * time.Second

// slowAfter is how long stop waits in silence before it tells Progress
// what it is waiting for.
const slowAfter = time.Second

// Stopped is what Stop did.
type Stopped struct {
	PID    int           // the daemon stopped, 0 when none ran
	Killed bool          // it ignored SIGTERM for the whole timeout
	Stale  string        // a stale state file was removed, and why
	Took   time.Duration // from the signal to the lock's release
}

// Stop stops the running daemon: proof of identity, SIGTERM, a wait for its
// lock to be released (a zombie holds no lock), and SIGKILL after timeout.
// With no daemon running it only cleans a stale state file.
func (c *Controller) Stop(ctx context.Context, timeout time.Duration) (*Stopped, error) {
	in, err := c.Inspect()
	if err != nil {
		return nil, err
	}
	if in.Running == nil {
		return &Stopped{Stale: in.Stale}, nil
	}
	r := in.Running
	begin := c.Now()
	if err := c.signal(r, syscall.SIGTERM); err != nil {
		return nil, err
	}
	res := &Stopped{PID: r.PID}
	unlocked := protocol.WatchUnlock(c.Paths.LockFile())
	err = waitFor(ctx, unlocked, min(slowAfter, timeout))
	if errors.Is(err, context.DeadlineExceeded) && timeout > slowAfter {
		if c.Progress != nil {
			fmt.Fprintf(c.Progress, "waiting for the daemon (pid %d) to exit; SIGKILL in %v\n", r.PID, (timeout - slowAfter).Round(time.Second))
		}
		err = waitFor(ctx, unlocked, timeout-slowAfter)
	}
	if err != nil {
		if !errors.Is(err, context.DeadlineExceeded) {
			return nil, err
		}
		res.Killed = true
		if err := c.signal(r, syscall.SIGKILL); err != nil {
			return nil, err
		}
		if err := waitFor(ctx, unlocked, killWait); errors.Is(err, context.DeadlineExceeded) {
			return nil, fmt.Errorf("the daemon (pid %d) still holds %s %v after SIGKILL: it may be stuck in the kernel (state D); look at /proc/%d/status", r.PID, c.Paths.LockFile(), killWait, r.PID)
		} else if err != nil {
			return nil, err
		}
	}
	res.Took = c.Now().Sub(begin)
	// A killed daemon could not remove its state file.
	if err := protocol.RemoveStateOf(c.Paths.PIDFile(), r.PID); err != nil {
		return nil, err
	}
	return res, nil
}

// waitFor waits for ch up to d; it returns context.DeadlineExceeded on
// timeout.
func waitFor(ctx context.Context, ch <-chan error, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case err := <-ch:
		return err
	case <-t.C:
		return context.DeadlineExceeded
	case <-ctx.Done():
		return ctx.Err()
	}
}

// WaitStopped waits up to timeout for the daemon's lock to be released: how
// stop sees a daemon that its service manager stops. It waits in the kernel,
// not by polling; it returns context.DeadlineExceeded on timeout.
func (c *Controller) WaitStopped(ctx context.Context, timeout time.Duration) error {
	return waitFor(ctx, protocol.WatchUnlock(c.Paths.LockFile()), timeout)
}
