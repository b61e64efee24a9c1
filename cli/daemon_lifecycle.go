package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/alecthomas/kingpin/v2"
	"golang.org/x/sys/unix"

	"github.com/anthropics/cco/config"
	"github.com/anthropics/cco/daemon"
	"github.com/anthropics/cco/lifecycle"
	"github.com/anthropics/cco/protocol"
	"github.com/anthropics/cco/service"
	"github.com/anthropics/cco/service/identity"
	"github.com/anthropics/cco/service/startlimit"
	"github.com/anthropics/cco/version"
)

func configureLifecycleCmds(daemon *kingpin.CmdClause, e *Env) {
	start := &startCmd{env: e, overrides: config.Overrides{}}
	sc := daemon.Command("start", "Start the daemon in the background and wait until it serves.").Action(action(e, start.run))
	configFlags(sc, start.overrides)
	waitFlag(sc, &start.wait)

	stop := &stopCmd{env: e}
	stc := daemon.Command("stop", "Stop the daemon: SIGTERM, then SIGKILL after the timeout.").Action(action(e, stop.run))
	timeoutFlag(stc, &stop.timeout)

	restart := &restartCmd{startCmd: startCmd{env: e, overrides: config.Overrides{}}}
	rc := daemon.Command("restart", "Stop the daemon if it runs, then start it with the given flags.").Action(action(e, restart.run))
	configFlags(rc, restart.overrides)
	waitFlag(rc, &restart.wait)
	timeoutFlag(rc, &restart.timeout)

	status := &statusCmd{env: e}
	stsc := daemon.Command("status", "Say whether the daemon runs and answers. Exit 0 running and healthy, 1 running but not answering, 3 not running.").Action(action(e, status.run))
	stsc.Flag("json", "Print JSON (schema in cco-daemon(1)).").BoolVar(&status.json)

	configureLogsCmd(daemon, e)

	run := &runCmd{env: e, overrides: config.Overrides{}}
	runc := daemon.Command("run", "Run the daemon in the foreground: what start, systemd and launchd execute. It takes start's flags, and on a terminal it prints its log lines there too.").Action(action(e, run.run))
	configFlags(runc, run.overrides)
}

// exitNotRunning is status's exit code when no daemon runs (LSB).
const exitNotRunning = 3

// healthTimeout bounds status's GET /health.
const healthTimeout = time.Second

type startCmd struct {
	env       *Env
	overrides config.Overrides
	wait      time.Duration
}

func (c *startCmd) run(ctx context.Context) error {
	eff, paths, err := loadEffective(c.env, c.overrides)
	if err != nil {
		return err
	}
	ctl := lifecycle.New(paths)
	svc, err := installedService(ctx, c.env)
	if err != nil {
		return err
	}
	if svc != nil {
		return c.startService(ctx, ctl, svc)
	}
	if err := awaitSupervised(ctx, ctl, c.wait); err != nil {
		return err
	}
	exe, err := c.env.Executable()
	if err != nil {
		return fmt.Errorf("finding the cco binary to run the daemon: %w", err)
	}
	s, err := ctl.Start(ctx, lifecycle.StartOptions{
		Executable: exe,
		Env:        append(c.env.Environ(), eff.Env()...),
		Wait:       c.wait,
		Command:    supervisorCommand,
	})
	if err != nil {
		return err
	}
	if s.Stale != "" {
		fmt.Fprintln(c.env.Stderr, "cco: "+s.Stale)
	}
	warnExposed(c.env, s.State)
	if s.Already {
		fmt.Fprintf(c.env.Stdout, "cco daemon already running (pid %d)%s\n", s.PID, onAddr(s.State))
		if why := notApplied(eff, c.overrides, s.State); why != "" {
			fmt.Fprintln(c.env.Stderr, "note: "+why)
		}
		return nil
	}
	fmt.Fprintf(c.env.Stdout, "cco daemon started (pid %d)%s in %s\n", s.PID, onAddr(s.State), ms(s.Took))
	return nil
}

