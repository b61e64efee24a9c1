package service

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/anthropics/cco/service/identity"
)

// systemd manages the daemon as a systemd user unit.
type systemd struct {
	env  Env
	path string
}

func newSystemd(env Env) (*systemd, error) {
	// HOME is needed only where XDG_CONFIG_HOME does not name the place.
	xdg := env.Getenv("XDG_CONFIG_HOME")
	if !filepath.IsAbs(xdg) {
		if _, err := env.home(); err != nil {
			return nil, err
		}
	}
	return &systemd{env: env, path: identity.Path("linux", env.Getenv("HOME"), xdg)}, nil
}

func (m *systemd) Name() string { return "systemd user unit " + identity.UnitName }
func (m *systemd) Path() string { return m.path }

func systemctl(args ...string) []string {
	return append([]string{"systemctl", "--user"}, args...)
}

// ErrNoUserBus means systemctl --user cannot reach the user's manager.
var ErrNoUserBus = errors.New("no user bus")

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
	_, err := m.run(ctx, s.Args)
	return err
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
		p.Steps = append(p.Steps,
			Step{Kind: Write, Path: m.path, Content: content, Old: cur.Content, Done: done},
			m.step("reloaded systemd's view of the unit", "daemon-reload"))
	}
	switch {
	case o.AutoStart && !cur.Enabled:
		p.Steps = append(p.Steps, m.step("enabled: starts at login", "enable", identity.UnitName))
	case !o.AutoStart && cur.Enabled:
		p.Steps = append(p.Steps, m.step("disabled: auto_start is false, so it does not start at login", "disable", identity.UnitName))
	}
	switch {
	case cur.Active && changed:
		p.Steps = append(p.Steps, m.step("restarted with the new unit", "restart", identity.UnitName))
	case !cur.Active && !o.NoStart:
		p.Steps = append(p.Steps, m.step("started", "start", identity.UnitName))
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
	return Plan{Steps: []Step{
		m.step("stopped", "stop", identity.UnitName),
		m.step("disabled", "disable", identity.UnitName),
		{Kind: Remove, Path: m.path, Done: "removed " + m.path},
		m.step("reloaded systemd's view of the unit", "daemon-reload"),
	}}
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

func (m *systemd) Enable(cur State, now bool) (Plan, error) {
	if now {
		return m.one(cur, "enabled (starts at login) and started", "enable", "--now", identity.UnitName)
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
	return m.one(cur, "started", "start", identity.UnitName)
}
func (m *systemd) Stop(cur State) (Plan, error) {
	return m.one(cur, "stopped", "stop", identity.UnitName)
}
func (m *systemd) Restart(cur State) (Plan, error) {
	return m.one(cur, "restarted", "restart", identity.UnitName)
}

// equalContent compares an installed file (nil: none) with a fresh render.
func equalContent(installed, fresh []byte) bool {
	return installed != nil && string(installed) == string(fresh)
}
