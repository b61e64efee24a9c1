package lifecycle

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/anthropics/cco/config"
	"github.com/anthropics/cco/protocol"
)

// Controller acts on the daemon of one CCO_HOME. Its func fields are the side
// effects a test may want to see or replace.
type Controller struct {
	Paths config.Paths
	// Signal sends sig to pid.
	Signal func(pid int, sig syscall.Signal) error
	// Now is the clock.
	Now func() time.Time
	// Spawn starts a prepared command.
	Spawn func(cmd *exec.Cmd) error
	// Progress, when not nil, hears of waits long enough that a person
	// would otherwise wonder.
	Progress io.Writer
}

// New returns a Controller acting on the real system.
func New(paths config.Paths) *Controller {
	return &Controller{
		Paths:  paths,
		Signal: func(pid int, sig syscall.Signal) error { return unix.Kill(pid, sig) },
		Now:    time.Now,
		Spawn:  (*exec.Cmd).Start,
	}
}

// Running is a daemon proven to run: it holds the lock.
type Running struct {
	PID   int
	State *protocol.State // nil while the daemon has not written it yet
	proc  protocol.Proc
}

// Inspection is what Inspect learned.
type Inspection struct {
	Running *Running // nil when no daemon runs
	// Stale says why a state file was removed, "" when none was.
	Stale string
}

// Inspect finds the running daemon. The lock holder is the daemon; a state
// file that names any other process is stale and is removed (the process it
// names is left alone).
func (c *Controller) Inspect() (*Inspection, error) {
	holder, err := protocol.LockHolder(c.Paths.LockFile())
	if err != nil {
		return nil, err
	}
	if holder == protocol.Outside {
		return nil, errors.New(protocol.OutsideMessage(c.Paths.LockFile()) + ": cco cannot tell whether its daemon runs")
	}
	st, read, serr := protocol.ReadStateFile(c.Paths.PIDFile())
	if serr != nil && !errors.Is(serr, fs.ErrNotExist) {
		if holder == 0 && read != nil {
			return &Inspection{Stale: c.removeState(read, serr.Error())}, nil
		}
		st = nil
	}
	if holder == 0 {
		if st == nil {
			return &Inspection{}, nil
		}
		if h, err := protocol.LockHolder(c.Paths.LockFile()); err == nil && h != 0 {
			return c.Inspect() // a daemon started between the probe and the read
		}
		why := fmt.Sprintf("pid %d is not running", st.PID)
		if protocol.Alive(st.PID) {
			why = fmt.Sprintf("pid %d is now another process, left alone", st.PID)
		}
		return &Inspection{Stale: c.removeState(read, why)}, nil
	}
	p, err := protocol.ProcInfo(holder)
	if err != nil {
		// The holder exited between the probe and now.
		return &Inspection{}, nil
	}
	r := &Running{PID: holder, proc: p}
	if st != nil && st.PID == holder {
		if st.ProcStart != p.Start || (p.Exe != "" && st.Executable != "" && p.Exe != st.Executable) {
			return nil, fmt.Errorf("pid %d holds %s but is not the process %s describes (started %d, %s; state file says %d, %s): refusing to act; remove %s if it is wrong",
				holder, c.Paths.LockFile(), c.Paths.PIDFile(), p.Start, p.Exe, st.ProcStart, st.Executable, c.Paths.PIDFile())
		}
		r.State = st
	}
	return &Inspection{Running: r}, nil
}

// removeState removes the state file read, judged stale, and returns the
// message saying so. A daemon that started since writes a new file (by
// rename): that one is left alone.
func (c *Controller) removeState(read os.FileInfo, why string) string {
	path := c.Paths.PIDFile()
	if now, err := os.Stat(path); err != nil || !os.SameFile(now, read) {
		return ""
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Sprintf("stale state file %s (%s) could not be removed: %v", path, why, err)
	}
	return fmt.Sprintf("removed stale state file %s: %s", path, why)
}

// signal sends sig to r only if r is still the process that was proven to
// be the daemon: same start time, and still the lock holder.
func (c *Controller) signal(r *Running, sig syscall.Signal) error {
	p, err := protocol.ProcInfo(r.PID)
	if err != nil || p.Zombie {
		return nil // gone already
	}
	if p.Start != r.proc.Start {
		return nil // the pid was reused: the daemon is gone
	}
	holder, err := protocol.LockHolder(c.Paths.LockFile())
	if err != nil {
		return err
	}
	if holder != r.PID {
		return nil
	}
	if err := c.Signal(r.PID, sig); err != nil && !errors.Is(err, unix.ESRCH) {
		return fmt.Errorf("sending %v to the daemon (pid %d): %w", sig, r.PID, err)
	}
	return nil
}
