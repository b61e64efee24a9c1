package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/alecthomas/kingpin/v2"

	"github.com/anthropics/cco/config"
	"github.com/anthropics/cco/daemon"
	"github.com/anthropics/cco/lifecycle"
	"github.com/anthropics/cco/protocol"
	"github.com/anthropics/cco/service"
)

// reloadPoll is how often reload and config set ask /health whether the
// daemon reloaded.
const reloadPoll = 20 * time.Millisecond

// configSetWait bounds how long config set waits for the running daemon to
// reload the file it wrote (the daemon waits daemon.ConfigDebounce first).
const configSetWait = 2 * time.Second

func configureReloadCmd(d *kingpin.CmdClause, e *Env) {
	c := &reloadCmd{env: e}
	rc := d.Command("reload", "Make the running daemon read config.toml again, and say what it applied.").Action(action(e, c.run))
	durationFlag(rc, "wait", "5s", "How long to wait for the daemon to say it reloaded (5s, 1m, or seconds).", &c.wait)
}

type reloadCmd struct {
	env  *Env
	wait time.Duration
}

// run asks the daemon to reload: through its service manager when the
// service runs it, else by a SIGHUP to the daemon proven to be ours. It
// waits for the daemon's reload generation to change and reports the
// result: exit 1 when the file was not applied, 3 when no daemon runs.
func (c *reloadCmd) run(ctx context.Context) error {
	paths, err := c.env.Paths()
	if err != nil {
		return err
	}
	ctl := lifecycle.New(paths)
	before, err := ctl.Status(ctx, healthTimeout)
	if err != nil {
		return err
	}
	if before.State == lifecycle.StateStopped {
		return &ExitError{Code: exitNotRunning, Err: errors.New("cco daemon is not running: nothing to reload")}
	}
	how := "SIGHUP"
	if svc, err := installedService(ctx, c.env); err != nil {
		return err
	} else if m, ok := svc.(managed); ok {
		if pid, err := m.PID(ctx); err != nil {
			return err
		} else if pid == before.PID {
			if err := m.reload(ctx); err != nil {
				return fmt.Errorf("reloading through the %s: %w", m.Name(), err)
			}
			how = "the " + m.Name()
		}
	}
	if how == "SIGHUP" {
		if err := ctl.Reload(); errors.Is(err, lifecycle.ErrNotRunning) {
			return &ExitError{Code: exitNotRunning, Err: errors.New("cco daemon is not running: nothing to reload")}
		} else if err != nil {
			return err
		}
	}
	if before.Health == nil || before.Health.Reload == nil {
		fmt.Fprintf(c.env.Stdout, "asked cco daemon (pid %d) to reload through %s; it does not answer /health to say what it applied\n", before.PID, how)
		return nil
	}
	r, err := awaitReload(ctx, ctl, before.PID, before.Health.Reload.Generation, c.wait)
	if err != nil {
		return err
	}
	if r == nil {
		return fmt.Errorf("asked cco daemon (pid %d) to reload through %s, but it did not within %v: see `cco daemon logs`", before.PID, how, c.wait)
	}
	if !r.OK {
		return fmt.Errorf("cco daemon (pid %d) did not apply %s and keeps its running configuration: %s", before.PID, paths.Config(), r.Error)
	}
	fmt.Fprintf(c.env.Stdout, "cco daemon (pid %d) reloaded %s: %s\n", before.PID, paths.Config(), describeReload(r))
	return nil
}

// describeReload says what a successful reload applied and what waits for
// a restart.
func describeReload(r *protocol.ReloadState) string {
	var parts []string
	if len(r.Applied) > 0 {
		parts = append(parts, "applied "+strings.Join(r.Applied, ", "))
	} else {
		parts = append(parts, "nothing changed that it applies live")
	}
	if len(r.PendingRestart) > 0 {
		parts = append(parts, "needs a restart for "+strings.Join(r.PendingRestart, ", ")+": cco daemon restart")
	}
	return strings.Join(parts, "; ")
}

// reload asks the service manager to reload the daemon.
func (s managed) reload(ctx context.Context) error {
	r, ok := s.m.(service.Reloader)
	if !ok {
		return fmt.Errorf("the %s cannot reload", s.Name())
	}
	return s.do(ctx, r.Reload)
}

// awaitReload waits up to d for the daemon pid to report a reload
// generation other than gen and returns that reload; nil when none came.
func awaitReload(ctx context.Context, ctl *lifecycle.Controller, pid int, gen uint64, d time.Duration) (*protocol.ReloadState, error) {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	t := time.NewTicker(reloadPoll)
	defer t.Stop()
	for {
		s, err := ctl.Status(ctx, healthTimeout)
		if err != nil && ctx.Err() == nil {
			return nil, err
		}
		if s != nil && s.PID == pid && s.Health != nil && s.Health.Reload != nil && s.Health.Reload.Generation != gen {
			return s.Health.Reload, nil
		}
		select {
		case <-ctx.Done():
			return nil, nil
		case <-t.C:
		}
	}
}

// runningReload is the running daemon's pid and reload generation, for
// config set to see its edit applied; pid 0 when no daemon answers.
func runningReload(ctx context.Context, paths config.Paths) (int, uint64) {
	s, err := lifecycle.New(paths).Status(ctx, healthTimeout)
	if err != nil || s.State != lifecycle.StateRunning || s.Health.Reload == nil {
		return 0, 0
	}
	return s.PID, s.Health.Reload.Generation
}

// appliedByDaemon says, after config set changed key, what the running
// daemon pid (seen at generation gen) did with it: applied, needs a
// restart, or did not reload it (yet).
func appliedByDaemon(ctx context.Context, paths config.Paths, key string, pid int, gen uint64) string {
	if pid == 0 {
		return ""
	}
	what := daemon.Applies(key)
	if what == daemon.Service {
		return "; the service file reads it: `cco daemon install` applies it"
	}
	r, err := awaitReload(ctx, lifecycle.New(paths), pid, gen, configSetWait)
	switch {
	case err != nil || r == nil:
		return fmt.Sprintf("; the running daemon (pid %d) has not reloaded it yet: cco daemon reload", pid)
	case !r.OK:
		return fmt.Sprintf("; the running daemon (pid %d) did not reload: %s", pid, r.Error)
	case slices.Contains(r.PendingRestart, key):
		return fmt.Sprintf("; the running daemon (pid %d) needs a restart for it: cco daemon restart", pid)
	case what == daemon.Restart:
		return fmt.Sprintf("; the running daemon (pid %d) runs with it", pid)
	}
	return fmt.Sprintf("; the running daemon (pid %d) applied it", pid)
}

// printReload adds to `cco daemon status` a failed reload and the keys
// waiting for a restart.
func printReload(w io.Writer, h *protocol.Health) {
	if h == nil || h.Reload == nil {
		return
	}
	r := h.Reload
	if !r.OK && r.At != nil {
		fmt.Fprintf(w, "  reload:  failed at %s, running configuration kept: %s\n", r.At.Local().Format(time.RFC3339), r.Error)
	}
	if len(r.PendingRestart) > 0 {
		fmt.Fprintf(w, "  restart: needed for %s (cco daemon restart)\n", strings.Join(r.PendingRestart, ", "))
	}
}