// startService starts the daemon through its service manager and waits for
// the daemon to serve.
func (c *startCmd) startService(ctx context.Context, ctl *lifecycle.Controller, svc serviceControl) error {
	if len(c.overrides) > 0 {
		return flagsUnreachable(svc)
	}
	in, err := ctl.Inspect()
	if err != nil {
		return err
	}
	if in.Stale != "" {
		fmt.Fprintln(c.env.Stderr, "cco: "+in.Stale)
	}
	if r := in.Running; r != nil {
		warnExposed(c.env, r.State)
		fmt.Fprintf(c.env.Stdout, "cco daemon already running as the %s (pid %d)%s\n", svc.Name(), r.PID, onAddr(r.State))
		return nil
	}
	// A user's own start: the daemon's start limit begins anew.
	if err := startlimit.Reset(ctl.Paths.FailedStarts()); err != nil {
		return err
	}
	begin := c.env.Now()
	if err := svc.Start(ctx); err != nil {
		return daemonSaid(ctx, svc, ctl.Paths, begin, fmt.Errorf("starting the %s: %w", svc.Name(), err))
	}
	r, err := ctl.WaitRunning(ctx, c.wait)
	if err != nil {
		return daemonSaid(ctx, svc, ctl.Paths, begin, err)
	}
	warnExposed(c.env, r.State)
	fmt.Fprintf(c.env.Stdout, "cco daemon started by the %s (pid %d)%s in %s\n", svc.Name(), r.PID, onAddr(r.State), ms(c.env.Now().Sub(begin)))
	return nil
}

// flagsUnreachable says that flags cannot reach a daemon run by svc.
func flagsUnreachable(svc serviceControl) error {
	return fmt.Errorf("the daemon runs as the %s, which flags cannot reach: set them with `cco daemon config set` and restart", svc.Name())
}

func onAddr(s *protocol.State) string {
	if s == nil {
		return ""
	}
	return " on " + s.URL()
}

// ms shows a short duration in milliseconds, with a decimal below 10.
func ms(d time.Duration) string {
	if d < 10*time.Millisecond {
		return strconv.FormatFloat(float64(d)/float64(time.Millisecond), 'f', 1, 64) + " ms"
	}
	return strconv.FormatInt(d.Milliseconds(), 10) + " ms"
}

type stopCmd struct {
	env     *Env
	timeout time.Duration
}

func (c *stopCmd) run(ctx context.Context) error {
	return stop(ctx, c.env, c.timeout)
}

// stop stops the daemon, through its service manager when it is installed
// as a service.
func stop(ctx context.Context, e *Env, timeout time.Duration) error {
	paths, err := e.Paths()
	if err != nil {
		return err
	}
	ctl := lifecycle.New(paths)
	ctl.Progress = e.Stderr
	svc, err := installedService(ctx, e)
	if err != nil {
		return err
	}
	wait := timeout
	if svc != nil {
		// The manager must stop it, or it would start it again.
		stopped, signalled, err := stopService(ctx, e, ctl, svc, timeout)
		if errors.Is(err, service.ErrNoUserBus) || errors.Is(err, service.ErrNoSystemd) {
			// A daemon started by hand must still be stoppable.
			fmt.Fprintf(e.Stderr, "cco: the %s's state is unknown (%s); stopping the daemon directly, which the service manager may undo if it runs it\n", svc.Name(), firstLine(err))
		} else if stopped || err != nil {
			return err
		}
		// What the manager left running is stopped below like any daemon;
		// one that had its SIGTERM and its timeout is killed at once.
		if signalled {
			wait = time.Millisecond
		}
	}
	s, supPID, err := stopSupervised(ctx, ctl, wait)
	if err != nil {
		return err
	}
	if s.Stale != "" {
		fmt.Fprintln(e.Stderr, "cco: "+s.Stale)
	}
	if s.Warning != "" {
		fmt.Fprintln(e.Stderr, "cco: "+s.Warning)
	}
	if supPID != 0 {
		defer fmt.Fprintf(e.Stdout, "its supervisor (pid %d) stopped too\n", supPID)
	}
	switch {
	case s.PID == 0:
		fmt.Fprintln(e.Stdout, "cco daemon is not running")
	case s.Killed:
		fmt.Fprintf(e.Stdout, "cco daemon (pid %d) ignored SIGTERM for %v: killed it\n", s.PID, timeout)
	default:
		fmt.Fprintf(e.Stdout, "cco daemon stopped (pid %d) in %s\n", s.PID, ms(s.Took))
	}
	return nil
}

