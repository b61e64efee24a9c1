//go:build linux

package service_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/anthropics/cco/service"
	"github.com/anthropics/cco/service/internal/systemdtest"
)

// userRunner runs commands as the private manager's user, in its mount
// namespace.
type userRunner struct{ sd *systemdtest.Manager }

func (r userRunner) Run(ctx context.Context, name string, args ...string) (service.Output, error) {
	cmd := r.sd.Command(ctx, name, args...)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	out := service.Output{Stdout: stdout.String(), Stderr: stderr.String()}
	if ee, ok := err.(*exec.ExitError); ok {
		out.Code = ee.ExitCode()
		return out, nil
	}
	return out, err
}

// realManager is the systemd Manager of the private manager's user.
func realManager(t *testing.T, sd *systemdtest.Manager) service.Manager {
	t.Helper()
	env := map[string]string{}
	for _, kv := range sd.Env() {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	m, err := service.For("linux", service.Env{
		Runner: userRunner{sd},
		Getenv: func(k string) string { return env[k] },
		UID:    sd.UID(), Username: sd.User(),
		LingerDir: t.TempDir(),
		// The private manager marks its own mount namespace as booted by
		// systemd, not the one this test runs in.
		SystemdBooted: func() bool { return true },
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func state(t *testing.T, m service.Manager) service.State {
	t.Helper()
	st, err := m.State(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func do(t *testing.T, m service.Manager, plan func(service.State) (service.Plan, error)) {
	t.Helper()
	p, err := plan(state(t, m))
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Apply(context.Background(), p, nil); err != nil {
		t.Fatal(err)
	}
}

// TestSystemdManagerReal drives the Manager against a real systemd user
// manager, with a trivial service.
func TestSystemdManagerReal(t *testing.T) {
	sd := systemdtest.Start(t)
	m := realManager(t, sd)
	ctx := context.Background()
	unit := "[Service]\nExecStart=/bin/sleep 1000\nRestart=always\nRestartSec=100ms\n\n[Install]\nWantedBy=default.target\n"
	opts := service.InstallOptions{AutoStart: true}

	if err := m.Apply(ctx, m.Install(state(t, m), []byte(unit), opts), nil); err != nil {
		t.Fatal(err)
	}
	st := state(t, m)
	if !st.Active || !st.Enabled || st.PID == 0 {
		t.Fatalf("after install: %+v", st)
	}

	if p := m.Install(st, []byte(unit), opts); len(p.Steps) != 0 {
		t.Errorf("second install plans %d steps, want none", len(p.Steps))
	}

	// kill -9: systemd restarts it.
	old := st.PID
	syscall.Kill(old, syscall.SIGKILL)
	sd.WaitFor(5*time.Second, "restarted after kill -9", func() bool {
		st = state(t, m)
		return st.Active && st.PID != 0 && st.PID != old
	})
	if st.Restarts != 1 {
		t.Errorf("NRestarts %d after one kill, want 1", st.Restarts)
	}

	// stop keeps it stopped despite Restart=always.
	do(t, m, m.Stop)
	time.Sleep(300 * time.Millisecond) // three RestartSec
	if st = state(t, m); st.Active {
		t.Fatalf("active again after stop: %+v", st)
	}

	do(t, m, m.Start)
	do(t, m, func(s service.State) (service.Plan, error) { return m.Disable(s, false) })
	if st = state(t, m); st.Enabled || !st.Active {
		t.Errorf("after disable: %+v", st)
	}
	do(t, m, func(s service.State) (service.Plan, error) { return m.Enable(s, false) })
	if st = state(t, m); !st.Enabled {
		t.Errorf("after enable: %+v", st)
	}

	// A changed unit is written and the running service restarted.
	changed := strings.Replace(unit, "1000", "1001", 1)
	p := m.Install(st, []byte(changed), opts)
	if err := m.Apply(ctx, p, nil); err != nil {
		t.Fatal(err)
	}
	if st2 := state(t, m); !st2.Active || st2.PID == st.PID {
		t.Errorf("after an install of a changed unit: %+v (was pid %d)", st2, st.PID)
	}

	// Reboot-equivalent: the enabled service comes back with a new manager.
	sd.Stop()
	sd.Boot()
	sd.WaitFor(5*time.Second, "back after the manager restarted", func() bool { return state(t, m).Active })

	pid := state(t, m).PID
	if err := m.Apply(ctx, m.Uninstall(state(t, m)), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(m.Path()); !os.IsNotExist(err) {
		t.Errorf("unit file still there after uninstall: %v", err)
	}
	if st = state(t, m); st.Active || st.Loaded || st.Enabled {
		t.Errorf("after uninstall: %+v", st)
	}
	if syscall.Kill(pid, 0) == nil {
		t.Errorf("pid %d still runs after uninstall", pid)
	}
	if _, err := os.Lstat(filepath.Join(sd.Home, ".config/systemd/user/default.target.wants/cco-daemon.service")); !os.IsNotExist(err) {
		t.Errorf("enable symlink left behind: %v", err)
	}
}

// TestSystemdWatchdogReal shows that a service which stops pinging the
// watchdog is restarted: the mechanism the daemon's health checks rely on.
func TestSystemdWatchdogReal(t *testing.T) {
	sd := systemdtest.Start(t)
	m := realManager(t, sd)
	unit := "[Service]\nType=notify\nNotifyAccess=all\nWatchdogSec=1\nRestart=always\nRestartSec=100ms\n" +
		"ExecStart=/bin/sh -c 'systemd-notify --ready; while :; do systemd-notify WATCHDOG=1; sleep 0.2; done'\n"
	if err := m.Apply(context.Background(), m.Install(state(t, m), []byte(unit), service.InstallOptions{}), nil); err != nil {
		t.Fatal(err)
	}
	st := state(t, m)
	syscall.Kill(st.PID, syscall.SIGSTOP)
	begin := time.Now()
	sd.WaitFor(5*time.Second, "restarted by the watchdog", func() bool {
		s := state(t, m)
		return s.Restarts >= 1 && s.Active && s.PID != st.PID
	})
	t.Logf("a hung service was restarted %v after it stopped pinging (WatchdogSec=1)", time.Since(begin).Round(10*time.Millisecond))
}
