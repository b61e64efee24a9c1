package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/alecthomas/kingpin/v2"

	"github.com/anthropics/cco/config"
	"github.com/anthropics/cco/lifecycle"
	"github.com/anthropics/cco/render"
	"github.com/anthropics/cco/service"
	"github.com/anthropics/cco/service/startlimit"
)

// serviceWait bounds the wait for a daemon the service manager started to
// serve, and for a daemon started by hand to stop before install.
const serviceWait = 10 * time.Second

func configureServiceCmds(daemon *kingpin.CmdClause, e *Env) {
	install := &installCmd{env: e}
	ic := daemon.Command("install", "Install the daemon as a per-user service: a systemd user unit on Linux, a LaunchAgent on macOS.").Action(action(e, install.run))
	ic.Flag("dry-run", "Print every file install would write and every command it would run, and a diff against what is installed; change nothing.").BoolVar(&install.dryRun)
	enumFlag(ic.Flag("os", "Preview the files of another platform (with --dry-run).").PlaceHolder("linux|darwin"), "os", &install.os, "linux", "darwin")
	ic.Flag("no-start", "Install and enable, but do not start the daemon now.").BoolVar(&install.noStart)

	uninstall := &uninstallCmd{env: e}
	uc := daemon.Command("uninstall", "Stop the service and remove it.").Action(action(e, uninstall.run))
	uc.Flag("dry-run", "Print what uninstall would remove and run; change nothing.").BoolVar(&uninstall.dryRun)

	enable := &enableCmd{env: e, enable: true}
	ec := daemon.Command("enable", "Start the installed service at login.").Action(action(e, enable.run))
	ec.Flag("now", "Also start it now.").BoolVar(&enable.now)

	disable := &enableCmd{env: e}
	dc := daemon.Command("disable", "Stop starting the installed service at login.").Action(action(e, disable.run))
	dc.Flag("now", "Also stop it now.").BoolVar(&disable.now)
}

// serviceEnv is what the service managers may know of this user.
func (e *Env) serviceEnv() (service.Env, error) {
	u, err := e.User()
	if err != nil {
		return service.Env{}, err
	}
	env := service.Env{Runner: e.Runner, Getenv: e.Getenv, UID: u.UID, Username: u.Name}
	if v := e.Getenv(systemdBootedEnv); v != "" {
		env.SystemdBooted = func() bool { return v == "1" }
	}
	return env, nil
}

// systemdBootedEnv is for tests only: 1 or 0 says whether systemd runs the
// machine, whatever /run/systemd/system says, so that the end-to-end
// scripts see the same on every machine.
const systemdBootedEnv = "CCO_TEST_SYSTEMD_BOOTED"

// serviceManager is the manager of goos: this platform's, or another one's
// for a preview.
func (e *Env) serviceManager(goos string) (service.Manager, error) {
	env, err := e.serviceEnv()
	if err != nil {
		return nil, err
	}
	if goos == runtime.GOOS {
		return service.New(env)
	}
	return service.For(goos, env)
}

// currentService is this platform's manager and what it has now.
func (e *Env) currentService(ctx context.Context) (service.Manager, service.State, error) {
	m, err := e.serviceManager(runtime.GOOS)
	if err != nil {
		return nil, service.State{}, err
	}
	cur, err := m.State(ctx)
	return m, cur, err
}

// hostService is this platform's manager; nil, and no error, on a platform
// without one or when HOME is unset.
func (e *Env) hostService() (service.Manager, error) {
	if e.Getenv("HOME") == "" {
		// Per-user services live under HOME: without it none can be
		// installed or found, and start/stop act on the daemon directly.
		return nil, nil
	}
	m, err := e.serviceManager(runtime.GOOS)
	var unsupported *service.ErrUnsupported
	if errors.As(err, &unsupported) {
		return nil, nil
	}
	return m, err
}

// serviceFile renders the service file install writes for goos, at the
// path its manager looks at (render.ServicePath).
func (e *Env) serviceFile(goos string, cfg config.DaemonConfig, paths config.Paths) (render.File, error) {
	t, err := e.serviceTarget(goos, cfg, paths)
	if err != nil {
		return render.File{}, err
	}
	return render.ServiceFile(t)
}