// stopService asks the service manager to stop the daemon and waits up to
// timeout for it to exit. A daemon that ignored the stop is the manager's
// to end next (service.Killer): systemd kills it; launchd unloads the job,
// so that KeepAlive does not start again the daemon cco then kills. It
// reports whether it saw the daemon stop, and whether the manager had
// signalled the daemon that still runs (a daemon started by hand beside the
// service is not the manager's to stop); it returns once the manager, too,
// sees the service stopped.
func stopService(ctx context.Context, e *Env, ctl *lifecycle.Controller, svc serviceControl, timeout time.Duration) (stopped, signalled bool, err error) {
	in, err := ctl.Inspect()
	if err != nil {
		return false, false, err
	}
	ours, err := svc.PID(ctx)
	if err != nil {
		return false, false, err
	}
	begin := e.Now()
	if err := svc.Stop(ctx); err != nil {
		return false, false, fmt.Errorf("stopping the %s: %w", svc.Name(), err)
	}
	if in.Running == nil {
		return false, false, waitInactive(ctx, svc, timeout)
	}
	if in.Running.PID != ours {
		return false, false, nil
	}
	if err := ctl.WaitStopped(ctx, timeout); err == nil {
		fmt.Fprintf(e.Stdout, "cco daemon stopped by the %s (pid %d) in %s\n", svc.Name(), in.Running.PID, ms(e.Now().Sub(begin)))
		return true, false, waitInactive(ctx, svc, serviceWait)
	}
	if err := svc.Kill(ctx); err != nil {
		return false, false, fmt.Errorf("stopping the %s: %w", svc.Name(), err)
	}
	if err := ctl.WaitStopped(ctx, managerKillWait); err == nil {
		fmt.Fprintf(e.Stdout, "cco daemon (pid %d) ignored SIGTERM for %v: the %s killed it\n", in.Running.PID, timeout, svc.Name())
		return true, false, waitInactive(ctx, svc, serviceWait)
	}
	return false, true, nil
}

// managerKillWait is how long stop gives a manager's kill to end the
// daemon before cco kills it itself.
const managerKillWait = 2 * time.Second

