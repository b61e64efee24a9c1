package supervisor

import (
	"context"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// ChildEnv names the variable through which the supervisor hands the
// daemon two pipes, "R,W": R is the read end of a pipe whose write end only
// the supervisor holds, so that the daemon reads end-of-file the moment the
// supervisor dies, even by SIGKILL; on W the daemon writes its fatal error
// before it exits, for the supervisor to record.
const ChildEnv = "CCO_SUPERVISOR_FDS"

// Child is the daemon's side of its supervisor.
type Child struct {
	watch, report *os.File
	gone          chan struct{}
}

// Attach takes the pipes ChildEnv names; nil, and no error, when the
// daemon runs without a supervisor.
func Attach(getenv func(string) string) (*Child, error) {
	v := getenv(ChildEnv)
	if v == "" {
		return nil, nil
	}
	r, w, ok := strings.Cut(v, ",")
	rfd, rerr := strconv.Atoi(r)
	wfd, werr := strconv.Atoi(w)
	if !ok || rerr != nil || werr != nil || rfd < 3 || wfd < 3 {
		return nil, fmt.Errorf("%s=%q does not name two inherited file descriptors", ChildEnv, v)
	}
	// Non-blocking, so that the wait below parks a goroutine, not a thread.
	if err := syscall.SetNonblock(rfd, true); err != nil {
		return nil, fmt.Errorf("%s: %w", ChildEnv, err)
	}
	for _, fd := range []int{rfd, wfd} {
		syscall.CloseOnExec(fd)
	}
	c := &Child{watch: os.NewFile(uintptr(rfd), "supervisor watch"), report: os.NewFile(uintptr(wfd), "supervisor report"), gone: make(chan struct{})}
	go func() {
		io.Copy(io.Discard, c.watch) // returns at end-of-file: the supervisor is gone
		close(c.gone)
	}()
	return c, nil
}

// Context returns a context that is cancelled when the supervisor is gone:
// the daemon then stops, so that a supervisor killed with SIGKILL orphans
// nothing.
func (c *Child) Context(ctx context.Context) context.Context {
	ctx, cancel := context.WithCancel(ctx)
	go func() {
		select {
		case <-c.gone:
			cancel()
		case <-ctx.Done():
		}
	}()
	return ctx
}

// Gone reports whether the supervisor has died.
func (c *Child) Gone() bool {
	select {
	case <-c.gone:
		return true
	default:
		return false
	}
}

// Report hands the daemon's fatal error to the supervisor, which records it
// with the exit it sees.
func (c *Child) Report(err error) {
	if err != nil {
		io.WriteString(c.report, err.Error())
	}
	c.report.Close()
}