func (e *Env) serviceTarget(goos string, cfg config.DaemonConfig, paths config.Paths) (render.Target, error) {
	exe, err := e.servicePath("")
	if err != nil {
		return render.Target{}, err
	}
	return render.Target{
		OS: goos, Exec: exe, CCOHome: paths.Home, UserHome: e.Getenv("HOME"),
		XDGConfigHome: e.Getenv("XDG_CONFIG_HOME"), Config: cfg,
	}, nil
}

// sandboxDropIn is the sandbox drop-in install writes: nil where sandbox is
// off or the manager cannot run it (then a note says why).
func (e *Env) sandboxDropIn(ctx context.Context, m service.Manager, cfg config.DaemonConfig, paths config.Paths) ([]byte, error) {
	sb, ok := m.(service.Sandboxer)
	if !ok || !cfg.Sandbox {
		return nil, nil
	}
	can, why, err := sb.CanSandbox(ctx)
	if err != nil {
		return nil, err
	}
	if !can {
		fmt.Fprintf(e.Stderr, "note: the daemon runs in the unit's sandbox only, without the drop-in that makes the file system read-only: this systemd cannot run a service in a user namespace (%s)\n", why)
		return nil, nil
	}
	t, err := e.serviceTarget(runtime.GOOS, cfg, paths)
	if err != nil {
		return nil, err
	}
	f, err := render.SandboxDropIn(t)
	return f.Data, err
}

type installCmd struct {
	env     *Env
	dryRun  bool
	os      string
	noStart bool
}

func (c *installCmd) run(ctx context.Context) error {
	e := c.env
	goos := runtime.GOOS
	if c.os != "" && c.os != goos {
		if !c.dryRun {
			return fmt.Errorf("--os %s previews another platform: add --dry-run (cco installs only for the platform it runs on, %s)", c.os, goos)
		}
		goos = c.os
	}
	eff, paths, err := loadEffective(e, nil)
	if err != nil {
		return err
	}
	m, err := e.serviceManager(goos)
	if err != nil {
		return err
	}
	f, err := e.serviceFile(goos, eff.DaemonConfig, paths)
	if err != nil {
		return err
	}
	var cur service.State
	reachable := goos == runtime.GOOS
	if reachable {
		if cur, err = m.State(ctx); err != nil && !c.dryRun {
			return err
		} else if err != nil {
			fmt.Fprintf(e.Stderr, "install would fail: %v\n", err)
			reachable = false
		}
	} else {
		fmt.Fprintf(e.Stdout, "preview for %s: cco did not ask its service manager what is loaded, and assumes nothing is\n", goos)
	}

	// One daemon: a daemon started by hand makes way for the service.
	ctl := lifecycle.New(paths)
	var hand *lifecycle.Running
	if goos == runtime.GOOS {
		in, err := ctl.Inspect()
		if err != nil {
			return err
		}
		if r := in.Running; r != nil && (!cur.Active || r.PID != cur.PID) {
			hand = r
		}
	}
	opts := service.InstallOptions{AutoStart: eff.AutoStart, NoStart: c.noStart}
	if reachable {
		if opts.DropIn, err = e.sandboxDropIn(ctx, m, eff.DaemonConfig, paths); err != nil {
			return err
		}
	}
	if c.dryRun {
		if hand != nil {
			fmt.Fprintf(e.Stdout, "would stop the daemon started by hand (pid %d), so that only the service runs it\n", hand.PID)
		}
		m.Install(cur, f.Data, opts).Describe(e.Stdout)
		return nil
	}
	if hand != nil {
		fmt.Fprintf(e.Stdout, "stopping the daemon started by hand (pid %d), so that only the service runs it\n", hand.PID)
		if _, err := ctl.Stop(ctx, serviceWait); err != nil {
			return fmt.Errorf("stopping the daemon started by hand: %w", err)
		}
		if cur, err = m.State(ctx); err != nil {
			return err
		}
	}
	// The plist names CCO_HOME as the job's working directory: it must exist.
	if err := paths.Ensure(); err != nil {
		return err
	}
	// A user's own start: the daemon's start limit begins anew.
	if err := startlimit.Reset(paths.FailedStarts()); err != nil {
		return err
	}
	if err := applyPlan(ctx, e, m, m.Install(cur, f.Data, opts)); err != nil {
		return err
	}
	if c.noStart {
		return nil
	}
	r, err := ctl.WaitRunning(ctx, serviceWait)
	if err != nil {
		return fmt.Errorf("the %s did not bring the daemon up: %w", m.Name(), err)
	}
	fmt.Fprintf(e.Stdout, "the daemon (pid %d) serves on %s\n", r.PID, r.State.URL())
	return nil
}

