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
	// Signal sends sig to pid if it is still the process p describes,
	// else returns unix.ESRCH (protocol.Signal).
	Signal func(pid int, p protocol.Proc, sig syscall.Signal) error
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
		Signal: protocol.Signal,
		Now:    time.Now,
		Spawn:  (*exec.Cmd).Start,
	}
}

// Running is a daemon proven to run: the live process its state file
// describes (same pid, kernel start time and executable), holding the lock
// unless the lock file was removed under it; or, when all of its files were
// removed, the holder of the removed lock file's lock.
type Running struct {
	PID int
	// State is nil when the daemon's files were removed under it and it
	// has not made them anew yet.
	State *protocol.State
	proc  protocol.Proc
}

// Inspection is what Inspect learned.
type Inspection struct {
	Running *Running // nil when no daemon runs
	// Stale says why a state file was removed, "" when none was.
	Stale string
}

// UnprovenError says that a process holds the daemon's lock but the other
// proofs that it is the daemon disagree: cco then signals nothing. A daemon
// that is starting is such a process until it writes its state file.
type UnprovenError struct {
	Holder int // the lock holder, as protocol.LockHolder names it
	Why    string
}

func (e *UnprovenError) Error() string {
	return fmt.Sprintf("the proofs that a process is the daemon disagree: %s; cco signals no process it has not proven to be the daemon (see cco-daemon(1), IDENTITY)", e.Why)
}

// Inspect finds the running daemon. A process is the daemon only when every
// proof agrees: the state file names it, its kernel start time and
// executable are the ones the state file records, and it holds the lock.
// When the lock file is missing or unlocked (removed under the daemon, which
// takes it anew within a second), the other proofs suffice. A process that
// holds the lock while the other proofs disagree is an *UnprovenError. A
// state file that names no live daemon while nobody holds the lock is stale
// and is removed (the process it names is left alone).
func (c *Controller) Inspect() (*Inspection, error) {
	for tries := 1; ; tries++ {
		in, err := c.inspect()
		if !errors.Is(err, errChanged) {
			return in, err
		}
		if tries == inspectTries {
			return nil, fmt.Errorf("the daemon's lock and state file kept changing while cco looked at them (%d times): try again", tries)
		}
	}
}

// inspectTries bounds how often Inspect looks again when what it saw
// changed while it looked (a daemon starting or exiting).
const inspectTries = 20

// errChanged says the lock changed hands while inspect looked.
var errChanged = errors.New("changed while looking")

func (c *Controller) inspect() (*Inspection, error) {
	lock := c.Paths.LockFile()
	holder, err := protocol.LockHolder(lock)
	if err != nil {
		return nil, err
	}
	if holder == protocol.Outside {
		return nil, errors.New(protocol.OutsideMessage(c.Paths.LockFile()) + ": cco cannot tell whether its daemon runs")
	}
	st, read, serr := protocol.ReadStateFile(c.Paths.PIDFile())
	var bad *protocol.BadStateError
	switch {
	case serr == nil, errors.Is(serr, fs.ErrNotExist):
	case errors.As(serr, &bad) && holder == 0:
		return &Inspection{Stale: c.removeState(read, bad.Why)}, nil
	case errors.As(serr, &bad):
		if h, err := protocol.LockHolder(lock); err != nil || h != holder {
			return nil, errChanged
		}
		return nil, &UnprovenError{Holder: holder, Why: fmt.Sprintf("%s holds %s, but %s", protocol.HolderName(holder), lock, serr)}
	default:
		return nil, serr
	}
	var proven *Running
	var p protocol.Proc
	var perr error
	if st != nil {
		p, perr = protocol.ProcInfo(st.PID)
		if perr == nil && st.Describes(p) {
			proven = &Running{PID: st.PID, State: st, proc: p}
		}
	}
	switch {
	case proven != nil && (holder == proven.PID || holder == 0):
		return &Inspection{Running: proven}, nil
	case holder != 0:
		// A daemon exiting or starting between the probe and the
		// reads is no disagreement: look again.
		if h, err := protocol.LockHolder(lock); err != nil || h != holder {
			return nil, errChanged
		}
		return nil, &UnprovenError{Holder: holder, Why: c.disagree(holder, st, p, perr)}
	case st == nil:
		return c.orphan()
	}
	if h, err := protocol.LockHolder(lock); err == nil && h != 0 {
		return nil, errChanged // a daemon started between the probe and the read
	}
	why := fmt.Sprintf("pid %d is not running", st.PID)
	if perr == nil && !p.Exiting {
		why = fmt.Sprintf("pid %d is now another process, left alone", st.PID)
	}
	return &Inspection{Stale: c.removeState(read, why)}, nil
}

