package supervisor

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"syscall"
	"time"

	"github.com/anthropics/cco/config"
	"github.com/anthropics/cco/protocol"
)

// The supervisor's state file, $CCO_HOME/supervisor.pid, is a
// protocol.State (its pid, start time, version, executable and the
// kernel's start time and file of it), without an address or a log: the
// same proofs as the daemon's, checked the same way (State.Describes).

// Running is a supervisor proven to run: it holds the supervisor's lock, and
// its state file describes it.
type Running struct {
	PID   int
	proc  protocol.Proc
	paths config.Paths
}

// Find returns the running supervisor of paths' CCO_HOME, nil when none
// runs. When the proofs disagree (the lock holder is not the process the
// state file describes) it returns an error and nobody is to be signalled.
// A supervisor that has taken its lock but not yet written its state file
// is reported as running.
func Find(p config.Paths) (*Running, error) {
	holder, err := protocol.LockHolder(p.SupervisorLockFile())
	if err != nil || holder <= 0 {
		return nil, err
	}
	proc, err := protocol.ProcInfo(holder)
	if err != nil || proc.Exiting {
		return nil, nil // it exited between the probe and now
	}
	st, err := protocol.ReadState(p.SupervisorPIDFile())
	if errors.Is(err, fs.ErrNotExist) || (err == nil && st.PID != holder) {
		// Starting: the lock comes first, the state file a moment later.
		return &Running{PID: holder, proc: proc, paths: p}, nil
	}
	if err != nil {
		return nil, err
	}
	if !st.Describes(proc) {
		return nil, fmt.Errorf("pid %d holds %s but is not the process %s describes (started %d, %s; the file says %d, %s): refusing to act; remove %s if it is wrong",
			holder, p.SupervisorLockFile(), p.SupervisorPIDFile(), proc.Start, proc.Exe, st.ProcStart, st.Executable, p.SupervisorPIDFile())
	}
	return &Running{PID: holder, proc: proc, paths: p}, nil
}

// Signal sends sig to the supervisor only if it is still the process that
// was proven (protocol.Signal) and still holds its lock. A supervisor that
// is gone is not an error.
func (r *Running) Signal(sig syscall.Signal) error {
	if holder, err := protocol.LockHolder(r.paths.SupervisorLockFile()); err != nil {
		return err
	} else if holder != r.PID {
		return nil
	}
	if err := protocol.Signal(r.PID, r.proc, sig); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("sending %v to the supervisor (pid %d): %w", sig, r.PID, err)
	}
	return nil
}

// WaitGone waits up to timeout for this supervisor to let go of its lock,
// which the kernel does when it exits (another supervisor, started since,
// may hold it then). It returns context.DeadlineExceeded on timeout.
func (r *Running) WaitGone(ctx context.Context, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	return protocol.Poll(ctx, func() (bool, error) {
		holder, err := protocol.LockHolder(r.paths.SupervisorLockFile())
		return holder != r.PID || !protocol.Running(r.PID, r.proc), err
	})
}
