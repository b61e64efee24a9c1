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
	env  Env
	path string
}

func newSystemd(env Env) (*systemd, error) {
	if dir := managerUnitDir(env); dir != "" {
		return &systemd{env: env, path: filepath.Join(dir, identity.UnitName)}, nil
	}
	// HOME is needed only where XDG_CONFIG_HOME does not name the place.
	xdg := env.Getenv("XDG_CONFIG_HOME")
	if !filepath.IsAbs(xdg) {
		if _, err := env.home(); err != nil {
			return nil, err
		}
	}
	return &systemd{env: env, path: identity.Path("linux", env.Getenv("HOME"), xdg)}, nil
}

// managerUnitDir asks the user's manager where it reads the user's own
// units, which follows the manager's XDG_CONFIG_HOME, not this shell's: the
// first entry of its UnitPath is that directory with ".control" appended
// (systemd's lookup order). It is "" when the manager cannot be asked or
// answers otherwise; the path is then computed as the manager would.
func managerUnitDir(env Env) string {
	if env.Getenv("XDG_RUNTIME_DIR") == "" && env.Getenv("DBUS_SESSION_BUS_ADDRESS") == "" {
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
func (m *systemd) dropInPath() string { return identity.DropInPath(m.path) }

func (m *systemd) Name() string { return "systemd user unit " + identity.UnitName }
func (m *systemd) Path() string { return m.path }

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

func (m *systemd) State(ctx context.Context) (State, error) {
	var st State
	content, err := readFile(m.path)
	if err != nil {
		return st, err
	}
	st.Content = content
	if st.DropIn, err = readFile(m.dropInPath()); err != nil {
		return st, err
	}
	if !m.env.systemdBooted() {
		return st, m.noSystemd()
	}
	if m.env.Getenv("XDG_RUNTIME_DIR") == "" && m.env.Getenv("DBUS_SESSION_BUS_ADDRESS") == "" {
		return st, m.noBus("neither XDG_RUNTIME_DIR nor DBUS_SESSION_BUS_ADDRESS is set")
	}
	args := systemctl("show", identity.UnitName, "--property=LoadState,ActiveState,SubState,MainPID,NRestarts")
	out, err := m.run(ctx, args)
	if err != nil {
		return st, err
	}
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
	// Not show's UnitFileState: the manager caches it until the next
	// daemon-reload, so it still says enabled after a disable.
	args = systemctl("is-enabled", identity.UnitName)
	out, err = m.env.Runner.Run(ctx, args[0], args[1:]...)
	if err != nil {
		return st, m.notFound(err)
	}
	if isNoBus(out) {
		return st, m.noBus(strings.TrimSpace(out.Stderr))
	}
	// is-enabled exits 1 for disabled and for not-found: its word decides.
	st.Enabled = strings.TrimSpace(out.Stdout) == "enabled"
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

func (m *systemd) Install(cur State, content []byte, o InstallOptions) Plan {
	var p Plan
	changed := !equalContent(cur.Content, content)
	if changed {
		done := "installed " + m.path
		if cur.Installed() {
			done = "updated " + m.path
		}
		p.Steps = append(p.Steps, Step{Kind: Write, Path: m.path, Content: content, Old: cur.Content, Done: done})
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

func (m *systemd) Uninstall(cur State) Plan {
	if !cur.Installed() && !cur.Loaded {
		return Plan{Idle: identity.UnitName + " is not installed"}
	}
	p := Plan{Steps: []Step{
		m.step("stopped", "stop", identity.UnitName),
		m.step("disabled", "disable", identity.UnitName),
		{Kind: Remove, Path: m.path, Done: "removed " + m.path},
	}}
	if cur.DropIn != nil {
		p.Steps = append(p.Steps, Step{Kind: Remove, Path: m.dropInPath(), Done: "removed " + m.dropInPath()})
	}
	p.Steps = append(p.Steps, m.step("reloaded systemd's view of the unit", "daemon-reload"))
	return p
}

func (m *systemd) notInstalled() error {
	return fmt.Errorf("the %s is not installed (no %s): run `cco daemon install` first", m.Name(), m.path)
}

// one is the plan of a single systemctl verb on the installed unit.
func (m *systemd) one(cur State, done string, args ...string) (Plan, error) {
	if !cur.Installed() {
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
