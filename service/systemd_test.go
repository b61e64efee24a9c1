package service

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const showCmd = "systemctl --user show cco-daemon.service --property=LoadState,ActiveState,SubState,MainPID,NRestarts,FragmentPath,UnitFileState,DropInPaths,StatusText,Result,ExecMainStatus,ExecMainCode,ExecMainExitTimestamp"

const unitPathCmd = "systemctl --user show --property=UnitPath --value"

const resetFailedCmd = "systemctl --user reset-failed cco-daemon.service"

func newTestSystemd(t *testing.T) (*systemd, *recorder, Env) {
	t.Helper()
	env, r, _ := testEnv(t)
	m, err := newSystemd(env)
	if err != nil {
		t.Fatal(err)
	}
	wantCalls(t, r)
	m.Path()
	wantCalls(t, r, unitPathCmd)
	return m, r, env
}

// TestSystemdPathFromManager: the unit goes where the manager reads units,
// whatever this shell's XDG_CONFIG_HOME says.
func TestSystemdPathFromManager(t *testing.T) {
	env, r, _ := testEnv(t)
	setenv(&env, "XDG_CONFIG_HOME", "/shell/config")
	r.answer(unitPathCmd, Output{Stdout: "/mgr/config/systemd/user.control /run/user/501/systemd/user.control /run/user/501/systemd/transient /mgr/config/systemd/user /etc/systemd/user\n"})
	m, err := newSystemd(env)
	if err != nil {
		t.Fatal(err)
	}
	if m.Path() != "/mgr/config/systemd/user/cco-daemon.service" {
		t.Errorf("path %s, want the manager's /mgr/config/systemd/user/cco-daemon.service", m.Path())
	}
	// An answer of another shape, or none: the path is computed.
	for _, out := range []Output{{Stdout: "/etc/systemd/user\n"}, {Code: 1, Stderr: "Failed to connect to bus"}} {
		r.answer(unitPathCmd, out)
		m, _ := newSystemd(env)
		if m.Path() != "/shell/config/systemd/user/cco-daemon.service" {
			t.Errorf("after %+v: path %s", out, m.Path())
		}
	}
}

func TestSystemdPath(t *testing.T) {
	m, _, env := newTestSystemd(t)
	if want := filepath.Join(env.Getenv("HOME"), ".config/systemd/user/cco-daemon.service"); m.Path() != want {
		t.Errorf("path %s, want %s", m.Path(), want)
	}
	setenv(&env, "XDG_CONFIG_HOME", "/xdg")
	m2, _ := newSystemd(env)
	if m2.Path() != "/xdg/systemd/user/cco-daemon.service" {
		t.Errorf("with XDG_CONFIG_HOME: path %s", m2.Path())
	}
}