// applyPlan carries out a plan, saying what each step did, or why there
// was nothing to do, then the plan's notes.
func applyPlan(ctx context.Context, e *Env, m service.Manager, p service.Plan) error {
	if p.Err != nil {
		return p.Err
	}
	if len(p.Steps) == 0 {
		fmt.Fprintln(e.Stdout, p.Idle)
	}
	err := m.Apply(ctx, p, func(s service.Step) {
		if s.Done != "" {
			fmt.Fprintln(e.Stdout, s.Done)
		}
	})
	if err != nil {
		return err
	}
	for _, n := range p.Notes {
		fmt.Fprintf(e.Stderr, "note: %s\n", n)
	}
	return nil
}

type uninstallCmd struct {
	env    *Env
	dryRun bool
}

func (c *uninstallCmd) run(ctx context.Context) error {
	m, cur, err := c.env.currentService(ctx)
	if err != nil {
		return err
	}
	p := m.Uninstall(cur)
	if c.dryRun {
		p.Describe(c.env.Stdout)
		return nil
	}
	return applyPlan(ctx, c.env, m, p)
}

type enableCmd struct {
	env    *Env
	enable bool
	now    bool
}

func (c *enableCmd) run(ctx context.Context) error {
	m, cur, err := c.env.currentService(ctx)
	if err != nil {
		return err
	}
	plan := m.Disable
	if c.enable {
		plan = m.Enable
	}
	p, err := plan(cur, c.now)
	if err != nil {
		return err
	}
	return applyPlan(ctx, c.env, m, p)
}

// serviceControl is how start, stop, restart and status reach a daemon that
// is installed as a per-user service: through its manager, which would
// restart a daemon killed behind its back (Restart=on-failure, KeepAlive).
type serviceControl interface {
	// Name says which service this is, for messages:
	// "systemd user unit cco-daemon.service".
	Name() string
	// Start asks the manager to start the daemon; it returns once the
	// manager accepted. Readiness is then seen in the state file.
	Start(ctx context.Context) error
	// Stop asks the manager to stop the daemon and keep it stopped; it may
	// return before the daemon is gone.
	Stop(ctx context.Context) error
	// Kill runs the manager's plan for a daemon that ignored its stop
	// (service.Killer); nothing where the manager has none.
	Kill(ctx context.Context) error
	// Active reports whether the manager still runs the service (or is
	// starting or stopping it).
	Active(ctx context.Context) (bool, error)
	// Restart asks the manager to restart the daemon.
	Restart(ctx context.Context) error
	// PID is the daemon's pid as the manager knows it; 0 when it runs none.
	PID(ctx context.Context) (int, error)
}

// installedService returns the service that owns the daemon, or nil when
// the daemon is not installed as a service on this machine.
func installedService(e *Env) (serviceControl, error) {
	m, err := e.hostService()
	if m == nil || err != nil {
		return nil, err
	}
	if _, err := os.Stat(m.Path()); errors.Is(err, os.ErrNotExist) {
		return nil, nil
	} else if err != nil {
		return nil, fmt.Errorf("looking for the %s: %w", m.Name(), err)
	}
	return managed{m}, nil
}

// managed is an installed service, controlled through its manager.
type managed struct{ m service.Manager }

func (s managed) Name() string                      { return s.m.Name() }
func (s managed) Start(ctx context.Context) error   { return s.do(ctx, s.m.Start) }
func (s managed) Stop(ctx context.Context) error    { return s.do(ctx, s.m.Stop) }
func (s managed) Restart(ctx context.Context) error { return s.do(ctx, s.m.Restart) }

func (s managed) PID(ctx context.Context) (int, error) {
	cur, err := s.m.State(ctx)
	return cur.PID, err
}

func (s managed) Kill(ctx context.Context) error {
	if k, ok := s.m.(service.Killer); ok {
		return s.do(ctx, k.Kill)
	}
	return nil
}

func (s managed) Active(ctx context.Context) (bool, error) {
	cur, err := s.m.State(ctx)
	return cur.Active, err
}

