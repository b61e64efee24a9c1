package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
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
	"github.com/anthropics/cco/service/identity"
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
	ic.Flag("override", "Where a package already installed cco-daemon.service, write your own unit anyway: ~/.config/systemd/user takes precedence over the package's directory.").BoolVar(&install.override)

	uninstall := &uninstallCmd{env: e}
	uc := daemon.Command("uninstall", "Stop and disable the service and remove what install wrote; a unit a package installed stays.").Action(action(e, uninstall.run))
	uc.Flag("dry-run", "Print what uninstall would remove and run; change nothing.").BoolVar(&uninstall.dryRun)

	enable := &enableCmd{env: e, enable: true}
	ec := daemon.Command("enable", "Start the installed service at login, and set auto_start = true so that install keeps it so.").Action(action(e, enable.run))
	ec.Flag("now", "Also start it now.").BoolVar(&enable.now)

	disable := &enableCmd{env: e}
	dc := daemon.Command("disable", "Stop starting the installed service at login, and set auto_start = false so that install keeps it so.").Action(action(e, disable.run))
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
	env      *Env
	dryRun   bool
	os       string
	noStart  bool
	override bool
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
	opts := service.InstallOptions{AutoStart: eff.AutoStart, NoStart: c.noStart, Override: c.override}
	if opts.Health, err = render.HealthDropIn(eff.DaemonConfig); err != nil {
		return err
	}
	if reachable && (cur.Foreign == "" || c.override) {
		if opts.DropIn, err = e.sandboxDropIn(ctx, m, eff.DaemonConfig, paths); err != nil {
			return err
		}
	}
	if cur.Foreign != "" && goos == "linux" {
		c.sayPackaged(m, cur)
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
		// Its supervisor, if any, is stopped with it, or it would restart it.
		if _, _, err := stopSupervised(ctx, ctl, serviceWait); err != nil {
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
	begin := e.Now()
	if err := applyPlan(ctx, e, m, m.Install(cur, f.Data, opts)); err != nil {
		return daemonSaid(ctx, managed{m}, paths, begin, err)
	}
	if c.noStart {
		return nil
	}
	r, err := ctl.WaitRunning(ctx, serviceWait)
	if err != nil {
		return daemonSaid(ctx, managed{m}, paths, begin, fmt.Errorf("the %s did not bring the daemon up: %w", m.Name(), err))
	}
	fmt.Fprintf(e.Stdout, "the daemon (pid %d) serves on %s\n", r.PID, r.State.URL())
	return nil
}

// sayPackaged tells what install does with a unit a package installed.
func (c *installCmd) sayPackaged(m service.Manager, cur service.State) {
	login := "disabled (does not start at login)"
	if cur.Enabled {
		login = "enabled (starts at login)"
	}
	if c.override {
		fmt.Fprintf(c.env.Stdout, "%s is installed already, from %s, %s; --override: writing your own %s, which systemd uses instead (your ~/.config/systemd/user takes precedence over the package's directory)\n",
			identity.UnitName, cur.Foreign, login, m.Path())
		return
	}
	fmt.Fprintf(c.env.Stdout, "%s is installed already, from %s, %s: cco uses it and writes no unit of its own.\n"+
		"  To run your own unit instead: cco daemon install --override (it goes to %s, which takes precedence over the package's directory)\n",
		identity.UnitName, cur.Foreign, login, m.Path())
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

// run switches start-at-login in the manager, then records it as
// auto_start in config.toml, so that the next install, which enables or
// disables by auto_start, keeps what the user chose here.
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
	if err := applyPlan(ctx, c.env, m, p); err != nil {
		return err
	}
	k, err := config.LookupKey("auto_start")
	if err != nil {
		return err
	}
	value := strconv.FormatBool(c.enable)
	_, paths, err := editConfig(ctx, c.env, k, &value)
	if err != nil {
		return fmt.Errorf("recording auto_start = %s, so that install keeps it: %w", value, err)
	}
	fmt.Fprintf(c.env.Stdout, "auto_start = %s in %s\n", value, paths.Config())
	if v := c.env.Getenv(k.EnvVar()); v != "" {
		fmt.Fprintf(c.env.Stderr, "note: %s=%s in this environment overrides auto_start for install\n", k.EnvVar(), v)
	}
	return nil
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
	// Said is the daemon's own word on its state as the manager keeps it
	// (systemd's STATUS=, which the daemon sends when it cannot start);
	// "" when there is none.
	Said(ctx context.Context) string
}

// installedService returns the service that owns the daemon, or nil when
// the daemon is not installed as a service on this machine. A manager that
// can be asked (service.Finder: systemd, one systemctl call) finds a unit
// a package installed as well as cco's own; otherwise cco's own file counts.
func installedService(ctx context.Context, e *Env) (serviceControl, error) {
	m, err := e.hostService()
	if m == nil || err != nil {
		return nil, err
	}
	if f, ok := m.(service.Finder); ok {
		_, found, err := f.Find(ctx)
		if err == nil && !found {
			return nil, nil
		}
		if err == nil {
			return managed{m}, nil
		}
		// The manager cannot be asked (no user bus, no systemd): cco's own
		// unit file still says the service is there, and start, stop and
		// restart say its state is unknown; without one, they act on the
		// daemon directly.
		if _, serr := os.Stat(m.Path()); serr != nil {
			return nil, nil
		}
		return managed{m}, nil
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

func (s managed) Said(ctx context.Context) string {
	cur, err := s.m.State(ctx)
	if err != nil {
		return ""
	}
	return cur.Status
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
	// raw is the manager's own answer (service.State.Raw), for the
	// history's reading of how the daemon last exited.
	raw string

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
	// cco leaves alone; "" when there is none. Packaged: it is a unit a
	// package installed, which cco controls like its own (systemd).
	Foreign  string `json:"foreign,omitempty"`
	Packaged bool   `json:"packaged,omitempty"`
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
	if s.Packaged {
		line = "service: " + s.Name + " from " + s.Path + " (a package's), " + s.Detail
	}
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
	if s.Foreign != "" && !s.Packaged {
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
// none. Under systemd it costs one systemctl call (service.Finder).
func serviceStatus(ctx context.Context, e *Env) (*serviceState, error) {
	m, err := e.hostService()
	if m == nil || err != nil {
		return nil, err
	}
	s := &serviceState{Name: m.Name()}
	var cur service.State
	if f, ok := m.(service.Finder); ok {
		var found bool
		if cur, found, err = f.Find(ctx); err != nil {
			// The daemon's own status does not depend on the manager: say
			// why the service's is unknown (no user bus, no systemd).
			if _, serr := os.Stat(m.Path()); serr == nil {
				s.Path, s.Installed, s.Unknown = m.Path(), true, firstLine(err)
			}
			return s, nil
		} else if !found {
			return s, nil
		}
	} else {
		s.Path = m.Path()
		if _, err := os.Stat(m.Path()); errors.Is(err, os.ErrNotExist) {
			return s, nil
		}
		if cur, err = m.State(ctx); err != nil {
			s.Installed, s.Unknown = true, firstLine(err)
			return s, nil
		}
	}
	eff, paths, err := loadEffective(e, nil)
	if err != nil {
		return nil, err
	}
	s.Installed, s.Enabled, s.Active = cur.Found(), cur.Enabled, cur.Active
	if cur.Foreign != "" && runtime.GOOS == "linux" {
		// A package's unit is up to date when it watches the daemon as
		// the user's config says: through cco's drop-in where it must.
		s.Path, s.Packaged = cur.Foreign, true
		h, err := render.HealthDropIn(eff.DaemonConfig)
		if err != nil {
			return nil, err
		}
		want := service.PackagedHealth(cur.ForeignContent, h)
		s.UpToDate = string(want) == string(cur.Health) && (want == nil) == (cur.Health == nil)
	} else {
		s.Path = m.Path()
		f, err := e.serviceFile(runtime.GOOS, eff.DaemonConfig, paths)
		if err != nil {
			return nil, err
		}
		s.UpToDate = string(cur.Content) == string(f.Data)
	}
	s.Detail, s.PID, s.Restarts = cur.Detail, cur.PID, cur.Restarts
	s.raw = cur.Raw
	if cur.Masked {
		s.Detail, s.UpToDate = "masked (systemctl --user unmask cco-daemon.service)", true
	}
	s.LastExit, s.Foreign = cur.LastExit, cur.Foreign
	if !cur.Active {
		s.LastOutput = lastLine(paths.LaunchdLog())
	}
	return s, nil
}

// daemonSaid puts the daemon's own words in place of a service manager's
// failure to start it (systemctl's "see journalctl", a wait that ran out):
// the last error its log got since begin; else what it told the manager
// (systemd's STATUS=: a configuration it could not read fails before its
// log opens); else, under launchd, the last line of launchd.log written
// since begin. err stands when the daemon said nothing.
func daemonSaid(ctx context.Context, svc serviceControl, paths config.Paths, begin time.Time, err error) error {
	said := lastErrorSince(paths.LogFile(), begin)
	if said == "" {
		said = svc.Said(ctx)
	}
	if fi, serr := os.Stat(paths.LaunchdLog()); said == "" && serr == nil && !fi.ModTime().Before(begin) {
		said = lastLine(paths.LaunchdLog())
	}
	if said == "" {
		return err
	}
	return fmt.Errorf("the daemon did not start under the %s: %s", svc.Name(), said)
}

// errorTail is how much of the log's end daemonSaid reads.
const errorTail = 64 << 10

// lastErrorSince is the last level=ERROR line of the daemon's log (slog's
// text format) stamped at begin or later: its err= value, or its msg= when
// it has none; "" when there is none.
func lastErrorSince(path string, begin time.Time) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && fi.Size() > errorTail {
		f.Seek(fi.Size()-errorTail, io.SeekStart)
	}
	b, _ := io.ReadAll(io.LimitReader(f, errorTail))
	// The log stamps milliseconds.
	begin = begin.Truncate(time.Millisecond)
	said := ""
	for _, line := range strings.Split(string(b), "\n") {
		fields := logFields(line)
		if fields["level"] != "ERROR" {
			continue
		}
		if t, err := time.Parse(time.RFC3339Nano, fields["time"]); err != nil || t.Before(begin) {
			continue
		}
		if said = fields["err"]; said == "" {
			said = fields["msg"]
		}
	}
	return said
}

// logFields reads the key=value pairs of one slog text line; a quoted
// value is unquoted.
func logFields(line string) map[string]string {
	fields := map[string]string{}
	for line != "" {
		k, rest, ok := strings.Cut(line, "=")
		if !ok {
			break
		}
		var v string
		if strings.HasPrefix(rest, `"`) {
			q, err := strconv.QuotedPrefix(rest)
			if err != nil {
				break
			}
			v, _ = strconv.Unquote(q)
			rest = rest[len(q):]
		} else {
			v, rest, _ = strings.Cut(rest, " ")
		}
		fields[strings.TrimSpace(k)] = v
		line = strings.TrimLeft(rest, " ")
	}
	return fields
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
