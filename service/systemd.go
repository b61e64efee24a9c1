package service

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/anthropics/cco/service/identity"
)

// systemd manages the daemon as a systemd user unit.
type systemd struct {
	env Env
	// path is cco's own unit: "" until Path asks the manager, or State
	// finds it loaded.
	path string
}

func newSystemd(env Env) (*systemd, error) {
	// HOME is needed only where XDG_CONFIG_HOME does not name the place.
	if !filepath.IsAbs(env.Getenv("XDG_CONFIG_HOME")) {
		if _, err := env.home(); err != nil {
			return nil, err
		}
	}
	return &systemd{env: env}, nil
}

// Path is where install writes cco's own unit: asked of the manager the
// first time (managerUnitDir), computed where there is none to ask.
func (m *systemd) Path() string {
	if m.path == "" {
		if dir := m.managerUnitDir(); dir != "" {
			m.path = filepath.Join(dir, identity.UnitName)
		} else {
			m.path = m.configPath(m.env.Getenv("XDG_CONFIG_HOME"))
		}
	}
	return m.path
}

// configPath is cco's unit in a configuration directory of the user's:
// XDG_CONFIG_HOME's, or ~/.config where it is empty.
func (m *systemd) configPath(xdgConfigHome string) string {
	return identity.Path("linux", m.env.Getenv("HOME"), xdgConfigHome)
}

// own reports whether a unit file the manager loaded is cco's own: one in
// the user's configuration directory, which packages and administrators
// never write into (they use /usr/lib, /etc or ~/.local/share). Judged
// without asking the manager for its UnitPath, which would cost status a
// second systemctl call: this shell's XDG_CONFIG_HOME, ~/.config (the
// manager's own default), or the path already asked.
func (m *systemd) own(fragment string) bool {
	return fragment != "" && (fragment == m.path ||
		fragment == m.configPath(m.env.Getenv("XDG_CONFIG_HOME")) || fragment == m.configPath(""))
}

