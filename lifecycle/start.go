package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"github.com/anthropics/cco/protocol"
	"golang.org/x/sys/unix"
)

// StartOptions says how to start the daemon.
type StartOptions struct {
	// Executable is the cco binary to run as `daemon run`.
	Executable string
	// Env is the child's whole environment: the caller's, plus the CCO_*
	// variables that carry its flags.
	Env []string
	// Wait bounds the wait for the daemon to serve.
	Wait time.Duration
	// Command is what to run after Executable: "daemon run" when empty,
	// or the supervisor, which relays the daemon's readiness line.
	Command []string
}

// Started is what Start did.
type Started struct {
	PID     int
	State   *protocol.State // nil only when an already running daemon has not written it yet
	Already bool            // a daemon was running already; nothing was started
	Took    time.Duration   // from spawn to the daemon's readiness
	Stale   string          // a stale state file was removed, and why
}

// Start starts the daemon unless one runs, and returns once it serves. Starts
// are serialized by a lock of their own, so that any number of concurrent
// starts yield one daemon. When the daemon cannot serve, its own error is
// returned and neither a process nor a state file is left behind.
func (c *Controller) Start(ctx context.Context, o StartOptions) (*Started, error) {
	if err := c.Paths.Ensure(); err != nil {
		return nil, err
	}
	unlock, err := c.startLock()
	if err != nil {
		return nil, err
	}
	defer unlock()
	in, err := c.Inspect()
	if err != nil {
		return nil, err
	}
	if in.Running != nil {
		return &Started{PID: in.Running.PID, State: in.Running.State, Already: true}, nil
	}
	s, err := c.spawn(ctx, o)
	if s != nil {
		s.Stale = in.Stale
	}
	return s, err
}

// startLock serializes starts: it blocks while another start runs (which is
// bounded by that start's --wait).
func (c *Controller) startLock() (func(), error) {
	path := c.Paths.StartLockFile()
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("opening the start lock: %w", err)
	}
	for {
		err = unix.Flock(int(f.Fd()), unix.LOCK_EX)
		if !errors.Is(err, unix.EINTR) {
			break
		}
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("taking the start lock %s: %w", path, err)
	}
	return func() { f.Close() }, nil
}

func (c *Controller) spawn(ctx context.Context, o StartOptions) (*Started, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	defer r.Close()
	// Output the daemon writes before it opens its own log (a crash of the
	// runtime, say) still lands in the log.
	logf, err := os.OpenFile(c.Paths.LogFile(), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("opening the daemon log: %w", err)
	}
	args := o.Command
	if len(args) == 0 {
		args = []string{"daemon", "run"}
	}
	cmd := exec.Command(o.Executable, args...)
	cmd.Env = append(o.Env[:len(o.Env):len(o.Env)], protocol.ReadyFDEnv+"=3", "CCO_HOME="+c.Paths.Home)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.ExtraFiles = []*os.File{w} // fd 3
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	begin := c.Now()
	err = c.Spawn(cmd)
	w.Close()
	logf.Close()
	if err != nil {
		return nil, fmt.Errorf("starting %s daemon run: %w", o.Executable, err)
	}
	msg, err := readReady(ctx, r, o.Wait)
	if st, ok := protocol.ParseReady(msg); ok {
		took := c.Now().Sub(begin)
		cmd.Process.Release()
		// The line is the daemon's own: its pid, whoever relayed it.
		return &Started{PID: st.PID, State: st, Took: took}, nil
	}
	// The daemon failed or is too slow: make sure nothing of it remains.
	pid := cmd.Process.Pid
	if err != nil {
		_ = c.Signal(pid, syscall.SIGKILL)
	}
	werr := cmd.Wait()
	_ = protocol.RemoveStateOf(c.Paths.PIDFile(), pid)
	switch {
	case ctx.Err() != nil:
		return nil, fmt.Errorf("interrupted while the daemon (pid %d) was starting: stopped it", pid)
	case err != nil:
		return nil, fmt.Errorf("the daemon (pid %d) did not serve within %v: killed it; see `cco daemon logs`", pid, o.Wait)
	case strings.HasPrefix(msg, "error: "):
		return nil, errors.New(strings.TrimPrefix(msg, "error: "))
	default:
		return nil, fmt.Errorf("the daemon (pid %d) exited before serving (%v); see `cco daemon logs`", pid, werr)
	}
}

// readReady reads the daemon's answer on the readiness pipe, until the
// daemon closes it, wait runs out or ctx is cancelled (Ctrl-C). An empty
// answer means the daemon closed the pipe without one (it exited). When the
// wait ends early, what the pipe already holds is still read: a start that
// was suspended past its deadline (Ctrl-Z) must not take a daemon that
// announced it serves for one that did not.
func readReady(ctx context.Context, r *os.File, wait time.Duration) (string, error) {
	if err := r.SetReadDeadline(time.Now().Add(wait)); err != nil {
		return "", err
	}
	cancelled := context.AfterFunc(ctx, func() { r.SetReadDeadline(time.Now()) })
	defer cancelled()
	msg, err := io.ReadAll(r)
	if err != nil {
		msg = append(msg, drain(r)...)
	}
	return strings.TrimSuffix(string(msg), "\n"), err
}

// drain returns what the pipe holds now, without waiting for more.
func drain(r *os.File) []byte {
	raw, err := r.SyscallConn()
	if err != nil {
		return nil
	}
	var out []byte
	buf := make([]byte, 4096)
	raw.Read(func(fd uintptr) bool {
		for {
			n, err := unix.Read(int(fd), buf)
			if n <= 0 || err != nil {
				return true
			}
			out = append(out, buf[:n]...)
		}
	})
	return out
}