// waitInactive waits up to d for the manager to see the service stopped.
func waitInactive(ctx context.Context, svc serviceControl, d time.Duration) error {
	deadline := time.Now().Add(d)
	for {
		active, err := svc.Active(ctx)
		if err != nil || !active {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the %s is still stopping %v after it was asked to stop: see its status", svc.Name(), d)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
}

type restartCmd struct {
	startCmd
	timeout time.Duration
}

// run checks everything it can before it stops anything — the flags, the
// configuration they make (loaded and validated), the service manager's
// word — so that a failing check leaves the running daemon untouched.
func (c *restartCmd) run(ctx context.Context) error {
	if _, _, err := loadEffective(c.env, c.overrides); err != nil {
		return err
	}
	svc, err := installedService(ctx, c.env)
	if err != nil {
		return err
	}
	if svc != nil {
		if len(c.overrides) > 0 {
			return flagsUnreachable(svc)
		}
		if _, err := svc.PID(ctx); err != nil {
			return fmt.Errorf("not restarting: the %s's state is unknown: %w", svc.Name(), err)
		}
	}
	if err := stop(ctx, c.env, c.timeout); err != nil {
		return err
	}
	return c.startCmd.run(ctx)
}

type statusCmd struct {
	env  *Env
	json bool
}

// statusJSON is what `cco daemon status --json` prints: the fields of
// lifecycle.Status (schema documented there), "exposed", true when the
// daemon listens on an address other machines can reach, and "service", the
// per-user service as serviceState describes it, null where the platform
// has none.
type statusJSON struct {
	*lifecycle.Status
	Exposed bool          `json:"exposed"`
	Service *serviceState `json:"service"`
	// CLIVersion is this cco's version; a daemon of another one needs a
	// restart to run it.
	CLIVersion  string       `json:"cli_version"`
	Supervision *supervision `json:"supervision"`
}

// run prints the daemon's status. Exit 0: running and answering; 1:
// running but not answering; 3: not running.
func (c *statusCmd) run(ctx context.Context) error {
	paths, err := c.env.Paths()
	if err != nil {
		return err
	}
	s, err := lifecycle.New(paths).Status(ctx, healthTimeout)
	if err != nil {
		return err
	}
	svc, err := serviceStatus(ctx, c.env)
	if err != nil {
		return err
	}
	sup := supervisionStatus(ctx, c.env, paths, svc)
	if c.json {
		enc := json.NewEncoder(c.env.Stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(statusJSON{s, exposed(s.Address), svc, version.String(), sup}); err != nil {
			return err
		}
	} else {
		c.print(s, svc)
		sup.print(c.env.Stdout)
	}
	switch s.State {
	case lifecycle.StateRunning:
		return nil
	case lifecycle.StateUnhealthy:
		return &ExitError{Code: exitError}
	default:
		return &ExitError{Code: exitNotRunning}
	}
}

func (c *statusCmd) print(s *lifecycle.Status, svc *serviceState) {
	w := c.env.Stdout
	st := newStyle(w, c.env.Getenv)
	if s.Stale != "" {
		fmt.Fprintln(c.env.Stderr, "cco: "+s.Stale)
	}
	switch s.State {
	case lifecycle.StateStopped:
		fmt.Fprintf(w, "cco daemon is %s\n", st.dim("not running"))
	case lifecycle.StateRunning:
		fmt.Fprintf(w, "cco daemon is %s (pid %d) on %s\n", st.green("running"), s.PID, s.URL)
	default:
		fmt.Fprintf(w, "cco daemon is %s (pid %d) but %s: %s\n", st.yellow("running"), s.PID, st.red("not answering"), s.HealthError)
	}
	if exposed(s.Address) {
		fmt.Fprintf(w, "  %s %s\n", st.yellow("warning:"), config.ExposedWarning(s.Address))
	}
	if s.StartedAt != nil {
		fmt.Fprintf(w, "  uptime:  %s (since %s)\n", time.Duration(s.UptimeSeconds)*time.Second, s.StartedAt.Local().Format(time.RFC3339))
	}
	if s.Version != "" {
		fmt.Fprintf(w, "  version: %s\n", s.Version)
		if mine := version.String(); s.Version != mine {
			fmt.Fprintf(w, "  %s the daemon runs cco %s and this is cco %s: `cco daemon restart` runs this one\n", st.yellow("warning:"), s.Version, mine)
		}
	}
	if s.MemoryBytes > 0 {
		conns := ""
		if s.Connections >= 0 {
			conns = fmt.Sprintf(", %d open connection%s", s.Connections, map[bool]string{true: "", false: "s"}[s.Connections == 1])
		}
		fmt.Fprintf(w, "  memory:  %.1f MiB, CPU %s%s\n", float64(s.MemoryBytes)/(1<<20), time.Duration(s.CPUSeconds*float64(time.Second)).Round(10*time.Millisecond), conns)
	}
	fmt.Fprintf(w, "  log:     %s\n", s.LogFile)
	for _, line := range s.RecentProblems {
		paint := st.yellow
		if strings.Contains(line, " level=ERROR ") {
			paint = st.red
		}
		fmt.Fprintf(w, "    %s\n", paint(line))
	}
	printReload(w, s.Health)
	if svc != nil {
		fmt.Fprintf(w, "  %s\n", svc)
	}
}

// ignoreTermEnv is for tests only: when set to 1, `daemon run` ignores
// SIGTERM, so that tests can see stop escalate to SIGKILL.
const ignoreTermEnv = "CCO_TEST_IGNORE_SIGTERM"

// wedgeEnv is for tests only: while the file it names exists, the daemon's
// HTTP server hangs every request, as a deadlocked one would.
const wedgeEnv = "CCO_TEST_WEDGE_FILE"

// neverReadyEnv is for tests only: when set to 1, `daemon run` serves but
// never answers on start's readiness pipe (it keeps it open), so that tests
// can interrupt a start whose daemon holds its lock and state file.
const neverReadyEnv = "CCO_TEST_NEVER_READY"

type runCmd struct {
	env       *Env
	overrides config.Overrides
}

func (c *runCmd) run(ctx context.Context) error {
	eff, paths, err := loadEffective(c.env, c.overrides)
	if err != nil {
		// Restarting cannot fix a configuration: the unit's
		// RestartPreventExitStatus= lists this code.
		daemon.NotifyFailure(c.env.Getenv, err)
		return &ExitError{Code: config.ExitConfig, Err: err}
	}
	o := daemon.Options{
		Paths:  paths,
		Config: eff.DaemonConfig,
		Reload: func() (config.DaemonConfig, error) {
			eff, _, err := loadEffective(c.env, c.overrides)
			if err != nil {
				return config.DaemonConfig{}, err
			}
			return eff.DaemonConfig, nil
		},
		Getenv:      c.env.Getenv,
		RedirectStd: true,
		IgnoreTERM:  c.env.Getenv(ignoreTermEnv) == "1",
		WedgeFile:   c.env.Getenv(wedgeEnv),
	}
	// launchd has no start limit: under it the daemon keeps its own.
	limited := c.env.Getenv("XPC_SERVICE_NAME") == identity.LaunchdLabel
	o.Launchd = limited
	record := paths.FailedStarts()
	if limited {
		n, over, err := startlimit.Check(record, c.env.Now(), startlimit.Default)
		if err != nil {
			return err
		}
		if over {
			// A clean exit: KeepAlive SuccessfulExit=false keeps it down.
			fmt.Fprintf(c.env.Stderr, "cco daemon: %d failed starts within %v under launchd: not starting again until `cco daemon start` (the errors are above)\n",
				n, startlimit.Default.Interval)
			return nil
		}
	}
	ctx, done, err := recordLife(context.WithoutCancel(ctx), c.env, paths, &o)
	if err != nil {
		return err
	}
	if fd := c.env.Getenv(protocol.ReadyFDEnv); fd != "" {
		n, err := strconv.Atoi(fd)
		if err != nil || n < 3 {
			return fmt.Errorf("%s=%q does not name an inherited file descriptor", protocol.ReadyFDEnv, fd)
		}
		if c.env.Getenv(neverReadyEnv) != "1" {
			o.Ready = os.NewFile(uintptr(n), "readiness pipe")
		}
		os.Unsetenv(protocol.ReadyFDEnv)
	}
	if f, ok := c.env.Stderr.(*os.File); ok && isTerminal(f) {
		// Run by hand in a terminal: its log lines show there too. A copy
		// of the descriptor, since the daemon points fd 2 at its log.
		if fd, err := unix.Dup(int(f.Fd())); err == nil {
			echo := os.NewFile(uintptr(fd), "terminal")
			defer echo.Close()
			o.Echo = echo
		}
	}
	// The daemon handles SIGTERM and SIGINT itself, and logs which stopped
	// it: its context ends only when its supervisor is gone.
	err = done(daemon.Run(ctx, o))
	if err != nil && limited {
		if rerr := startlimit.Failed(record, c.env.Now()); rerr != nil {
			fmt.Fprintf(c.env.Stderr, "cco daemon: %v\n", rerr)
		}
	}
	return err
}
