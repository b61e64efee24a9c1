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

	"github.com/anthropics/cco/homefile"
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
}

// Started is what Start did.
type Started struct {
	PID     int
	State   *protocol.State // nil only when an already running daemon has not written it yet
	Already bool            // a daemon was running already; nothing was started
	Took    time.Duration   // from spawn to the daemon's readiness
	Stale   string          // a stale state file was removed, and why
}

// Start starts the daemon unless one runs, and returns once it serves.
// Starts are serialized by a lock of their own, so that any number of
// concurrent starts yield one daemon. o.Wait bounds the whole of it: the
// wait for another start to finish, for a process that holds the daemon's
// lock without proof to prove itself (a daemon still starting) or go, and
// for the daemon to serve. When the daemon cannot serve, or ctx is
// cancelled (Ctrl-C), its own error is returned and neither a process nor a
// state file is left behind.
func (c *Controller) Start(ctx context.Context, o StartOptions) (*Started, error) {
	if err := c.Paths.Ensure(); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, o.Wait)
	defer cancel()
	unlock, err := c.startLock(ctx, o.Wait)
	if err != nil {
		return nil, err
	}
	defer unlock()
	in, err := c.inspectProven(ctx)
	var unproven *UnprovenError
	if errors.As(err, &unproven) {
		return nil, fmt.Errorf("not starting a daemon: %w", err)
	}
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

// inspectProven inspects until no process holds the lock without proof,
// or ctx is done (then the error is the last *UnprovenError): a daemon is
// unproven for a few milliseconds while it starts (it holds the lock before
// it writes its state file) and while it exits (it removes its state file
// before it releases the lock).
func (c *Controller) inspectProven(ctx context.Context) (*Inspection, error) {
	var in *Inspection
	var unproven *UnprovenError
	err := protocol.Poll(ctx, func() (bool, error) {
		var err error
		in, err = c.Inspect()
		if errors.As(err, &unproven) {
			return false, nil
		}
		unproven = nil
		return true, err
	})
	if unproven != nil {
		return nil, unproven
	}
	return in, err
}

// startLock serializes starts: it waits while another start runs, until
// ctx is done (the start's --wait, or Ctrl-C). It probes the flock rather
// than blocking in the kernel, so that the wait ends on time.
func (c *Controller) startLock(ctx context.Context, wait time.Duration) (func(), error) {
	path := c.Paths.StartLockFile()
	f, err := homefile.Open(path, os.O_RDWR|os.O_CREATE)
	if err != nil {
		return nil, fmt.Errorf("opening the start lock: %w", err)
	}
	err = protocol.Poll(ctx, func() (bool, error) {
		err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		if errors.Is(err, unix.EWOULDBLOCK) || errors.Is(err, unix.EINTR) {
			return false, nil
		}
		return err == nil, err
	})
	if err != nil {
		f.Close()
		if ctx.Err() != nil {
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return nil, fmt.Errorf("another start or restart held %s for all of --wait %v: gave up; try again, or give it more time with --wait", path, wait)
			}
			return nil, fmt.Errorf("interrupted while waiting for another start to finish: nothing was started")
		}
		return nil, fmt.Errorf("taking the start lock %s: %w", path, err)
	}
	return func() { f.Close() }, nil
}

// childEnvDrop are the variables of the caller's environment that the
// daemon must not inherit: the caller's systemd notify socket and watchdog
// and its socket activation belong to the caller (systemd would take the
// daemon's READY=1 and STOPPING=1 for the caller's), and the readiness fd
// is start's to give.
var childEnvDrop = []string{"NOTIFY_SOCKET", "WATCHDOG_", "LISTEN_", protocol.ReadyFDEnv}

// childEnv is env without what childEnvDrop names (a name, or a prefix
// ending in "_").
func childEnv(env []string) []string {
	out := make([]string, 0, len(env)+2)
next:
	for _, kv := range env {
		name, _, _ := strings.Cut(kv, "=")
		for _, d := range childEnvDrop {
			if name == d || (strings.HasSuffix(d, "_") && strings.HasPrefix(name, d)) {
				continue next
			}
		}
		out = append(out, kv)
	}
	return out
}

func (c *Controller) spawn(ctx context.Context, o StartOptions) (*Started, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	defer r.Close()
	// Output the daemon writes before it opens its own log (a crash of the
	// runtime, say) still lands in the log.
	logf, err := homefile.Open(c.Paths.LogFile(), os.O_WRONLY|os.O_APPEND|os.O_CREATE)
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("opening the daemon log: %w", err)
	}
	// The daemon gets a clean slate: stdin /dev/null, stdout and stderr
	// the log, fd 3 the readiness pipe and no other descriptor (see
	// closeInherited), "/" as its working directory (it pins no mount),
	// and the caller's environment without childEnvDrop.
	if err := closeInherited(); err != nil {
		w.Close()
		logf.Close()
		return nil, fmt.Errorf("keeping this process's descriptors from the daemon: %w", err)
	}
	cmd := exec.Command(o.Executable, "daemon", "run")
	cmd.Env = append(childEnv(o.Env), protocol.ReadyFDEnv+"=3", "CCO_HOME="+c.Paths.Home)
	cmd.Dir = "/"
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
	msg, err := readReady(ctx, r)
	if st, ok := protocol.ParseReady(msg); ok {
		took := c.Now().Sub(begin)
		pid := cmd.Process.Pid
		cmd.Process.Release()
		return &Started{PID: pid, State: st, Took: took}, nil
	}
	// The daemon failed, is too slow, or the user gave up: make sure
	// nothing of it remains. It is this process's child, not yet reaped:
	// its pid cannot have been reused.
	pid := cmd.Process.Pid
	if err != nil {
		_ = cmd.Process.Kill()
	}
	werr := cmd.Wait()
	_ = protocol.RemoveStateOf(c.Paths.PIDFile(), pid)
	switch {
	case errors.Is(ctx.Err(), context.Canceled):
		return nil, fmt.Errorf("interrupted while the daemon (pid %d) was starting: killed it, nothing is left running", pid)
	case err != nil:
		return nil, fmt.Errorf("the daemon (pid %d) did not serve within --wait %v: killed it; see `cco daemon logs`", pid, o.Wait)
	case strings.HasPrefix(msg, "error: "):
		return nil, errors.New(strings.TrimPrefix(msg, "error: "))
	default:
		return nil, fmt.Errorf("the daemon (pid %d) exited before serving (%v); see `cco daemon logs`", pid, werr)
	}
}

// readReady reads the daemon's answer on the readiness pipe, until the
// daemon closes it or ctx is done (--wait ran out, or Ctrl-C). An empty
// answer means the daemon closed the pipe without one (it exited). When the
// wait ends early, what the pipe already holds is still read: a start that
// was suspended past its deadline (Ctrl-Z) must not take a daemon that
// announced it serves for one that did not.
func readReady(ctx context.Context, r *os.File) (string, error) {
	if d, ok := ctx.Deadline(); ok {
		if err := r.SetReadDeadline(d); err != nil {
			return "", err
		}
	}
	cancelled := context.AfterFunc(ctx, func() { r.SetReadDeadline(time.Now()) })
	defer cancelled()
	msg, err := io.ReadAll(r)
	if err != nil {
		msg = append(msg, drain(r)...)
	}
	return strings.TrimSuffix(string(msg), "\n"), err
}

// drain returns what the pipe holds now, without waiting for more. It
// lifts the read deadline first: past it, the runtime would not even try.
func drain(r *os.File) []byte {
	raw, err := r.SyscallConn()
	if err != nil || r.SetReadDeadline(time.Time{}) != nil {
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
