package lifecycle

import (
	"errors"
	"syscall"
)

// ErrNotRunning is Reload's error when no daemon runs.
var ErrNotRunning = errors.New("cco daemon is not running")

// Reload sends SIGHUP to the running daemon, once it is proven to be the
// daemon (it holds the lock and is the process the state file describes).
func (c *Controller) Reload() error {
	in, err := c.Inspect()
	if err != nil {
		return err
	}
	if in.Running == nil {
		return ErrNotRunning
	}
	sent, err := c.signal(in.Running, syscall.SIGHUP)
	if err == nil && !sent {
		return ErrNotRunning // it exited meanwhile
	}
	return err
}