// TestSystemdState: one systemctl call says everything status shows.
func TestSystemdState(t *testing.T) {
	env, r, _ := testEnv(t)
	m, _ := newSystemd(env)
	own := filepath.Join(env.Getenv("HOME"), ".config/systemd/user/cco-daemon.service")
	os.MkdirAll(filepath.Dir(own), 0o755)
	os.WriteFile(own, []byte("unit\n"), 0o644)
	r.answer(showCmd, Output{Stdout: "LoadState=loaded\nActiveState=active\nSubState=running\nMainPID=4242\nNRestarts=2\nFragmentPath=" + own + "\nUnitFileState=enabled\nDropInPaths=\nStatusText=\n"})
	st, err := m.State(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	wantCalls(t, r, showCmd)
	if string(st.Content) != "unit\n" || st.Foreign != "" || !st.Loaded || !st.Enabled || !st.Active || st.PID != 4242 || st.Restarts != 2 || st.Detail != "active (running)" {
		t.Errorf("state %+v", st)
	}
	if m.Path() != own {
		t.Errorf("path %s, want the loaded unit %s", m.Path(), own)
	}
	wantCalls(t, r)

	r.answer(showCmd, Output{Stdout: "LoadState=not-found\nActiveState=inactive\nSubState=dead\nMainPID=0\nNRestarts=0\nFragmentPath=\nUnitFileState=\nDropInPaths=\nStatusText=\n"})
	st, err = m.State(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if st.Found() || st.Loaded || st.Enabled || st.Active || st.Detail != "inactive (dead)" {
		t.Errorf("state %+v", st)
	}
}

// TestSystemdStatePackaged: a unit in another directory of the manager's is
// a package's; cco's health drop-in is found in the user's directory only.
func TestSystemdStatePackaged(t *testing.T) {
	env, r, _ := testEnv(t)
	// The shell's XDG_CONFIG_HOME differs from the manager's ~/.config.
	setenv(&env, "XDG_CONFIG_HOME", filepath.Join(t.TempDir(), "shell"))
	m, _ := newSystemd(env)
	pkg := filepath.Join(t.TempDir(), "usr/lib/systemd/user/cco-daemon.service")
	os.MkdirAll(filepath.Dir(pkg), 0o755)
	os.WriteFile(pkg, []byte("[Service]\nType=notify\nWatchdogSec=60\n"), 0o644)
	health := filepath.Join(env.Getenv("HOME"), ".config/systemd/user/cco-daemon.service.d/health.conf")
	os.MkdirAll(filepath.Dir(health), 0o755)
	os.WriteFile(health, []byte("[Service]\nWatchdogSec=4\n"), 0o644)
	r.answer(showCmd, Output{Stdout: "LoadState=loaded\nActiveState=failed\nSubState=failed\nMainPID=0\nFragmentPath=" + pkg +
		"\nUnitFileState=disabled\nDropInPaths=/etc/systemd/user/cco-daemon.service.d/health.conf " + health + "\nStatusText=cannot listen\n"})
	st, err := m.State(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	wantCalls(t, r, showCmd)
	if st.Installed() || !st.Found() || st.Foreign != pkg || st.Enabled || st.Status != "cannot listen" ||
		string(st.ForeignContent) != "[Service]\nType=notify\nWatchdogSec=60\n" || string(st.Health) != "[Service]\nWatchdogSec=4\n" {
		t.Errorf("state %+v", st)
	}
}

// TestSystemdInstallPackaged: install over a package's unit writes no unit:
// a health drop-in only where the unit watches otherwise than the config
// says; --override writes cco's own.
func TestSystemdInstallPackaged(t *testing.T) {
	m, r, _ := newTestSystemd(t)
	const pkg = "/usr/lib/systemd/user/cco-daemon.service"
	notify60 := "[Service]\nType=notify\nWatchdogSec=60\n"
	cur := State{Foreign: pkg, ForeignContent: []byte(notify60), Loaded: true}
	h := Health{Notify: true, WatchdogSec: 60, DropIn: []byte("health\n")}

	p := m.Install(cur, []byte("own unit\n"), InstallOptions{AutoStart: true, Health: h})
	apply1(t, m, p)
	wantCalls(t, r, "systemctl --user enable cco-daemon.service", resetFailedCmd, "systemctl --user start cco-daemon.service")
	if _, err := os.Stat(m.Path()); !os.IsNotExist(err) {
		t.Fatalf("install wrote %s over a package's unit: %v", m.Path(), err)
	}

	// auto_start = false: disabled, and kept so.
	enabled := cur
	enabled.Enabled, enabled.Active = true, true
	apply1(t, m, m.Install(enabled, []byte("own unit\n"), InstallOptions{Health: h}))
	wantCalls(t, r, "systemctl --user disable cco-daemon.service")
	if p := m.Install(cur, nil, InstallOptions{Health: h, NoStart: true}); len(p.Steps) != 0 {
		t.Errorf("install with auto_start false over a disabled unit plans %+v", p.Steps)
	}

	h2 := Health{Notify: true, WatchdogSec: 4, DropIn: []byte("health 4\n")}
	apply1(t, m, m.Install(enabled, nil, InstallOptions{AutoStart: true, Health: h2}))
	wantCalls(t, r, "systemctl --user daemon-reload", resetFailedCmd, "systemctl --user restart cco-daemon.service")
	healthPath := filepath.Join(m.Path()+".d", "health.conf")
	wantFile(t, healthPath, "health 4\n")
	withHealth := enabled
	withHealth.Health = []byte("health 4\n")
	if p := m.Install(withHealth, nil, InstallOptions{AutoStart: true, Health: h2}); len(p.Steps) != 0 {
		t.Errorf("second install plans %+v", p.Steps)
	}
	// Back to the package's own settings: the drop-in goes.
	apply1(t, m, m.Install(withHealth, nil, InstallOptions{AutoStart: true, Health: h}))
	wantCalls(t, r, "systemctl --user daemon-reload", resetFailedCmd, "systemctl --user restart cco-daemon.service")
	if _, err := os.Stat(healthPath); !os.IsNotExist(err) {
		t.Errorf("health drop-in still there: %v", err)
	}

	os.WriteFile(healthPath, []byte("health 4\n"), 0o644)
	p = m.Install(withHealth, []byte("own unit\n"), InstallOptions{AutoStart: true, Override: true, Health: h2})
	apply1(t, m, p)
	wantFile(t, m.Path(), "own unit\n")
	if _, err := os.Stat(healthPath); !os.IsNotExist(err) {
		t.Errorf("health drop-in beside cco's own unit: %v", err)
	}
	if len(p.Notes) == 0 || !strings.Contains(p.Notes[0], "takes precedence over "+pkg) {
		t.Errorf("notes %q", p.Notes)
	}
}

func TestSystemdUninstallPackaged(t *testing.T) {
	m, r, _ := newTestSystemd(t)
	pkg := filepath.Join(t.TempDir(), "cco-daemon.service")
	os.WriteFile(pkg, []byte("unit\n"), 0o644)
	healthPath := filepath.Join(m.Path()+".d", "health.conf")
	os.MkdirAll(filepath.Dir(healthPath), 0o755)
	os.WriteFile(healthPath, []byte("h\n"), 0o644)
	p := m.Uninstall(State{Foreign: pkg, Loaded: true, Active: true, Enabled: true, Health: []byte("h\n")})
	apply1(t, m, p)
	wantCalls(t, r, "systemctl --user stop cco-daemon.service", "systemctl --user disable cco-daemon.service", "systemctl --user daemon-reload")
	wantFile(t, pkg, "unit\n")
	if _, err := os.Stat(healthPath); !os.IsNotExist(err) {
		t.Errorf("health drop-in still there: %v", err)
	}
	if len(p.Notes) != 1 || !strings.Contains(p.Notes[0], "left "+pkg+" in place") {
		t.Errorf("notes %q", p.Notes)
	}
	if p := m.Uninstall(State{Foreign: pkg, Loaded: true}); len(p.Steps) != 0 || p.Idle == "" {
		t.Errorf("uninstall of a stopped, disabled package's unit plans %+v", p)
	}
}

func TestPackagedHealth(t *testing.T) {
	notify := Health{Notify: true, WatchdogSec: 60, DropIn: []byte("d")}
	plain := Health{DropIn: []byte("d")}
	for _, tc := range []struct {
		unit string
		h    Health
		need bool
	}{
		{"[Service]\nType=notify\nWatchdogSec=60\n", notify, false},
		{"[Service]\nType=notify\nWatchdogSec=30\n", notify, true},
		{"[Service]\nType=notify\nWatchdogSec=60\nWatchdogSec=\n", notify, true},
		{"[Unit]\nType=notify\nWatchdogSec=60\n[Service]\nType=exec\n", notify, true},
		{"[Service]\nType=notify\nWatchdogSec=60\n", plain, true},
		{"[Service]\nType=exec\n", plain, false},
		{"[Service]\nType=simple\nWatchdogSec=0\n", plain, false},
		{"[Service]\nType=exec\nWatchdogSec=10\n", plain, true},
	} {
		if got := PackagedHealth([]byte(tc.unit), tc.h); (got != nil) != tc.need {
			t.Errorf("%q with %+v: drop-in %q, want needed=%v", tc.unit, tc.h, got, tc.need)
		}
	}
}

func TestSystemdNoBus(t *testing.T) {
	t.Run("no variables", func(t *testing.T) {
		m, r, env := newTestSystemd(t)
		setenv(&env, "XDG_RUNTIME_DIR", "")
		m.env = env
		_, err := m.State(context.Background())
		if !errors.Is(err, ErrNoUserBus) {
			t.Fatalf("err %v, want ErrNoUserBus", err)
		}
		wantErr(t, err, "neither XDG_RUNTIME_DIR nor DBUS_SESSION_BUS_ADDRESS", "sudo or su", "machinectl shell ada@", "loginctl enable-linger ada", "XDG_RUNTIME_DIR=/run/user/501")
		wantCalls(t, r)
	})
	t.Run("systemctl says so", func(t *testing.T) {
		m, r, env := newTestSystemd(t)
		setenv(&env, "SUDO_USER", "bob")
		env.UID = 0
		m.env = env
		r.answer(showCmd, Output{Code: 1, Stderr: "Failed to connect to bus: No medium found\n"})
		_, err := m.State(context.Background())
		if !errors.Is(err, ErrNoUserBus) {
			t.Fatalf("err %v, want ErrNoUserBus", err)
		}
		wantErr(t, err, "Failed to connect to bus: No medium found", "machinectl shell bob@")
	})
	t.Run("in the middle of a plan", func(t *testing.T) {
		m, r, _ := newTestSystemd(t)
		r.answer("systemctl --user daemon-reload", Output{Code: 1, Stderr: "Failed to connect to user scope bus via local transport: Permission denied\n"})
		err := m.Apply(context.Background(), m.Install(State{}, []byte("x\n"), InstallOptions{AutoStart: true}), nil)
		if !errors.Is(err, ErrNoUserBus) {
			t.Fatalf("err %v, want ErrNoUserBus", err)
		}
		wantCalls(t, r, "systemctl --user daemon-reload")
	})
}

func TestSystemdInstall(t *testing.T) {
	const unit = "[Service]\nExecStart=/usr/bin/cco daemon run\n"
	m, r, _ := newTestSystemd(t)

	p := m.Install(State{}, []byte(unit), InstallOptions{AutoStart: true})
	done := apply1(t, m, p)
	wantCalls(t, r,
		"systemctl --user daemon-reload",
		"systemctl --user enable cco-daemon.service",
		resetFailedCmd,
		"systemctl --user start cco-daemon.service")
	wantFile(t, m.Path(), unit)
	if done[0] != "installed "+m.Path() || len(done) != 5 {
		t.Errorf("done %q", done)
	}
	if len(p.Notes) != 1 || !strings.Contains(p.Notes[0], "loginctl enable-linger ada") {
		t.Errorf("notes %q, want the linger note", p.Notes)
	}

	installed := State{Content: []byte(unit), Loaded: true, Enabled: true, Active: true}
	p = m.Install(installed, []byte(unit), InstallOptions{AutoStart: true})
	if len(p.Steps) != 0 || p.Idle != "cco-daemon.service is up to date" {
		t.Errorf("second install plans %+v", p)
	}

	p = m.Install(installed, []byte(unit+"# changed\n"), InstallOptions{AutoStart: true})
	done = apply1(t, m, p)
	wantCalls(t, r, "systemctl --user daemon-reload", resetFailedCmd, "systemctl --user restart cco-daemon.service")
	if done[0] != "updated "+m.Path() {
		t.Errorf("done %q", done)
	}

	stopped := State{Content: []byte(unit), Loaded: true, Enabled: true}
	apply1(t, m, m.Install(stopped, []byte(unit), InstallOptions{AutoStart: true}))
	wantCalls(t, r, resetFailedCmd, "systemctl --user start cco-daemon.service")

	apply1(t, m, m.Install(installed, []byte(unit), InstallOptions{AutoStart: false, NoStart: true}))
	wantCalls(t, r, "systemctl --user disable cco-daemon.service")

	os.Remove(m.Path())
	apply1(t, m, m.Install(State{}, []byte(unit), InstallOptions{NoStart: true}))
	wantCalls(t, r, "systemctl --user daemon-reload")
}

// TestSystemdSandboxDropIn: install writes the drop-in it is given, updates
// it, and removes it when given none; uninstall removes it.
func TestSystemdSandboxDropIn(t *testing.T) {
	const unit, dropIn = "[Service]\nExecStart=/usr/bin/cco daemon run\n", "[Service]\nPrivateUsers=yes\n"
	m, r, _ := newTestSystemd(t)
	path := filepath.Join(m.Path()+".d", "sandbox.conf")
	done := apply1(t, m, m.Install(State{}, []byte(unit), InstallOptions{DropIn: []byte(dropIn), NoStart: true}))
	wantCalls(t, r, "systemctl --user daemon-reload")
	wantFile(t, path, dropIn)
	if len(done) != 3 || done[1] != "installed the sandbox drop-in "+path {
		t.Errorf("done %q", done)
	}
	r.answer(showCmd, Output{Stdout: "LoadState=loaded\nFragmentPath=" + m.Path() + "\n"})
	st, err := m.State(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if string(st.DropIn) != dropIn {
		t.Errorf("state's drop-in %q", st.DropIn)
	}
	r.calls = nil
	if p := m.Install(st, []byte(unit), InstallOptions{DropIn: []byte(dropIn), NoStart: true}); len(p.Steps) != 0 {
		t.Errorf("install of the same unit and drop-in plans %+v", p.Steps)
	}
	active := st
	active.Active = true
	apply1(t, m, m.Install(active, []byte(unit), InstallOptions{DropIn: []byte(dropIn + "# changed\n")}))
	wantCalls(t, r, "systemctl --user daemon-reload", resetFailedCmd, "systemctl --user restart cco-daemon.service")
	wantFile(t, path, dropIn+"# changed\n")
	apply1(t, m, m.Install(st, []byte(unit), InstallOptions{NoStart: true}))
	wantCalls(t, r, "systemctl --user daemon-reload")
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("drop-in still there when install was given none: %v", err)
	}
	os.WriteFile(path, []byte(dropIn), 0o644)
	apply1(t, m, m.Uninstall(State{Content: []byte(unit), DropIn: []byte(dropIn), Loaded: true}))
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("drop-in still there after uninstall: %v", err)
	}
}

func TestSystemdCanSandbox(t *testing.T) {
	const probe = "systemd-run --user --wait --quiet --collect -p PrivateUsers=yes -p ProtectSystem=strict /bin/true"
	m, r, _ := newTestSystemd(t)
	if ok, _, err := m.CanSandbox(context.Background()); !ok || err != nil {
		t.Errorf("probe exit 0: %v %v", ok, err)
	}
	wantCalls(t, r, probe)
	r.answer(probe, Output{Code: 217})
	if ok, why, err := m.CanSandbox(context.Background()); ok || err != nil || !strings.Contains(why, "exited 217") {
		t.Errorf("probe exit 217: %v %q %v", ok, why, err)
	}
	r.answer(probe, Output{Code: 1, Stderr: "Failed to connect to bus: No such file or directory"})
	if _, _, err := m.CanSandbox(context.Background()); !errors.Is(err, ErrNoUserBus) {
		t.Errorf("probe without a bus: %v", err)
	}
}

func TestSystemdLingerOn(t *testing.T) {
	m, _, env := newTestSystemd(t)
	os.MkdirAll(env.LingerDir, 0o755)
	os.WriteFile(filepath.Join(env.LingerDir, "ada"), nil, 0o644)
	if p := m.Install(State{}, []byte("x"), InstallOptions{}); len(p.Notes) != 0 {
		t.Errorf("notes %q with linger on", p.Notes)
	}
}

func TestSystemdUninstall(t *testing.T) {
	m, r, _ := newTestSystemd(t)
	if p := m.Uninstall(State{}); len(p.Steps) != 0 || p.Idle != "cco-daemon.service is not installed" {
		t.Errorf("uninstall of nothing plans %+v", p)
	}
	os.MkdirAll(filepath.Dir(m.Path()), 0o755)
	os.WriteFile(m.Path(), []byte("x"), 0o644)
	apply1(t, m, m.Uninstall(State{Content: []byte("x"), Loaded: true, Active: true, Enabled: true}))
	wantCalls(t, r,
		"systemctl --user stop cco-daemon.service",
		"systemctl --user disable cco-daemon.service",
		"systemctl --user daemon-reload")
	if _, err := os.Stat(m.Path()); !os.IsNotExist(err) {
		t.Errorf("unit file still there: %v", err)
	}
}

func TestSystemdVerbs(t *testing.T) {
	m, r, _ := newTestSystemd(t)
	cur := State{Content: []byte("x"), Loaded: true}
	for _, tc := range []struct {
		plan func() (Plan, error)
		want string
	}{
		{func() (Plan, error) { return m.Enable(cur, false) }, "systemctl --user enable cco-daemon.service"},
		{func() (Plan, error) { return m.Enable(cur, true) }, resetFailedCmd + "\nsystemctl --user enable --now cco-daemon.service"},
		{func() (Plan, error) { return m.Disable(cur, false) }, "systemctl --user disable cco-daemon.service"},
		{func() (Plan, error) { return m.Disable(cur, true) }, "systemctl --user disable --now cco-daemon.service"},
		{func() (Plan, error) { return m.Start(cur) }, resetFailedCmd + "\nsystemctl --user start cco-daemon.service"},
		{func() (Plan, error) { return m.Stop(cur) }, "systemctl --user stop --no-block cco-daemon.service"},
		{func() (Plan, error) { return m.Kill(cur) }, "systemctl --user kill --signal=SIGKILL cco-daemon.service"},
		{func() (Plan, error) { return m.Restart(cur) }, resetFailedCmd + "\nsystemctl --user restart cco-daemon.service"},
	} {
		p, err := tc.plan()
		if err != nil {
			t.Fatal(err)
		}
		apply1(t, m, p)
		wantCalls(t, r, strings.Split(tc.want, "\n")...)
	}
	// reset-failed of a unit not loaded yet exits 1: nothing to reset.
	r.answer(resetFailedCmd, Output{Code: 1, Stderr: "Failed to reset failed state of unit cco-daemon.service: Unit cco-daemon.service not loaded.\n"})
	p, _ := m.Start(cur)
	apply1(t, m, p)
	_, err := m.Start(State{})
	wantErr(t, err, "not installed", m.Path(), "cco daemon install")
}

func TestSystemdFailure(t *testing.T) {
	m, r, _ := newTestSystemd(t)
	r.answer("systemctl --user start cco-daemon.service", Output{Code: 1, Stderr: "Job for cco-daemon.service failed because the control process exited with error code.\n"})
	p, _ := m.Start(State{Content: []byte("x")})
	err := m.Apply(context.Background(), p, nil)
	wantErr(t, err, "systemctl --user start cco-daemon.service failed (exit 1): Job for", "systemctl --user status cco-daemon.service")
}

func TestUnsupported(t *testing.T) {
	env, _, _ := testEnv(t)
	_, err := For("windows", env)
	wantErr(t, err, "not supported on windows", "cco daemon start")
}

// TestSystemdMasked: a masked unit is neither written over nor removed.
func TestSystemdMasked(t *testing.T) {
	env, r, _ := testEnv(t)
	m, _ := newSystemd(env)
	own := filepath.Join(env.Getenv("HOME"), ".config/systemd/user/cco-daemon.service")
	os.MkdirAll(filepath.Dir(own), 0o755)
	os.Symlink("/dev/null", own)
	r.answer(showCmd, Output{Stdout: "LoadState=masked\nActiveState=inactive\nSubState=dead\nFragmentPath=" + own + "\nUnitFileState=masked\n"})
	st, err := m.State(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !st.Masked || !st.Found() || st.Installed() {
		t.Errorf("state %+v", st)
	}
	for name, p := range map[string]Plan{"install": m.Install(st, []byte("unit\n"), InstallOptions{AutoStart: true}), "uninstall": m.Uninstall(st)} {
		if err := m.Apply(context.Background(), p, nil); err == nil || !strings.Contains(err.Error(), "systemctl --user unmask cco-daemon.service") {
			t.Errorf("%s of a masked unit: %v", name, err)
		}
	}
	if target, err := os.Readlink(own); err != nil || target != "/dev/null" {
		t.Errorf("the mask became %q, %v", target, err)
	}
}
