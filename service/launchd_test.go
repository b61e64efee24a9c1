package service

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"
)

const (
	target      = "gui/501/com.anthropic.cco.daemon"
	notLoaded   = "launchctl print gui/501/com.anthropic.cco.daemon"
	printGUI    = "launchctl print gui/501"
	printOff    = "launchctl print-disabled gui/501"
	plistText   = "<plist>v1</plist>\n"
	printOutput = "gui/501/com.anthropic.cco.daemon = {\n\tactive count = 1\n\tpath = /Users/ada/Library/LaunchAgents/com.anthropic.cco.daemon.plist\n\tstate = running\n\truns = 3\n\tpid = 812\n}\n"
)

func newTestLaunchd(t *testing.T) (*launchd, *recorder, *[]time.Duration) {
	t.Helper()
	env, r, slept := testEnv(t)
	m, err := newLaunchd(env)
	if err != nil {
		t.Fatal(err)
	}
	return m, r, slept
}

func bootstrapCmd(m *launchd) string { return "launchctl bootstrap gui/501 " + m.Path() }

func TestLaunchdState(t *testing.T) {
	m, r, _ := newTestLaunchd(t)
	if want := filepath.Join(m.env.Getenv("HOME"), "Library/LaunchAgents/com.anthropic.cco.daemon.plist"); m.Path() != want {
		t.Errorf("path %s, want %s", m.Path(), want)
	}
	r.answer(notLoaded, Output{Stdout: printOutput})
	r.answer(printOff, Output{Stdout: "disabled services = {\n\t\"com.apple.x\" => disabled\n\t\"com.anthropic.cco.daemon\" => enabled\n}\n"})
	st, err := m.State(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	wantCalls(t, r, printGUI, notLoaded, printOff)
	if st.Domain != "gui/501" || !st.Loaded || !st.Active || !st.Enabled || st.PID != 812 || st.Restarts != 2 || st.Detail != "running" {
		t.Errorf("state %+v", st)
	}

	r.answer(notLoaded, Output{Code: 113, Stderr: "Could not find service \"com.anthropic.cco.daemon\" in domain for port\n"})
	r.answer(printOff, Output{Stdout: "disabled services = {\n\t\"com.anthropic.cco.daemon\" => true\n}\n"})
	st, err = m.State(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if st.Loaded || st.Active || st.Enabled || st.Detail != "not loaded" {
		t.Errorf("state %+v", st)
	}
}

func TestLaunchdDomain(t *testing.T) {
	t.Run("no gui session", func(t *testing.T) {
		m, r, _ := newTestLaunchd(t)
		r.answer(printGUI, Output{Code: 112, Stderr: "Could not find domain for port identifier: gui/501\n"})
		st, err := m.State(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		wantCalls(t, r, printGUI, "launchctl print user/501/com.anthropic.cco.daemon", "launchctl print-disabled user/501")
		if st.Domain != "user/501" {
			t.Errorf("domain %s", st.Domain)
		}
	})
	t.Run("ssh", func(t *testing.T) {
		m, r, _ := newTestLaunchd(t)
		setenv(&m.env, "SSH_CONNECTION", "10.0.0.1 5555 10.0.0.2 22")
		st, _ := m.State(context.Background())
		wantCalls(t, r, "launchctl print user/501/com.anthropic.cco.daemon", "launchctl print-disabled user/501")
		if st.Domain != "user/501" {
			t.Errorf("domain %s", st.Domain)
		}
	})
}

func TestLaunchdInstall(t *testing.T) {
	m, r, _ := newTestLaunchd(t)
	fresh := State{Domain: "gui/501", Enabled: true}
	apply1(t, m, m.Install(fresh, []byte(plistText), InstallOptions{AutoStart: true}))
	wantCalls(t, r, bootstrapCmd(m), "launchctl kickstart "+target)
	wantFile(t, m.Path(), plistText)

	// A job disabled earlier is enabled first: launchd refuses to bootstrap it.
	os.Remove(m.Path())
	apply1(t, m, m.Install(State{Domain: "gui/501"}, []byte(plistText), InstallOptions{AutoStart: true}))
	wantCalls(t, r, "launchctl enable "+target, bootstrapCmd(m), "launchctl kickstart "+target)

	running := State{Domain: "gui/501", Content: []byte(plistText), Loaded: true, Enabled: true, Active: true}
	if p := m.Install(running, []byte(plistText), InstallOptions{AutoStart: true}); len(p.Steps) != 0 || p.Idle != "com.anthropic.cco.daemon is up to date" {
		t.Errorf("second install plans %+v", p)
	}

	apply1(t, m, m.Install(running, []byte("<plist>v2</plist>\n"), InstallOptions{AutoStart: true}))
	wantCalls(t, r, "launchctl bootout "+target, bootstrapCmd(m), "launchctl kickstart "+target)
	wantFile(t, m.Path(), "<plist>v2</plist>\n")

	apply1(t, m, m.Install(running, []byte("<plist>v3</plist>\n"), InstallOptions{NoStart: true}))
	wantCalls(t, r, "launchctl bootout "+target)

	stopped := State{Domain: "gui/501", Content: []byte(plistText), Enabled: true}
	apply1(t, m, m.Install(stopped, []byte(plistText), InstallOptions{}))
	wantCalls(t, r, bootstrapCmd(m), "launchctl kickstart "+target)
}

func TestLaunchdBootstrapErrors(t *testing.T) {
	fresh := State{Domain: "gui/501", Enabled: true}
	t.Run("already loaded", func(t *testing.T) {
		m, r, slept := newTestLaunchd(t)
		r.answer(bootstrapCmd(m), Output{Code: 5, Stderr: "Bootstrap failed: 5: Input/output error\n"})
		r.answer(notLoaded, Output{Stdout: printOutput})
		apply1(t, m, m.Install(fresh, []byte(plistText), InstallOptions{}))
		wantCalls(t, r, bootstrapCmd(m), notLoaded, "launchctl kickstart "+target)
		if len(*slept) != 0 {
			t.Errorf("slept %v", *slept)
		}
	})
	t.Run("old job still going away", func(t *testing.T) {
		m, r, slept := newTestLaunchd(t)
		r.answer(bootstrapCmd(m), Output{Code: 5, Stderr: "Bootstrap failed: 5: Input/output error\n"}, Output{})
		r.answer(notLoaded, Output{Code: 113})
		apply1(t, m, m.Install(fresh, []byte(plistText), InstallOptions{}))
		wantCalls(t, r, bootstrapCmd(m), notLoaded, bootstrapCmd(m), "launchctl kickstart "+target)
		if len(*slept) != 1 || (*slept)[0] != 50*time.Millisecond {
			t.Errorf("slept %v", *slept)
		}
	})
	t.Run("error 5 for good", func(t *testing.T) {
		m, r, slept := newTestLaunchd(t)
		r.answer(bootstrapCmd(m), Output{Code: 5, Stderr: "Bootstrap failed: 5: Input/output error\nTry re-running the command as root for richer errors.\n"})
		r.answer(notLoaded, Output{Code: 113})
		err := m.Apply(context.Background(), m.Install(fresh, []byte(plistText), InstallOptions{}), nil)
		wantErr(t, err, bootstrapCmd(m)+" failed (exit 5: Bootstrap failed: 5: Input/output error", "plutil -lint "+m.Path(), "launchctl print "+target)
		if len(r.calls) != 2*bootstrapTries || len(*slept) != bootstrapTries-1 {
			t.Errorf("%d commands, %d sleeps: %q", len(r.calls), len(*slept), r.calls)
		}
	})
}

func TestLaunchdExplain(t *testing.T) {
	m, r, _ := newTestLaunchd(t)
	cur := State{Domain: "gui/501", Content: []byte(plistText), Loaded: true, Enabled: true, Active: true}
	for _, tc := range []struct {
		code int
		says []string
	}{
		{113, []string{"exit 113", "not loaded", "cco daemon start"}},
		{3, []string{"exit 3", "not loaded"}},
		{37, []string{"still starting or stopping", "try again"}},
		{119, []string{"disabled", "cco daemon enable"}},
		{122, []string{"chmod 644 " + m.Path()}},
		{1, []string{"not through sudo"}},
		{125, []string{"gui domain exists only for a user logged in at the screen", "user/501"}},
		{150, []string{"launchctl error 150"}},
	} {
		r.answer("launchctl kickstart -k "+target, Output{Code: tc.code, Stderr: "boom\n"})
		p, err := m.Restart(cur)
		if err != nil {
			t.Fatal(err)
		}
		err = m.Apply(context.Background(), p, nil)
		wantErr(t, err, append(tc.says, "launchctl kickstart -k "+target+" failed", "boom")...)
	}
}

func TestLaunchdUninstallAndVerbs(t *testing.T) {
	m, r, _ := newTestLaunchd(t)
	if p := m.Uninstall(State{Domain: "gui/501"}); len(p.Steps) != 0 || p.Idle != "com.anthropic.cco.daemon is not installed" {
		t.Errorf("uninstall of nothing plans %+v", p)
	}
	loaded := State{Domain: "gui/501", Content: []byte(plistText), Loaded: true, Enabled: true, Active: true}
	unloaded := State{Domain: "gui/501", Content: []byte(plistText), Enabled: true}

	// bootout of a job that went away meanwhile is not an error.
	r.answer("launchctl bootout "+target, Output{Code: 3, Stderr: "Boot-out failed: 3: No such process\n"})
	apply1(t, m, m.Uninstall(loaded))
	wantCalls(t, r, "launchctl bootout "+target)

	for _, tc := range []struct {
		plan func() (Plan, error)
		want []string
	}{
		{func() (Plan, error) { return m.Enable(loaded, false) }, []string{"launchctl enable " + target}},
		{func() (Plan, error) { return m.Enable(unloaded, true) }, []string{"launchctl enable " + target, bootstrapCmd(m), "launchctl kickstart " + target}},
		{func() (Plan, error) { return m.Disable(loaded, false) }, []string{"launchctl disable " + target}},
		{func() (Plan, error) { return m.Disable(loaded, true) }, []string{"launchctl disable " + target, "launchctl bootout " + target}},
		{func() (Plan, error) { return m.Start(loaded) }, []string{"launchctl kickstart " + target}},
		{func() (Plan, error) { return m.Start(unloaded) }, []string{bootstrapCmd(m), "launchctl kickstart " + target}},
		{func() (Plan, error) { return m.Stop(loaded) }, []string{"launchctl bootout " + target}},
		{func() (Plan, error) { return m.Stop(unloaded) }, nil},
		{func() (Plan, error) { return m.Restart(loaded) }, []string{"launchctl kickstart -k " + target}},
		{func() (Plan, error) { return m.Restart(unloaded) }, []string{bootstrapCmd(m), "launchctl kickstart " + target}},
	} {
		p, err := tc.plan()
		if err != nil {
			t.Fatal(err)
		}
		apply1(t, m, p)
		wantCalls(t, r, tc.want...)
	}
	_, err := m.Stop(State{Domain: "gui/501"})
	wantErr(t, err, "LaunchAgent com.anthropic.cco.daemon is not installed", "cco daemon install")
}
