package service

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/anthropics/cco/internal/tooltest"
)

const (
	target    = "gui/501/com.anthropic.cco.daemon"
	lc        = "/bin/launchctl "
	printJob  = lc + "print " + target
	printUser = lc + "print user/501/com.anthropic.cco.daemon"
	printGUI  = lc + "print gui/501"
	printOff  = lc + "print-disabled gui/501"
	plistText = "<plist>v1</plist>\n"
	notFound  = "Could not find service \"com.anthropic.cco.daemon\" in domain for port\n"
)

// printOf is `launchctl print` of a job loaded from path, shaped like a
// real one: nested blocks carry their own state and pid lines.
func printOf(path, state string, pid int) string {
	s := "gui/501/com.anthropic.cco.daemon = {\n\tactive count = 1\n\tpath = " + path + "\n\ttype = LaunchAgent\n\tstate = " + state + "\n\n" +
		"\tprogram = /opt/homebrew/bin/cco\n\targuments = {\n\t\t/opt/homebrew/bin/cco\n\t\tdaemon\n\t\trun\n\t}\n\n" +
		"\tenvironment = {\n\t\tPATH => /usr/bin\n\t}\n\n\tdomain = gui/501\n\truns = 3\n"
	if pid != 0 {
		s += "\tpid = " + strconv.Itoa(pid) + "\n"
	}
	return s + "\tlast exit code = 1\n\n\tendpoints = {\n\t\t\"x\" = {\n\t\t\tstate = waiting\n\t\t\tpid = 1\n\t\t\tpath = /elsewhere\n\t\t}\n\t}\n}\n"
}

func newTestLaunchd(t *testing.T) (*launchd, *recorder, *[]time.Duration) {
	t.Helper()
	env, r, slept := testEnv(t)
	env.ConsoleUID = func() (int, error) { return 501, nil }
	m, err := newLaunchd(env)
	if err != nil {
		t.Fatal(err)
	}
	return m, r, slept
}

func bootstrapCmd(m *launchd) string { return lc + "bootstrap gui/501 " + m.Path() }

func TestParsePrintTopLevelOnly(t *testing.T) {
	j := parsePrint(printOf("/p/ours.plist", "not running", 0))
	if j.path != "/p/ours.plist" || j.state != "not running" || j.pid != 0 || j.runs != 3 || j.lastExit != "1" {
		t.Errorf("parsed %+v", j)
	}
}

