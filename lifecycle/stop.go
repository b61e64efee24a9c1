package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"syscall"
	"time"

	"github.com/anthropics/cco/protocol"
)

// killWait bounds the wait for the daemon to exit after SIGKILL.
const killWait = 5 * time.Second

// slowAfter is how long stop waits in silence before it tells Progress
// what it is waiting for.
const slowAfter = time.Second

// Stopped is what Stop did.
type Stopped struct {
	PID    int           // the daemon stopped, 0 when none ran
	Killed bool          // it ignored SIGTERM for the whole timeout
	Stale  string        // a stale state file was removed, and why
	Took   time.Duration // from the signal to the daemon's exit
	// Warning says what went wrong after the daemon stopped (its state
	// file could not be removed); "" when nothing did.
	Warning string
}

// Stop stops the running daemon: proof of identity (see Inspect; a lock
// holder without proof is given up to timeout to prove itself or exit),
// SIGTERM,
// a wait for the process to exit (one exiting or a zombie counts as exited:
// a daemon that ends on SIGTERM has released its lock by then), and SIGKILL
// after timeout. With no daemon running it only cleans a stale state file.
// Once the daemon is gone Stop returns no error: what it could not clean up
// after is a Warning.
func (c *Controller) Stop(ctx context.Context, timeout time.Duration) (*Stopped, error) {
	proofCtx, cancel := context.WithTimeout(ctx, timeout)
	in, err := c.inspectProven(proofCtx)
	cancel()
	if err != nil {
		return nil, err
	}
	if in.Running == nil {
		return &Stopped{Stale: in.Stale}, nil
	}
	r := in.Running
	begin := c.Now()
	if _, err := c.signal(r, syscall.SIGTERM); err != nil {
		return nil, err
	}
	res := &Stopped{PID: r.PID}
	err = c.waitGone(ctx, r, min(slowAfter, timeout))
	if errors.Is(err, context.DeadlineExceeded) && timeout > slowAfter {
		if c.Progress != nil {
			fmt.Fprintf(c.Progress, "waiting for the daemon (pid %d) to exit; SIGKILL in %v\n", r.PID, (timeout - slowAfter).Round(time.Second))
		}
		err = c.waitGone(ctx, r, timeout-slowAfter)
	}
	if err != nil {
		if !errors.Is(err, context.DeadlineExceeded) {
			return nil, err
		}
		res.Killed = true
		if _, err := c.signal(r, syscall.SIGKILL); err != nil {
			return nil, err
		}
		if err := c.waitGone(ctx, r, killWait); errors.Is(err, context.DeadlineExceeded) {
			return nil, fmt.Errorf("the daemon (pid %d) still runs %v after SIGKILL: it may be stuck in the kernel (state D); look at /proc/%d/status", r.PID, killWait, r.PID)
		} else if err != nil {
			return nil, err
		}
		// A killed daemon's main thread shows as gone before its last
		// thread has exited and released the lock: wait for the lock too
		// (bounded; a daemon started since may hold it).
		if err := c.WaitStopped(ctx, killWait); err != nil && !errors.Is(err, context.DeadlineExceeded) {
			return nil, err
		}
	}
	res.Took = c.Now().Sub(begin)
	// A killed daemon could not remove its state file.
	if err := protocol.RemoveStateOf(c.Paths.PIDFile(), r.PID); err != nil {
		res.Warning = fmt.Sprintf("the daemon stopped, but its state file could not be removed: %v", err)
	}
	return res, nil
}

// waitGone waits up to d for r to exit; it returns
// context.DeadlineExceeded when it still runs.
func (c *Controller) waitGone(ctx context.Context, r *Running, d time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	return protocol.Poll(ctx, func() (bool, error) { return !protocol.Running(r.PID, r.proc), nil })
}

// WaitStopped waits up to timeout for the daemon's lock to be released: how
// stop sees a daemon that its service manager stops. It probes the lock
// (protocol.WaitUnlocked); it returns context.DeadlineExceeded on timeout.
func (c *Controller) WaitStopped(ctx context.Context, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	return protocol.WaitUnlocked(ctx, c.Paths.LockFile())
}
