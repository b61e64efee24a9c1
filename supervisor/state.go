package supervisor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/anthropics/cco/atomicfile"
	"github.com/anthropics/cco/config"
	"github.com/anthropics/cco/protocol"
)

// State is the supervisor's state file, $CCO_HOME/supervisor.pid: JSON, mode
// 0600, written once it holds its lock and removed when it exits. Its
// schema is stable:
//
//	pid          int     the supervisor's process id
//	started_at   string  RFC 3339 time it started
//	executable   string  absolute path of its binary
//	proc_start   int     the kernel's start time of that process (see protocol.State)
//	version      string  cco version of the supervisor
type State struct {
	PID        int       `json:"pid"`
	StartedAt  time.Time `json:"started_at"`
	Executable string    `json:"executable"`
	ProcStart  uint64    `json:"proc_start"`
	Version    string    `json:"version"`
}

// Running is a supervisor proven to run: it holds the supervisor's lock, and
// its pid, start time and executable are those of its state file.
type Running struct {
	State
	paths config.Paths
}

// Find returns the running supervisor of paths' CCO_HOME, nil when none
// runs. When the proofs disagree (the lock holder is not the process the
// state file describes) it returns an error and nobody is to be signalled.
// A supervisor that has taken its lock but not yet written its state file
// is reported as running, with only its pid known.
func Find(p config.Paths) (*Running, error) {
	holder, err := protocol.LockHolder(p.SupervisorLockFile())
	if err != nil || holder == 0 {
		return nil, err
	}
	proc, err := protocol.ProcInfo(holder)
	if err != nil || proc.Zombie {
		return nil, nil // it exited between the probe and now
	}
	st, err := readState(p.SupervisorPIDFile())
	if errors.Is(err, fs.ErrNotExist) || (err == nil && st.PID != holder) {
		// Starting: the lock comes first, the state file a moment later.
		return &Running{State: State{PID: holder, ProcStart: proc.Start, Executable: proc.Exe}, paths: p}, nil
	}
	if err != nil {
		return nil, err
	}
	if st.ProcStart != proc.Start || (proc.Exe != "" && st.Executable != "" && proc.Exe != st.Executable) {
		return nil, fmt.Errorf("pid %d holds %s but is not the process %s describes (started %d, %s; state file says %d, %s): refusing to act; remove %s if it is wrong",
			holder, p.SupervisorLockFile(), p.SupervisorPIDFile(), proc.Start, proc.Exe, st.ProcStart, st.Executable, p.SupervisorPIDFile())
	}
	return &Running{State: *st, paths: p}, nil
}

// Signal sends sig to the supervisor only if it is still the process that
// was proven: same start time, and still the holder of its lock. A
// supervisor that is gone is not an error.
func (r *Running) Signal(sig syscall.Signal) error {
	proc, err := protocol.ProcInfo(r.PID)
	if err != nil || proc.Zombie || proc.Start != r.ProcStart {
		return nil
	}
	if holder, err := protocol.LockHolder(r.paths.SupervisorLockFile()); err != nil {
		return err
	} else if holder != r.PID {
		return nil
	}
	if err := unix.Kill(r.PID, sig); err != nil && !errors.Is(err, unix.ESRCH) {
		return fmt.Errorf("sending %v to the supervisor (pid %d): %w", sig, r.PID, err)
	}
	return nil
}

// WaitGone waits up to timeout for the supervisor's lock to be released,
// which the kernel does when it exits. It returns
// context.DeadlineExceeded on timeout.
func (r *Running) WaitGone(ctx context.Context, timeout time.Duration) error {
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case err := <-protocol.WatchUnlock(r.paths.SupervisorLockFile()):
		return err
	case <-t.C:
		return context.DeadlineExceeded
	case <-ctx.Done():
		return ctx.Err()
	}
}

func readState(path string) (*State, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil {
		return nil, err
	} else if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file: remove it", path)
	}
	var st State
	if err := json.NewDecoder(f).Decode(&st); err != nil || st.PID <= 0 {
		return nil, fmt.Errorf("%s is not a supervisor state file: remove it", path)
	}
	return &st, nil
}

func writeState(path string, st *State) error {
	data, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(path, append(data, '\n'), 0o600)
}

// removeStateOf removes the state file if it still names pid.
func removeStateOf(path string, pid int) {
	if st, err := readState(path); err == nil && st.PID == pid {
		os.Remove(path)
	}
}