// managerUnitDir asks the user's manager where it reads the user's own
// units, which follows the manager's XDG_CONFIG_HOME, not this shell's: the
// first entry of its UnitPath is that directory with ".control" appended
// (systemd's lookup order). It is "" when the manager cannot be asked or
// answers otherwise; the path is then computed as the manager would.
func (m *systemd) managerUnitDir() string {
	env := m.env
	if !env.systemdBooted() || (env.Getenv("XDG_RUNTIME_DIR") == "" && env.Getenv("DBUS_SESSION_BUS_ADDRESS") == "") {
		return ""
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	args := systemctl("show", "--property=UnitPath", "--value")
	out, err := env.Runner.Run(ctx, args[0], args[1:]...)
	if err != nil || out.Code != 0 {
		return ""
	}
	first, _, _ := strings.Cut(strings.TrimSpace(out.Stdout), " ")
	dir, ok := strings.CutSuffix(first, "/systemd/user.control")
	if !ok || !filepath.IsAbs(dir) {
		return ""
	}
	return filepath.Join(dir, "systemd", "user")
}

// dropInPath is where install puts the sandbox drop-in.
func (m *systemd) dropInPath() string { return identity.DropInPath(m.Path()) }

func (m *systemd) Name() string { return "systemd user unit " + identity.UnitName }

// healthPath is where install writes the health drop-in over a package's
// unit.
func (m *systemd) healthPath() string { return identity.HealthDropInPath(m.Path()) }

func systemctl(args ...string) []string {
	return append([]string{"systemctl", "--user"}, args...)
}

// ErrNoUserBus means systemctl --user cannot reach the user's manager.
var ErrNoUserBus = errors.New("no user bus")

// ErrNoSystemd means the machine runs without systemd: a container, WSL
// without systemd. There is no manager to install the daemon into.
var ErrNoSystemd = errors.New("no systemd")

func (m *systemd) noSystemd() error {
	return fmt.Errorf("%w: this machine does not run systemd (/run/systemd/system is missing: a container, or WSL without systemd enabled), so there is no service manager to install the daemon into.\n"+
		"Run it without one: `cco daemon start` runs the daemon under cco's own supervisor, which restarts it when it crashes; put that line in your shell's profile to have it after each login", ErrNoSystemd)
}

// noBus explains a missing user bus: what systemctl said, why, what to do.
func (m *systemd) noBus(said string) error {
	user, uid := m.env.Username, strconv.Itoa(m.env.UID)
	machinectl := "machinectl shell " + user + "@"
	if sudoUser := m.env.Getenv("SUDO_USER"); sudoUser != "" && m.env.UID == 0 {
		machinectl = "machinectl shell " + sudoUser + "@   (you are root through sudo; the service belongs to a user)"
	}
	return fmt.Errorf("%w: systemctl --user cannot reach your systemd user manager (%s).\n"+
		"This happens under sudo or su, and in other shells without a login session: there is no user bus.\n"+
		"Do one of:\n"+
		"  - run cco as the user, in their own login session (not through sudo or su);\n"+
		"  - open a real session from root: %s\n"+
		"  - keep the user's manager running and point at it: loginctl enable-linger %s; export XDG_RUNTIME_DIR=/run/user/%s",
		ErrNoUserBus, said, machinectl, user, uid)
}

func isNoBus(o Output) bool {
	s := o.Stderr + o.Stdout
	return strings.Contains(s, "Failed to connect to bus") ||
		strings.Contains(s, "Failed to connect to user scope bus") ||
		strings.Contains(s, "DBUS_SESSION_BUS_ADDRESS")
}

// State asks the manager with one systemctl call: status runs it every
// time. The unit is found wherever systemd loads it from, so a package's
// is seen as well as cco's own.
func (m *systemd) State(ctx context.Context) (State, error) {
	var st State
	if !m.env.systemdBooted() || (m.env.Getenv("XDG_RUNTIME_DIR") == "" && m.env.Getenv("DBUS_SESSION_BUS_ADDRESS") == "") {
		// No manager to ask: cco's own files, for install --dry-run.
		var err error
		if st.Content, err = readFile(m.Path()); err != nil {
			return st, err
		}
		if st.DropIn, err = readFile(m.dropInPath()); err != nil {
			return st, err
		}
		if !m.env.systemdBooted() {
			return st, m.noSystemd()
		}
		return st, m.noBus("neither XDG_RUNTIME_DIR nor DBUS_SESSION_BUS_ADDRESS is set")
	}
	// UnitFileState, not is-enabled: fresh after an enable or disable made
	// through the manager, which reloads it.
	args := systemctl("show", identity.UnitName, "--property=LoadState,ActiveState,SubState,MainPID,NRestarts,FragmentPath,UnitFileState,DropInPaths,StatusText,"+
		"Result,ExecMainStatus,ExecMainCode,ExecMainExitTimestamp")
	out, err := m.run(ctx, args)
	if errors.Is(err, ErrNoUserBus) {
		// The manager cannot be asked: cco's own files, as above.
		var rerr error
		if st.Content, rerr = readFile(m.Path()); rerr != nil {
			return st, rerr
		}
		st.DropIn, _ = readFile(m.dropInPath())
		return st, err
	}
	if err != nil {
		return st, err
	}
	st.Raw = out.Stdout
	props := map[string]string{}
	for _, line := range strings.Split(out.Stdout, "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			props[k] = v
		}
	}
	st.Loaded = props["LoadState"] == "loaded"
	switch props["ActiveState"] {
	case "active", "activating", "deactivating", "reloading":
		st.Active = true
	}
	st.Detail = props["ActiveState"]
	if sub := props["SubState"]; sub != "" {
		st.Detail += " (" + sub + ")"
	}
	st.PID, _ = strconv.Atoi(props["MainPID"])
	st.Restarts, _ = strconv.Atoi(props["NRestarts"])
	st.Enabled = props["UnitFileState"] == "enabled"
	st.Status = props["StatusText"]
	// No FragmentPath: no unit file anywhere, cco's own included (systemd
	// looks for a unit it was asked about on disk, without a reload).
	switch frag := props["FragmentPath"]; {
	case props["LoadState"] == "masked":
		st.Masked = true
	case m.own(frag):
		m.path = frag
		if st.Content, err = readFile(frag); err != nil {
			return st, err
		}
		if st.DropIn, err = readFile(m.dropInPath()); err != nil {
			return st, err
		}
	case frag != "":
		st.Foreign = frag
		if st.ForeignContent, err = readFile(frag); err != nil {
			return st, err
		}
	}
	for _, p := range strings.Fields(props["DropInPaths"]) {
		if filepath.Base(p) == "health.conf" && m.own(strings.TrimSuffix(filepath.Dir(p), ".d")) {
			if st.Health, err = readFile(p); err != nil {
				return st, err
			}
		}
	}
	return st, nil
}