// orphan finds a daemon when CCO_HOME holds neither its lock file nor its
// state file: they may have been removed under it (with all of CCO_HOME),
// and it makes them anew only within a second. It still holds the lock on
// the removed file, which only a daemon takes (protocol.OrphanHolder).
func (c *Controller) orphan() (*Inspection, error) {
	lock := c.Paths.LockFile()
	if _, err := os.Lstat(lock); !errors.Is(err, fs.ErrNotExist) {
		return &Inspection{}, nil
	}
	pid := protocol.OrphanHolder(lock)
	if pid == 0 {
		return &Inspection{}, nil
	}
	p, err := protocol.ProcInfo(pid)
	if err != nil || p.Exiting {
		return nil, errChanged
	}
	return &Inspection{Running: &Running{PID: pid, proc: p}}, nil
}

// disagree says how the lock holder and the state file st (nil: none)
// disagree; p and perr are what ProcInfo said of the pid st names.
func (c *Controller) disagree(holder int, st *protocol.State, p protocol.Proc, perr error) string {
	lock, state := c.Paths.LockFile(), c.Paths.PIDFile()
	held := fmt.Sprintf("%s holds %s", protocol.HolderName(holder), lock)
	switch {
	case st == nil:
		return fmt.Sprintf("%s, but there is no state file %s: a daemon that is still starting, or a process that is not the daemon", held, state)
	case st.PID != holder && (perr != nil || p.Exiting):
		return fmt.Sprintf("%s, but %s names pid %d, which is not running", held, state, st.PID)
	case st.PID != holder:
		return fmt.Sprintf("%s, but %s names pid %d", held, state, st.PID)
	}
	exe := p.Exe
	if exe == "" {
		exe = "an executable cco cannot see"
	}
	return fmt.Sprintf("%s, but it is not the process %s describes (it started at %d running %s; the file says %d, %s)",
		held, state, p.Start, exe, st.ProcStart, st.Executable)
}

// removeState removes the state file read, judged stale, and returns the
// message saying so. A daemon that started since writes a new file (by
// rename): that one is left alone.
func (c *Controller) removeState(read os.FileInfo, why string) string {
	path := c.Paths.PIDFile()
	if now, err := os.Lstat(path); err != nil || !os.SameFile(now, read) {
		return ""
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Sprintf("stale state file %s (%s) could not be removed: %v", path, why, err)
	}
	return fmt.Sprintf("removed stale state file %s: %s", path, why)
}

// signal sends sig to r only if r is still the process that was proven to
// be the daemon: the same live process (pid and start time), and no other
// process holds the lock. It reports whether it sent the signal: false when
// the daemon is gone already.
func (c *Controller) signal(r *Running, sig syscall.Signal) (bool, error) {
	if !protocol.Running(r.PID, r.proc) {
		return false, nil
	}
	holder, err := protocol.LockHolder(c.Paths.LockFile())
	if err != nil {
		return false, err
	}
	if holder != 0 && holder != r.PID {
		return false, &UnprovenError{Holder: holder, Why: fmt.Sprintf("%s now holds %s instead of the daemon (pid %d)", protocol.HolderName(holder), c.Paths.LockFile(), r.PID)}
	}
	if err := c.Signal(r.PID, r.proc, sig); err != nil {
		if errors.Is(err, unix.ESRCH) {
			return false, nil
		}
		return false, fmt.Errorf("sending %v to the daemon (pid %d): %w", sig, r.PID, err)
	}
	return true, nil
}