func TestLaunchdState(t *testing.T) {
	m, r, _ := newTestLaunchd(t)
	if want := filepath.Join(m.env.Getenv("HOME"), "Library/LaunchAgents/com.anthropic.cco.daemon.plist"); m.Path() != want {
		t.Errorf("path %s, want %s", m.Path(), want)
	}
	r.answer(printJob, Output{Stdout: printOf(m.Path(), "running", 812)})
	r.answer(printOff, Output{Stdout: "disabled services = {\n\t\"com.apple.x\" => disabled\n\t\"com.anthropic.cco.daemon\" => enabled\n}\n"})
	st, err := m.State(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	wantCalls(t, r, printGUI, printJob, printOff)
	if st.Domain != "gui/501" || !st.Loaded || !st.Active || !st.Enabled || st.PID != 812 || st.Restarts != 2 || st.Detail != "running" || st.Foreign != "" || st.LastExit != "1" {
		t.Errorf("state %+v", st)
	}

	// Not loaded in gui/: user/ is asked too.
	r.answer(printJob, Output{Code: 113, Stderr: notFound})
	r.answer(printUser, Output{Code: 113, Stderr: notFound})
	r.answer(printOff, Output{Stdout: "disabled services = {\n\t\"com.anthropic.cco.daemon\" => true\n}\n"})
	st, err = m.State(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	wantCalls(t, r, printGUI, printJob, printUser, printOff)
	if st.Loaded || st.Active || st.Enabled || st.Detail != "not loaded" || st.Domain != "gui/501" {
		t.Errorf("state %+v", st)
	}

	// Loaded from an SSH session into user/: found from the screen too.
	r.answer(printUser, Output{Stdout: printOf(m.Path(), "running", 90)})
	st, err = m.State(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	wantCalls(t, r, printGUI, printJob, printUser, lc+"print-disabled user/501")
	if st.Domain != "user/501" || !st.Loaded || st.PID != 90 {
		t.Errorf("state %+v", st)
	}
}

func TestLaunchdForeignJob(t *testing.T) {
	m, r, _ := newTestLaunchd(t)
	brew := "/Users/ada/Library/LaunchAgents/homebrew.mxcl.cco.plist"
	r.answer(printJob, Output{Stdout: printOf(brew, "running", 700)})
	st, err := m.State(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if st.Foreign != brew || !st.Loaded {
		t.Fatalf("state %+v", st)
	}
	r.calls = nil
	err = m.Apply(context.Background(), m.Install(st, []byte(plistText), InstallOptions{AutoStart: true}), nil)
	wantErr(t, err, "from "+brew, "cco leaves it alone", "launchctl bootout "+target)
	for _, op := range []func(State) (Plan, error){m.Start, m.Stop, m.Restart, m.Kill} {
		_, err := op(st)
		wantErr(t, err, "from "+brew)
	}
	p := m.Uninstall(st)
	if len(p.Steps) != 0 || len(p.Notes) != 1 {
		t.Errorf("uninstall beside a foreign job plans %+v", p)
	}
	wantCalls(t, r)
	var b strings.Builder
	m.Install(st, []byte(plistText), InstallOptions{}).Describe(&b)
	if !strings.Contains(b.String(), "would refuse: launchd runs a job labelled") {
		t.Errorf("dry run says:\n%s", b.String())
	}
}

func TestLaunchdDomain(t *testing.T) {
	for _, tc := range []struct {
		name    string
		console int
		gui     Output
		want    string
	}{
		// Homebrew's rule: the console's owner gets gui/, even over SSH.
		{"console is ours", 501, Output{}, "gui/501"},
		{"console is someone else's", 502, Output{}, "user/501"},
		{"no gui session", 501, Output{Code: 112, Stderr: "Could not find domain for port identifier: gui/501\n"}, "user/501"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, r, _ := newTestLaunchd(t)
			setenv(&m.env, "SSH_CONNECTION", "10.0.0.1 5555 10.0.0.2 22")
			m.env.ConsoleUID = func() (int, error) { return tc.console, nil }
			r.answer(printGUI, tc.gui)
			r.answer(printJob, Output{Code: 113})
			r.answer(printUser, Output{Code: 113})
			st, err := m.State(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if st.Domain != tc.want {
				t.Errorf("domain %s, want %s", st.Domain, tc.want)
			}
		})
	}
	t.Run("no console", func(t *testing.T) {
		m, r, _ := newTestLaunchd(t)
		m.env.ConsoleUID = func() (int, error) { return -1, errors.New("no /dev/console") }
		r.answer(printJob, Output{Code: 113})
		r.answer(printUser, Output{Code: 113})
		st, _ := m.State(context.Background())
		wantCalls(t, r, printJob, printUser, lc+"print-disabled user/501")
		if st.Domain != "user/501" {
			t.Errorf("domain %s", st.Domain)
		}
	})
}

func TestLaunchdInstall(t *testing.T) {
	m, r, _ := newTestLaunchd(t)
	fresh := State{Domain: "gui/501", Enabled: true}
	apply1(t, m, m.Install(fresh, []byte(plistText), InstallOptions{AutoStart: true}))
	wantCalls(t, r, bootstrapCmd(m), lc+"kickstart "+target)
	wantFile(t, m.Path(), plistText)

	// A job disabled earlier is enabled first: launchd refuses to bootstrap it.
	os.Remove(m.Path())
	apply1(t, m, m.Install(State{Domain: "gui/501"}, []byte(plistText), InstallOptions{AutoStart: true}))
	wantCalls(t, r, lc+"enable "+target, bootstrapCmd(m), lc+"kickstart "+target)

	running := State{Domain: "gui/501", Content: []byte(plistText), Loaded: true, Enabled: true, Active: true}
	if p := m.Install(running, []byte(plistText), InstallOptions{AutoStart: true}); len(p.Steps) != 0 || p.Idle != "com.anthropic.cco.daemon is up to date" {
		t.Errorf("second install plans %+v", p)
	}

	// A changed plist: bootout, wait until launchd says the job is gone,
	// then load the new one.
	r.answer(printJob, Output{Stdout: printOf(m.Path(), "running", 5)}, Output{Stdout: printOf(m.Path(), "not running", 0)}, Output{Code: 113, Stderr: notFound})
	apply1(t, m, m.Install(running, []byte("<plist>v2</plist>\n"), InstallOptions{AutoStart: true}))
	wantCalls(t, r, lc+"bootout "+target, printJob, printJob, printJob, bootstrapCmd(m), lc+"kickstart "+target)
	wantFile(t, m.Path(), "<plist>v2</plist>\n")

	r.answer(printJob, Output{Code: 113})
	apply1(t, m, m.Install(running, []byte("<plist>v3</plist>\n"), InstallOptions{NoStart: true}))
	wantCalls(t, r, lc+"bootout "+target, printJob)

	stopped := State{Domain: "gui/501", Content: []byte(plistText), Enabled: true}
	apply1(t, m, m.Install(stopped, []byte(plistText), InstallOptions{}))
	wantCalls(t, r, bootstrapCmd(m), lc+"kickstart "+target)
}

func TestLaunchdBootoutWaitsForGone(t *testing.T) {
	m, r, slept := newTestLaunchd(t)
	running := State{Domain: "gui/501", Content: []byte(plistText), Loaded: true, Enabled: true, Active: true}
	writePlist(t, m)
	// The job never goes away: the wait gives up after goneWait, which is
	// longer than the plist's ExitTimeOut.
	r.answer(printJob, Output{Stdout: printOf(m.Path(), "running", 5)})
	err := m.Apply(context.Background(), m.Uninstall(running), nil)
	wantErr(t, err, "launchctl bootout "+target, "did not manage to unload the job within 30s", "the job is running")
	var total time.Duration
	for _, d := range *slept {
		total += d
	}
	if total < goneWait || total > goneWait+pollMax {
		t.Errorf("waited %v in all, want about %v", total, goneWait)
	}
	if goneWait <= 20*time.Second {
		t.Errorf("goneWait %v is not above the plist's ExitTimeOut (20 s)", goneWait)
	}
	if _, err := os.Stat(m.Path()); err != nil {
		t.Errorf("uninstall removed the plist although the job did not go: %v", err)
	}
}

func TestLaunchdBootstrapErrors(t *testing.T) {
	fresh := State{Domain: "gui/501", Enabled: true}
	running := State{Domain: "gui/501", Content: []byte(plistText), Loaded: true, Enabled: true, Active: true}
	t.Run("already loaded", func(t *testing.T) {
		m, r, slept := newTestLaunchd(t)
		r.answer(bootstrapCmd(m), Output{Code: 5, Stderr: "Bootstrap failed: 5: Input/output error\n"})
		r.answer(printJob, Output{Stdout: printOf(m.Path(), "running", 7)})
		apply1(t, m, m.Install(fresh, []byte(plistText), InstallOptions{}))
		wantCalls(t, r, bootstrapCmd(m), printJob, lc+"kickstart "+target)
		if len(*slept) != 0 {
			t.Errorf("slept %v", *slept)
		}
	})
	for _, code := range []int{5, 36, 37} {
		t.Run("old job still going away, "+strconv.Itoa(code), func(t *testing.T) {
			m, r, slept := newTestLaunchd(t)
			r.answer(bootstrapCmd(m), Output{Code: code}, Output{Code: code}, Output{})
			r.answer(printJob, Output{Code: 113})
			apply1(t, m, m.Install(running, []byte("<plist>v2</plist>\n"), InstallOptions{}))
			wantCalls(t, r, lc+"bootout "+target, printJob, bootstrapCmd(m), printJob, bootstrapCmd(m), printJob, bootstrapCmd(m), lc+"kickstart "+target)
			if len(*slept) != 2 || (*slept)[0] != 50*time.Millisecond || (*slept)[1] != 100*time.Millisecond {
				t.Errorf("slept %v", *slept)
			}
		})
	}
	t.Run("error 5 for good", func(t *testing.T) {
		m, r, slept := newTestLaunchd(t)
		r.answer(bootstrapCmd(m), Output{Code: 5, Stderr: "Bootstrap failed: 5: Input/output error\nTry re-running the command as root for richer errors.\n"})
		r.answer(printJob, Output{Code: 113})
		err := m.Apply(context.Background(), m.Install(fresh, []byte(plistText), InstallOptions{}), nil)
		wantErr(t, err, "launchctl bootstrap gui/501 "+m.Path()+" failed (exit 5: Bootstrap failed: 5: Input/output error", "plutil -lint "+m.Path(), "launchctl print "+target)
		var total time.Duration
		for _, d := range *slept {
			total += d
		}
		if total < bootstrapWait || total > bootstrapWait+pollMax {
			t.Errorf("retried for %v, want about %v", total, bootstrapWait)
		}
	})
	t.Run("other errors are not retried", func(t *testing.T) {
		m, r, slept := newTestLaunchd(t)
		r.answer(bootstrapCmd(m), Output{Code: 125, Stderr: "Bootstrap failed: 125: Domain does not support specified action\n"})
		err := m.Apply(context.Background(), m.Install(fresh, []byte(plistText), InstallOptions{}), nil)
		wantErr(t, err, "exit 125", "gui domain exists only for the user logged in at the screen")
		wantCalls(t, r, bootstrapCmd(m))
		if len(*slept) != 0 {
			t.Errorf("slept %v", *slept)
		}
	})
}

func TestLaunchdExplain(t *testing.T) {
	m, r, _ := newTestLaunchd(t)
	cur := State{Domain: "gui/501", Content: []byte(plistText), Loaded: true, Enabled: true}
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
		{125, []string{"gui domain exists only for the user logged in at the screen", "user/501"}},
		{150, []string{"launchctl error 150"}},
	} {
		r.answer(lc+"kickstart "+target, Output{Code: tc.code, Stderr: "boom\n"})
		p, err := m.Start(cur)
		if err != nil {
			t.Fatal(err)
		}
		err = m.Apply(context.Background(), p, nil)
		wantErr(t, err, append(tc.says, "/bin/launchctl kickstart "+target+" failed", "boom")...)
	}
}

func TestLaunchdVerbs(t *testing.T) {
	m, r, _ := newTestLaunchd(t)
	if p := m.Uninstall(State{Domain: "gui/501"}); len(p.Steps) != 0 || p.Idle != "com.anthropic.cco.daemon is not installed" {
		t.Errorf("uninstall of nothing plans %+v", p)
	}
	running := State{Domain: "gui/501", Content: []byte(plistText), Loaded: true, Enabled: true, Active: true}
	loaded := State{Domain: "gui/501", Content: []byte(plistText), Loaded: true, Enabled: true}
	unloaded := State{Domain: "gui/501", Content: []byte(plistText), Enabled: true}
	disabled := State{Domain: "gui/501", Content: []byte(plistText)}
	// print answers: the job stopped running, and is gone after a bootout.
	r.answer(printJob, Output{Stdout: printOf(m.Path(), "not running", 0)})
	stopWait := printJob

	for _, tc := range []struct {
		name string
		plan func() (Plan, error)
		want []string
	}{
		{"enable", func() (Plan, error) { return m.Enable(loaded, false) }, []string{lc + "enable " + target}},
		{"enable --now", func() (Plan, error) { return m.Enable(unloaded, true) }, []string{lc + "enable " + target, bootstrapCmd(m), lc + "kickstart " + target}},
		{"disable keeps the job loaded", func() (Plan, error) { return m.Disable(running, false) }, []string{lc + "disable " + target}},
		{"disable --now stops it", func() (Plan, error) { return m.Disable(running, true) }, []string{lc + "disable " + target, lc + "kill SIGTERM " + target}},
		{"start", func() (Plan, error) { return m.Start(loaded) }, []string{lc + "kickstart " + target}},
		{"start unloaded", func() (Plan, error) { return m.Start(unloaded) }, []string{bootstrapCmd(m), lc + "kickstart " + target}},
		{"start disabled loads it for now only", func() (Plan, error) { return m.Start(disabled) },
			[]string{lc + "enable " + target, bootstrapCmd(m), lc + "disable " + target, lc + "kickstart " + target}},
		{"stop signals and keeps the job loaded", func() (Plan, error) { return m.Stop(running) }, []string{lc + "kill SIGTERM " + target}},
		{"stop of a stopped job", func() (Plan, error) { return m.Stop(loaded) }, nil},
		{"restart waits for the stop, then kickstarts", func() (Plan, error) { return m.Restart(running) },
			[]string{lc + "kill SIGTERM " + target, stopWait, lc + "kickstart " + target}},
		{"restart of an unloaded job", func() (Plan, error) { return m.Restart(unloaded) }, []string{bootstrapCmd(m), lc + "kickstart " + target}},
		{"kill unloads without waiting", func() (Plan, error) { return m.Kill(running) }, []string{lc + "bootout " + target}},
	} {
		p, err := tc.plan()
		if err != nil {
			t.Fatal(err)
		}
		apply1(t, m, p)
		if strings.Join(r.calls, "\n") != strings.Join(tc.want, "\n") {
			t.Errorf("%s: ran\n  %s\nwant\n  %s", tc.name, strings.Join(r.calls, "\n  "), strings.Join(tc.want, "\n  "))
		}
		r.calls = nil
		for _, c := range p.Steps {
			if strings.Contains(c.Command(), "kickstart -k") {
				t.Errorf("%s: kickstart -k SIGKILLs the daemon", tc.name)
			}
		}
	}

	writePlist(t, m)
	// Uninstall clears a disable, then unloads and waits, then removes.
	r.answer(printJob, Output{Code: 113, Stderr: notFound})
	apply1(t, m, m.Uninstall(State{Domain: "gui/501", Content: []byte(plistText), Loaded: true}))
	wantCalls(t, r, lc+"enable "+target, lc+"bootout "+target, printJob)
	if _, err := os.Stat(m.Path()); !os.IsNotExist(err) {
		t.Errorf("plist still there: %v", err)
	}
	_, err := m.Stop(State{Domain: "gui/501"})
	wantErr(t, err, "LaunchAgent com.anthropic.cco.daemon is not installed", "cco daemon install")
}

func TestLaunchdRefusesRoot(t *testing.T) {
	m, r, _ := newTestLaunchd(t)
	m.env.UID = 0
	fresh := State{Domain: "gui/0", Enabled: true}
	p := m.Install(fresh, []byte(plistText), InstallOptions{})

	setenv(&m.env, "SUDO_USER", "ada")
	wantErr(t, m.Apply(context.Background(), p, nil), "refusing to manage the LaunchAgent com.anthropic.cco.daemon as root", "Run the command as ada, without sudo")

	// HOME belongs to someone else (sudo -H not used, or su): refused too.
	setenv(&m.env, "SUDO_USER", "")
	home := m.env.Getenv("HOME")
	if err := os.Chown(home, 501, 20); err != nil {
		tooltest.Missing(t, "cannot chown %s (not root): %v", home, err)
	}
	wantErr(t, m.Apply(context.Background(), p, nil), "it belongs to the owner of "+home)
	wantCalls(t, r)

	// root's own home: root may have its own agent.
	os.Chown(home, 0, 0)
	if err := m.Apply(context.Background(), p, nil); err != nil {
		t.Errorf("root installing into its own home: %v", err)
	}
}

func writePlist(t *testing.T, m *launchd) {
	t.Helper()
	os.MkdirAll(filepath.Dir(m.Path()), 0o755)
	if err := os.WriteFile(m.Path(), []byte(plistText), 0o644); err != nil {
		t.Fatal(err)
	}
}