// run runs a systemctl command and turns every failure into an error that
// says what to do.
func (m *systemd) run(ctx context.Context, args []string) (Output, error) {
	out, err := m.env.Runner.Run(ctx, args[0], args[1:]...)
	if err != nil {
		return out, m.notFound(err)
	}
	if out.Code == 0 {
		return out, nil
	}
	if isNoBus(out) {
		return out, m.noBus(strings.TrimSpace(out.Stderr))
	}
	return out, fmt.Errorf("%s failed (exit %d): %s\nSee: systemctl --user status %s", shellJoin(args), out.Code, strings.TrimSpace(out.Stderr), identity.UnitName)
}

func (m *systemd) notFound(err error) error {
	return fmt.Errorf("%w: managing the %s needs systemd's systemctl", err, m.Name())
}

func (m *systemd) runStep(ctx context.Context, s Step) error {
	out, err := m.run(ctx, s.Args)
	if err != nil && out.Code != 0 && s.okCode(out.Code) {
		return nil
	}
	return err
}

// resetFailed clears the unit's failed state and its start count, so that
// the starts a user asks for are not refused by StartLimitBurst= (which is
// there for crash loops). Exit 1 is a unit not loaded yet: nothing to reset.
func (m *systemd) resetFailed() Step {
	s := m.step("", "reset-failed", identity.UnitName)
	s.ok = []int{1}
	return s
}

func (m *systemd) Apply(ctx context.Context, p Plan, done func(Step)) error {
	return apply(ctx, p, done, m.runStep)
}

func (m *systemd) step(done string, args ...string) Step {
	return Step{Kind: Run, Args: systemctl(args...), Done: done}
}

// Install writes cco's own unit, or, where the manager has one from a
// package and Override is not asked, uses that one and writes no unit.
func (m *systemd) Install(cur State, content []byte, o InstallOptions) Plan {
	if cur.Masked {
		return Plan{Err: m.masked()}
	}
	if cur.Foreign != "" && !o.Override {
		return m.usePackaged(cur, o)
	}
	var p Plan
	changed := !equalContent(cur.Content, content)
	if changed {
		done := "installed " + m.Path()
		if cur.Installed() {
			done = "updated " + m.Path()
		}
		p.Steps = append(p.Steps, Step{Kind: Write, Path: m.Path(), Content: content, Old: cur.Content, Done: done})
	}
	switch {
	case o.DropIn != nil && !equalContent(cur.DropIn, o.DropIn):
		done := "installed the sandbox drop-in " + m.dropInPath()
		if cur.DropIn != nil {
			done = "updated the sandbox drop-in " + m.dropInPath()
		}
		p.Steps = append(p.Steps, Step{Kind: Write, Path: m.dropInPath(), Content: o.DropIn, Old: cur.DropIn, Done: done})
		changed = true
	case o.DropIn == nil && cur.DropIn != nil:
		p.Steps = append(p.Steps, Step{Kind: Remove, Path: m.dropInPath(), Done: "removed the sandbox drop-in " + m.dropInPath()})
		changed = true
	}
	// cco's own unit carries the health settings itself.
	if cur.Health != nil {
		p.Steps = append(p.Steps, Step{Kind: Remove, Path: m.healthPath(), Done: "removed " + m.healthPath() + ": your own unit carries the health settings"})
		changed = true
	}
	if cur.Foreign != "" {
		p.Notes = append(p.Notes, fmt.Sprintf("%s takes precedence over %s, which stays as its package installed it: `cco daemon uninstall` removes yours, and systemd uses the package's again", m.Path(), cur.Foreign))
	}
	return m.loginAndStart(p, cur, o, changed)
}

// usePackaged is install over a package's unit: no unit written; a drop-in
// where the unit's health settings differ from the user's; then enabled or
// disabled (auto_start) and started like cco's own.
func (m *systemd) usePackaged(cur State, o InstallOptions) Plan {
	var p Plan
	changed := true
	switch want := PackagedHealth(cur.ForeignContent, o.Health); {
	case want != nil && !equalContent(cur.Health, want):
		p.Steps = append(p.Steps, Step{Kind: Write, Path: m.healthPath(), Content: want, Old: cur.Health,
			Done: "wrote " + m.healthPath() + ": the package's unit follows health_checks and health_check_interval"})
	case want == nil && cur.Health != nil:
		p.Steps = append(p.Steps, Step{Kind: Remove, Path: m.healthPath(),
			Done: "removed " + m.healthPath() + ": the package's unit has your health settings"})
	default:
		changed = false
	}
	return m.loginAndStart(p, cur, o, changed)
}

