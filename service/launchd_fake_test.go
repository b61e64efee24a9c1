//go:build linux

package service_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/anthropics/cco/config"
	"github.com/anthropics/cco/daemon"
	"github.com/anthropics/cco/internal/testhost"
	"github.com/anthropics/cco/lifecycle"
	"github.com/anthropics/cco/protocol"
	"github.com/anthropics/cco/render"
	"github.com/anthropics/cco/service"
	"github.com/anthropics/cco/service/identity"
	"github.com/anthropics/cco/service/internal/launchdtest"
	"github.com/anthropics/cco/service/startlimit"
)

// mac is a user on a Mac: a home, a CCO_HOME, the real cco binary and the
// fake launchd, with the darwin manager driving it.
type mac struct {
	t        *testing.T
	ld       *launchdtest.Launchd
	m        service.Manager
	ctl      *lifecycle.Controller
	bin      string
	home     string
	ccoHome  string
	console  int // uid at the screen
	getenv   map[string]string
	noSleeps bool
}

const uid = 501

func newMac(t *testing.T, bin string, gui bool) *mac {
	t.Helper()
	home := t.TempDir()
	c := &mac{t: t, bin: bin, home: home, ccoHome: filepath.Join(home, ".cco"), console: uid,
		getenv: map[string]string{"HOME": home}}
	if !gui {
		c.console = 0 // the login window, or another user, has the screen
	}
	c.ld = launchdtest.New(uid, home, gui)
	c.ld.Scale = 0.02 // ExitTimeOut 20 s -> 400 ms, ThrottleInterval 10 s -> 200 ms
	// Cleanups run last first: the fake ends its processes, then none
	// may be left.
	t.Cleanup(func() {
		if left := testhost.Left(c.ccoHome, 2*time.Second); len(left) > 0 {
			t.Errorf("processes left running: %v", left)
		}
	})
	t.Cleanup(c.ld.Close)
	if err := (config.Paths{Home: c.ccoHome}).Ensure(); err != nil {
		t.Fatal(err)
	}
	c.ctl = lifecycle.New(config.Paths{Home: c.ccoHome})
	c.cco("daemon", "config", "set", "port", strconv.Itoa(testhost.FreePort(t)))
	m, err := service.For("darwin", service.Env{
		Runner: c.ld, Getenv: func(k string) string { return c.getenv[k] }, UID: uid, Username: "ada",
		ConsoleUID: func() (int, error) { return c.console, nil },
		Sleep: func(d time.Duration) {
			if !c.noSleeps {
				time.Sleep(d)
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	c.m = m
	return c
}

func (c *mac) cco(args ...string) string {
	c.t.Helper()
	cmd := exec.Command(c.bin, args...)
	cmd.Env = []string{"HOME=" + c.home, "CCO_HOME=" + c.ccoHome, "PATH=/usr/bin:/bin"}
	out, err := cmd.CombinedOutput()
	if err != nil {
		c.t.Fatalf("cco %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func (c *mac) plist(autoStart bool) []byte {
	c.t.Helper()
	cfg := config.Defaults()
	cfg.AutoStart = autoStart
	f, err := render.ServiceFile(render.Target{OS: "darwin", Exec: c.bin, CCOHome: c.ccoHome, UserHome: c.home, Config: cfg})
	if err != nil {
		c.t.Fatal(err)
	}
	return f.Data
}

func (c *mac) state() service.State {
	c.t.Helper()
	st, err := c.m.State(context.Background())
	if err != nil {
		c.t.Fatal(err)
	}
	return st
}

func (c *mac) apply(p service.Plan, err error) {
	c.t.Helper()
	if err != nil {
		c.t.Fatal(err)
	}
	if err := c.m.Apply(context.Background(), p, nil); err != nil {
		c.t.Fatal(err)
	}
}

func (c *mac) install(autoStart bool) {
	c.t.Helper()
	c.apply(c.m.Install(c.state(), c.plist(autoStart), service.InstallOptions{AutoStart: autoStart}), nil)
}

// running waits for a daemon that serves and returns its pid.
func (c *mac) running() int {
	c.t.Helper()
	r, err := c.ctl.WaitRunning(context.Background(), 10*time.Second)
	if err != nil {
		b, _ := os.ReadFile(config.Paths{Home: c.ccoHome}.LaunchdLog())
		c.t.Fatalf("no daemon: %v\nlaunchd.log:\n%s", err, b)
	}
	return r.PID
}

func (c *mac) stopped() {
	c.t.Helper()
	if err := c.ctl.WaitStopped(context.Background(), 10*time.Second); err != nil {
		c.t.Fatalf("the daemon did not stop: %v", err)
	}
}

func (c *mac) job(domain string) (launchdtest.Job, bool) {
	return c.ld.Job(domain, identity.LaunchdLabel)
}

// settled waits until the job has been reaped and launchd decided what to
// do about it: nothing running, nothing scheduled.
func (c *mac) settled(domain string) launchdtest.Job {
	c.t.Helper()
	var j launchdtest.Job
	testhost.Eventually(c.t, "the job in "+domain+" to settle", func() bool {
		var ok bool
		j, ok = c.job(domain)
		return !ok || (j.PID == 0 && !j.Respawn && j.LastExit != "(never exited)")
	})
	if _, ok := c.job(domain); !ok {
		c.t.Fatalf("the job is not loaded in %s", domain)
	}
	return j
}

// TestLaunchdScenarios runs each service operation against the fake
// launchd with the real daemon.
func TestLaunchdScenarios(t *testing.T) {
	bin := testhost.CCO(t)
	gui := "gui/" + strconv.Itoa(uid)

	t.Run("install, change and reinstall", func(t *testing.T) {
		c := newMac(t, bin, true)
		c.install(true)
		pid := c.running()
		j, ok := c.job(gui)
		if !ok || j.PID != pid || j.Path != c.m.Path() {
			t.Fatalf("job %+v (loaded %v), daemon pid %d", j, ok, pid)
		}
		st := c.state()
		if !st.Loaded || !st.Active || !st.Enabled || st.PID != pid || st.Domain != gui || st.Foreign != "" {
			t.Errorf("state %s", brief(st))
		}
		if p := c.m.Install(st, c.plist(true), service.InstallOptions{AutoStart: true}); len(p.Steps) != 0 {
			t.Errorf("a second install plans %v", p.Steps)
		}
		// A changed plist is loaded anew: the bootout must be complete
		// before the bootstrap, or launchd refuses it and the daemon stays
		// down.
		c.install(false)
		if protocol.Alive(pid) {
			t.Errorf("the old daemon (pid %d) still runs", pid)
		}
		pid2 := c.running()
		if pid2 == pid {
			t.Fatal("the same daemon runs after a changed plist")
		}
		if j, _ := c.job(gui); j.PID != pid2 {
			t.Errorf("job %+v, daemon %d", j, pid2)
		}
	})

	t.Run("crash, restart, stop then start", func(t *testing.T) {
		c := newMac(t, bin, true)
		c.install(true)
		pid := c.running()
		// A crash: KeepAlive SuccessfulExit=false starts it again.
		syscall.Kill(pid, syscall.SIGKILL)
		c.stopped()
		pid2 := c.running()
		if pid2 == pid {
			t.Fatal("no new daemon after a crash")
		}

		c.apply(c.m.Restart(c.state()))
		pid3 := c.running()
		if pid3 == pid2 || protocol.Alive(pid2) {
			t.Fatalf("restart: old %d (dead %v), new %d", pid2, !protocol.Alive(pid2), pid3)
		}
		if j, _ := c.job(gui); j.Runs != 3 {
			t.Errorf("runs %d, want 3", j.Runs)
		}

		// stop: the daemon exits 0 and the job stays loaded and down.
		c.apply(c.m.Stop(c.state()))
		c.stopped()
		j := c.settled(gui)
		if j.LastExit != "0" {
			t.Errorf("the daemon exited %s on SIGTERM, want 0", j.LastExit)
		}
		st := c.state()
		if !st.Loaded || st.Active || st.Detail != "not running" {
			t.Errorf("after stop: %s", brief(st))
		}
		c.apply(c.m.Start(st))
		if pid4 := c.running(); pid4 == pid3 {
			t.Fatal("start did not start a daemon")
		}
	})

	t.Run("auto_start off, disable and a new login", func(t *testing.T) {
		c := newMac(t, bin, true)
		c.install(false)
		pid := c.running() // install starts it now
		if err := c.ld.Login(); err != nil {
			t.Fatal(err)
		}
		if protocol.Alive(pid) {
			t.Fatalf("the daemon (pid %d) outlived the logout", pid)
		}
		// auto_start off: loaded at login, not started.
		st := c.state()
		if !st.Loaded || st.Active {
			t.Fatalf("after login with auto_start off: %s", brief(st))
		}
		c.install(true)
		c.running()

		c.apply(c.m.Disable(c.state(), false))
		st = c.state()
		if st.Enabled || !st.Active {
			t.Fatalf("after disable: %s", brief(st))
		}
		if err := c.ld.Login(); err != nil {
			t.Fatal(err)
		}
		st = c.state()
		if st.Loaded || st.Active || st.Enabled {
			t.Fatalf("a disabled job after login: %s", brief(st))
		}
		// start still works for this session, and the job stays disabled.
		c.apply(c.m.Start(st))
		c.running()
		if st := c.state(); st.Enabled || !st.Active {
			t.Fatalf("after start of a disabled job: %s", brief(st))
		}
		c.apply(c.m.Enable(c.state(), false))
		if err := c.ld.Login(); err != nil {
			t.Fatal(err)
		}
		c.running()
		if st := c.state(); !st.Enabled || !st.Active {
			t.Fatalf("an enabled job after login: %s", brief(st))
		}
	})

	t.Run("uninstall clears the disable", func(t *testing.T) {
		c := newMac(t, bin, true)
		c.install(true)
		pid := c.running()
		c.apply(c.m.Disable(c.state(), true))
		c.stopped()
		c.apply(c.m.Uninstall(c.state()), nil)
		if _, ok := c.job(gui); ok {
			t.Error("the job is still loaded after uninstall")
		}
		if _, err := os.Stat(c.m.Path()); !os.IsNotExist(err) {
			t.Errorf("plist still there: %v", err)
		}
		if protocol.Alive(pid) {
			t.Errorf("daemon %d still runs", pid)
		}
		// launchd keeps overrides after the plist is gone: uninstall
		// cleared cco's.
		out, err := c.ld.Run(context.Background(), launchdtest.Launchctl, "print-disabled", gui)
		if err != nil || !strings.Contains(out.Stdout, `"`+identity.LaunchdLabel+`" => enabled`) {
			t.Errorf("print-disabled after uninstall: %v\n%s", err, out.Stdout)
		}
		// Installed again, it is enabled and loads at login.
		c.install(true)
		c.running()
		if st := c.state(); !st.Enabled {
			t.Errorf("a new install finds the job disabled: %s", brief(st))
		}
	})

	t.Run("slow stop", func(t *testing.T) {
		c := newMac(t, bin, true)
		c.ld.Env = []string{"CCO_TEST_IGNORE_SIGTERM=1"}
		c.install(true)
		pid := c.running()
		// stop: SIGTERM is ignored; cco then tells launchd to let go of the
		// job before it kills the daemon, or KeepAlive would start it again.
		c.apply(c.m.Stop(c.state()))
		if err := c.ctl.WaitStopped(context.Background(), 300*time.Millisecond); err == nil {
			t.Fatal("the daemon stopped although it ignores SIGTERM")
		}
		c.apply(c.m.(service.Killer).Kill(c.state()))
		if _, err := c.ctl.Stop(context.Background(), time.Millisecond); err != nil {
			t.Fatal(err)
		}
		waitGone(t, c, gui)
		if protocol.Alive(pid) {
			t.Fatalf("daemon %d still runs", pid)
		}
		// start loads it again.
		c.apply(c.m.Start(c.state()))
		pid = c.running()
		// uninstall: launchd SIGKILLs it after ExitTimeOut and the wait
		// for the job to go covers that.
		begin := time.Now()
		c.apply(c.m.Uninstall(c.state()), nil)
		if protocol.Alive(pid) {
			t.Fatalf("daemon %d still runs after uninstall", pid)
		}
		if took := time.Since(begin); took < 400*time.Millisecond {
			t.Errorf("uninstall took %v: launchd cannot have waited ExitTimeOut", took)
		}
	})

	t.Run("ssh", func(t *testing.T) {
		// Nobody, or someone else, at the screen: user/<uid>.
		c := newMac(t, bin, false)
		c.getenv["SSH_CONNECTION"] = "10.0.0.1 5555 10.0.0.2 22"
		c.install(true)
		pid := c.running()
		user := "user/" + strconv.Itoa(uid)
		if j, ok := c.job(user); !ok || j.PID != pid {
			t.Fatalf("not loaded into %s: %+v", user, j)
		}
		if st := c.state(); st.Domain != user || !st.Active {
			t.Errorf("state %s", brief(st))
		}
		// user/ refuses an agent limited to Aqua (launchd's default).
		c.apply(c.m.Uninstall(c.state()), nil)
		c.noSleeps = true
		aquaOnly := strings.Replace(string(c.plist(true)), "\t\t<string>Background</string>\n", "", 1)
		err := c.m.Apply(context.Background(), c.m.Install(c.state(), []byte(aquaOnly), service.InstallOptions{AutoStart: true}), nil)
		if err == nil || !strings.Contains(err.Error(), "exit 5") {
			t.Fatalf("an Aqua-only agent bootstrapped into %s: %v", user, err)
		}
	})

	t.Run("a daemon that cannot start gives up", func(t *testing.T) {
		c := newMac(t, bin, true)
		// The port is taken: every start fails, and launchd, which has no
		// start limit, would start it every ThrottleInterval forever.
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		c.cco("daemon", "config", "set", "port", strconv.Itoa(ln.Addr().(*net.TCPAddr).Port))
		c.install(true)
		j := c.settled(gui)
		if j.LastExit != "0" || j.Runs != startlimit.Default.Burst+1 {
			t.Errorf("job %+v: want %d failed starts, then a clean exit", j, startlimit.Default.Burst)
		}
		b, _ := os.ReadFile(config.Paths{Home: c.ccoHome}.LaunchdLog())
		if !strings.Contains(string(b), "5 failed starts within 5m0s under launchd: not starting again until `cco daemon start`") {
			t.Errorf("launchd.log says:\n%s", b)
		}
	})

	t.Run("ssh with the console ours", func(t *testing.T) {
		// Homebrew's rule: the console's owner uses gui/, even over SSH.
		c := newMac(t, bin, true)
		c.getenv["SSH_CONNECTION"] = "10.0.0.1 5555 10.0.0.2 22"
		c.install(true)
		pid := c.running()
		if j, ok := c.job(gui); !ok || j.PID != pid {
			t.Fatalf("not loaded into %s: %+v", gui, j)
		}
	})
}

// brief is a state to print: without the plist's bytes.
func brief(st service.State) string {
	st.Content = nil
	return fmt.Sprintf("%+v", st)
}

func waitGone(t *testing.T, c *mac, domain string) {
	t.Helper()
	testhost.Eventually(t, "the job gone from "+domain, func() bool {
		_, ok := c.job(domain)
		return !ok
	})
}

// TestPlistExitTimeOut: launchd must leave the daemon its shutdown grace,
// and more, before SIGKILL.
func TestPlistExitTimeOut(t *testing.T) {
	f, err := render.ServiceFile(render.Target{OS: "darwin", Exec: "/usr/bin/cco", CCOHome: "/h/.cco", UserHome: "/h", Config: config.Defaults()})
	if err != nil {
		t.Fatal(err)
	}
	p, err := launchdtest.ParsePlist(f.Data)
	if err != nil {
		t.Fatal(err)
	}
	if got := time.Duration(p["ExitTimeOut"].(int64)) * time.Second; got < 2*daemon.ShutdownGrace {
		t.Errorf("ExitTimeOut %v, want at least twice the daemon's shutdown grace %v", got, daemon.ShutdownGrace)
	}
}