func (s managed) do(ctx context.Context, plan func(service.State) (service.Plan, error)) error {
	cur, err := s.m.State(ctx)
	if err != nil {
		return err
	}
	p, err := plan(cur)
	if err != nil {
		return err
	}
	return s.m.Apply(ctx, p, nil)
}

// serviceState is what `cco daemon status` says about the service.
type serviceState struct {
	Name      string `json:"name"`
	Path      string `json:"path"`
	Installed bool   `json:"installed"`
	Enabled   bool   `json:"enabled"`
	Active    bool   `json:"active"`
	// UpToDate: the installed file is what install would write now.
	UpToDate bool `json:"up_to_date"`
	// Detail is the manager's word: "active (running)", "not loaded".
	Detail   string `json:"detail"`
	PID      int    `json:"pid"`
	Restarts int    `json:"restarts"`
	// Unknown says why the manager could not be asked (no user bus, say):
	// Installed is then all that is known. "" when it answered.
	Unknown string `json:"unknown"`
	// LastExit is how the manager says the daemon last exited; "" when it
	// does not say.
	LastExit string `json:"last_exit,omitempty"`
	// Foreign is the file of another job loaded under cco's name, which
	// cco leaves alone; "" when there is none.
	Foreign string `json:"foreign,omitempty"`
	// LastOutput is the last line the daemon printed before its own log
	// opened (launchd.log), when the service is not running; "" otherwise.
	LastOutput string `json:"last_output,omitempty"`
}

// String is one line for `cco daemon status`.
func (s *serviceState) String() string {
	if !s.Installed {
		return "service: not installed (cco daemon install)"
	}
	if s.Unknown != "" {
		return "service: " + s.Name + " installed, state unknown: " + s.Unknown
	}
	line := "service: " + s.Name + ", " + s.Detail
	if s.Enabled {
		line += ", enabled (starts at login)"
	} else {
		line += ", disabled (does not start at login)"
	}
	if s.Restarts > 0 {
		line += ", restarted " + strconv.Itoa(s.Restarts) + " times"
	}
	if s.LastExit != "" && s.LastExit != "0" && s.LastExit != "(never exited)" {
		line += ", last exit " + s.LastExit
	}
	if s.Foreign != "" {
		line += "; another job with this name is loaded from " + s.Foreign + ", which cco leaves alone"
	}
	if s.LastOutput != "" {
		line += "\n  last said: " + s.LastOutput
	}
	if !s.UpToDate {
		line += "; out of date: run `cco daemon install` to update it"
	}
	return line
}

// firstLine is the first line of err's message: the what and why, without
// the advice that follows.
func firstLine(err error) string {
	l, _, _ := strings.Cut(err.Error(), "\n")
	return l
}

// serviceStatus reports the per-user service: nil when this platform has
// none.
func serviceStatus(ctx context.Context, e *Env) (*serviceState, error) {
	m, err := e.hostService()
	if m == nil || err != nil {
		return nil, err
	}
	s := &serviceState{Name: m.Name(), Path: m.Path()}
	if _, err := os.Stat(m.Path()); errors.Is(err, os.ErrNotExist) {
		return s, nil
	}
	cur, err := m.State(ctx)
	if err != nil {
		// The daemon's own status does not depend on the manager.
		s.Installed, s.Unknown = true, firstLine(err)
		return s, nil
	}
	eff, paths, err := loadEffective(e, nil)
	if err != nil {
		return nil, err
	}
	f, err := e.serviceFile(runtime.GOOS, eff.DaemonConfig, paths)
	if err != nil {
		return nil, err
	}
	s.Installed, s.Enabled, s.Active = cur.Installed(), cur.Enabled, cur.Active
	s.UpToDate = string(cur.Content) == string(f.Data)
	s.Detail, s.PID, s.Restarts = cur.Detail, cur.PID, cur.Restarts
	s.LastExit, s.Foreign = cur.LastExit, cur.Foreign
	if !cur.Active {
		s.LastOutput = lastLine(paths.LaunchdLog())
	}
	return s, nil
}

// lastLine is the last non-empty line of the file at path; "" when there
// is none or it cannot be read.
func lastLine(path string) string {
	var b strings.Builder
	if _, err := lifecycle.Tail(&b, path, 1); err != nil {
		return ""
	}
	return strings.TrimSpace(b.String())
}