// loginAndStart ends an install: systemd reloaded after a change, the unit
// enabled or disabled as auto_start says, the daemon started, or restarted
// to run what changed.
func (m *systemd) loginAndStart(p Plan, cur State, o InstallOptions, changed bool) Plan {
	if changed {
		p.Steps = append(p.Steps, m.step("reloaded systemd's view of the unit", "daemon-reload"))
	}
	switch {
	case o.AutoStart && !cur.Enabled:
		p.Steps = append(p.Steps, m.step("enabled: starts at login", "enable", identity.UnitName))
	case !o.AutoStart && cur.Enabled:
		p.Steps = append(p.Steps, m.step("disabled: auto_start is false, so it does not start at login", "disable", identity.UnitName))
	}
	switch {
	case cur.Active && changed:
		p.Steps = append(p.Steps, m.resetFailed(), m.step("restarted with the new unit", "restart", identity.UnitName))
	case !cur.Active && !o.NoStart:
		p.Steps = append(p.Steps, m.resetFailed(), m.step("started", "start", identity.UnitName))
	}
	if len(p.Steps) == 0 {
		p.Idle = identity.UnitName + " is up to date"
	}
	if note := m.lingerNote(); note != "" {
		p.Notes = append(p.Notes, note)
	}
	return p
}

// PackagedHealth is the health drop-in a package's unit needs to watch the
// daemon as h says: nil when the unit file itself already does (its
// [Service] Type= and WatchdogSec=), else h.DropIn.
func PackagedHealth(unit []byte, h Health) []byte {
	typ, watchdog := serviceHealth(unit)
	if h.Notify && typ == "notify" && watchdog == strconv.FormatInt(h.WatchdogSec, 10) {
		return nil
	}
	if !h.Notify && typ != "notify" && (watchdog == "" || watchdog == "0") {
		return nil
	}
	return h.DropIn
}

// serviceHealth reads a unit file's last Type= and WatchdogSec= of its
// [Service] section (an empty assignment resets, as in systemd).
func serviceHealth(unit []byte) (typ, watchdog string) {
	section := ""
	for _, line := range strings.Split(string(unit), "\n") {
		line = strings.TrimSpace(line)
		if strings.HasPrefix(line, "[") {
			section = line
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok || section != "[Service]" {
			continue
		}
		switch strings.TrimSpace(k) {
		case "Type":
			typ = strings.TrimSpace(v)
		case "WatchdogSec":
			watchdog = strings.TrimSpace(v)
		}
	}
	return typ, watchdog
}

// lingerNote warns when the user's services stop at logout.
func (m *systemd) lingerNote() string {
	dir := m.env.LingerDir
	if dir == "" {
		dir = "/var/lib/systemd/linger"
	}
	if _, err := os.Stat(filepath.Join(dir, m.env.Username)); err == nil {
		return ""
	}
	return fmt.Sprintf("lingering is off for %s, so systemd stops the daemon when you log out; to keep it running: loginctl enable-linger %s", m.env.Username, m.env.Username)
}

// Uninstall stops and disables the service and removes what cco wrote. A
// package's unit file is left where the package put it.
func (m *systemd) Uninstall(cur State) Plan {
	if cur.Masked {
		return Plan{Err: m.masked()}
	}
	if !cur.Found() && !cur.Loaded {
		return Plan{Idle: identity.UnitName + " is not installed"}
	}
	var p Plan
	if cur.Active || cur.Enabled || cur.Installed() {
		p.Steps = append(p.Steps, m.step("stopped", "stop", identity.UnitName), m.step("disabled", "disable", identity.UnitName))
	}
	if cur.Installed() {
		p.Steps = append(p.Steps, Step{Kind: Remove, Path: m.Path(), Done: "removed " + m.Path()})
	}
	if cur.DropIn != nil {
		p.Steps = append(p.Steps, Step{Kind: Remove, Path: m.dropInPath(), Done: "removed " + m.dropInPath()})
	}
	if cur.Health != nil {
		p.Steps = append(p.Steps, Step{Kind: Remove, Path: m.healthPath(), Done: "removed " + m.healthPath()})
	}
	if cur.Installed() || cur.DropIn != nil || cur.Health != nil {
		p.Steps = append(p.Steps, m.step("reloaded systemd's view of the unit", "daemon-reload"))
	}
	if cur.Foreign != "" {
		p.Notes = append(p.Notes, "left "+cur.Foreign+" in place: a package installed it, and removing that package removes it")
	}
	if len(p.Steps) == 0 {
		p.Idle = identity.UnitName + " is stopped and disabled, and cco installed nothing of it"
	}
	return p
}

// Find probes the manager (State: one systemctl call) for a unit to
// control, cco's own or a package's. Without systemd or a user bus there
// is none to ask: then only cco's own file counts, and the error is
// returned only when there is one.
func (m *systemd) Find(ctx context.Context) (State, bool, error) {
	st, err := m.State(ctx)
	if (errors.Is(err, ErrNoSystemd) || errors.Is(err, ErrNoUserBus)) && !st.Installed() {
		return st, false, nil
	}
	return st, st.Found(), err
}

var _ Finder = (*systemd)(nil)

// masked refuses to install over or uninstall a masked unit: the mask is
// someone's decision that it must not run.
func (m *systemd) masked() error {
	return fmt.Errorf("%s is masked (linked to /dev/null), so systemd starts nothing under that name, and cco leaves the mask alone: unmask it first with `systemctl --user unmask %s`", identity.UnitName, identity.UnitName)
}

func (m *systemd) notInstalled() error {
	return fmt.Errorf("the %s is not installed (no %s, and no unit of that name in any directory of the manager's): run `cco daemon install` first", m.Name(), m.Path())
}

// one is the plan of a single systemctl verb on the unit, cco's own or a
// package's.
func (m *systemd) one(cur State, done string, args ...string) (Plan, error) {
	if !cur.Found() {
		return Plan{}, m.notInstalled()
	}
	return Plan{Steps: []Step{m.step(done, args...)}}, nil
}

// userStart is one for a start a user asked for: the unit's failed state
// and start count are reset first.
func (m *systemd) userStart(cur State, done string, args ...string) (Plan, error) {
	p, err := m.one(cur, done, args...)
	if err == nil {
		p.Steps = append([]Step{m.resetFailed()}, p.Steps...)
	}
	return p, err
}

func (m *systemd) Enable(cur State, now bool) (Plan, error) {
	if now {
		return m.userStart(cur, "enabled (starts at login) and started", "enable", "--now", identity.UnitName)
	}
	return m.one(cur, "enabled: starts at login", "enable", identity.UnitName)
}

func (m *systemd) Disable(cur State, now bool) (Plan, error) {
	if now {
		return m.one(cur, "disabled (no start at login) and stopped", "disable", "--now", identity.UnitName)
	}
	return m.one(cur, "disabled: does not start at login", "disable", identity.UnitName)
}

func (m *systemd) Start(cur State) (Plan, error) {
	return m.userStart(cur, "started", "start", identity.UnitName)
}

// Stop asks systemd to stop the daemon and returns at once: the caller
// waits for as long as the user allows, then Kill ends it.
func (m *systemd) Stop(cur State) (Plan, error) {
	return m.one(cur, "asked to stop", "stop", "--no-block", identity.UnitName)
}

// Kill has systemd SIGKILL every process of the unit; the stop job asked
// for before then completes, and Restart= does not undo it.
func (m *systemd) Kill(cur State) (Plan, error) {
	return m.one(cur, "killed", "kill", "--signal=SIGKILL", identity.UnitName)
}

func (m *systemd) Restart(cur State) (Plan, error) {
	return m.userStart(cur, "restarted", "restart", identity.UnitName)
}

// CanSandbox runs a throw-away service under PrivateUsers= and
// ProtectSystem=, which succeeds only where the user's manager can make a
// user namespace: there the sandbox drop-in can apply; elsewhere systemd
// would refuse to start the daemon with it (exit 217/USER). The probe's
// own failure is an error; a refusal is false with systemd's word.
func (m *systemd) CanSandbox(ctx context.Context) (bool, string, error) {
	args := []string{"systemd-run", "--user", "--wait", "--quiet", "--collect",
		"-p", "PrivateUsers=yes", "-p", "ProtectSystem=strict", "/bin/true"}
	out, err := m.env.Runner.Run(ctx, args[0], args[1:]...)
	if err != nil {
		return false, "", fmt.Errorf("%w: probing whether the user's systemd can sandbox the daemon needs systemd-run", err)
	}
	if out.Code == 0 {
		return true, "", nil
	}
	if isNoBus(out) {
		return false, "", m.noBus(strings.TrimSpace(out.Stderr))
	}
	return false, fmt.Sprintf("%s exited %d: %s", shellJoin(args), out.Code, strings.TrimSpace(out.Stderr+out.Stdout)), nil
}

// equalContent compares an installed file (nil: none) with a fresh render.
func equalContent(installed, fresh []byte) bool {
	return installed != nil && string(installed) == string(fresh)
}
