//go:build linux

package service_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/anthropics/cco/internal/testhost"
	"github.com/anthropics/cco/protocol"

	"github.com/anthropics/cco/service/internal/systemdtest"
)

// cco is a user's shell around the real cco binary and a private systemd
// user manager.
type cco struct {
	t    *testing.T
	sd   *systemdtest.Manager
	bin  string
	home string // CCO_HOME
}

// command is cco with args, run by the manager's user, with extra
// environment variables env.
func (c *cco) command(env []string, args ...string) *exec.Cmd {
	env = append([]string{"CCO_HOME=" + c.home, "COLUMNS=80"}, env...)
	return c.sd.Command(context.Background(), "env", append(append(env, c.bin), args...)...)
}

// run runs cco and returns its output; want is the exit code expected.
func (c *cco) run(want int, args ...string) string {
	c.t.Helper()
	return c.runEnv(nil, want, args...)
}

// runEnv is run with extra environment variables.
func (c *cco) runEnv(env []string, want int, args ...string) string {
	c.t.Helper()
	cmd := c.command(env, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		c.t.Fatal(err)
	}
	if code != want {
		c.t.Fatalf("cco %s: exit %d, want %d:\n%s", strings.Join(args, " "), code, want, out.String())
	}
	return out.String()
}

func (c *cco) mainPID() int { return c.sd.ShowInt("cco-daemon.service", "MainPID") }

func (c *cco) active() bool { return c.sd.Show("cco-daemon.service", "ActiveState") == "active" }

// buildCCO puts the tests' cco into the user's ~/.local/bin, theirs.
func buildCCO(t *testing.T, sd *systemdtest.Manager) string {
	t.Helper()
	dir := filepath.Join(sd.Home, ".local", "bin")
	if err := sd.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "cco")
	data, err := os.ReadFile(testhost.CCO(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, data, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := sd.Chown(bin); err != nil {
		t.Fatal(err)
	}
	return bin
}

// newCCO is a user with cco, a private manager and a free port configured.
func newCCO(t *testing.T, sd *systemdtest.Manager) (*cco, int) {
	t.Helper()
	c := &cco{t: t, sd: sd, bin: buildCCO(t, sd), home: filepath.Join(sd.Home, ".cco")}
	port := testhost.FreePort(t)
	c.run(0, "daemon", "config", "set", "port", strconv.Itoa(port))
	return c, port
}

func mustContain(t *testing.T, out string, parts ...string) {
	t.Helper()
	for _, p := range parts {
		if !strings.Contains(out, p) {
			t.Fatalf("output does not say %q:\n%s", p, out)
		}
	}
}

// TestInstallReal is `cco daemon install` as a new user lives it, under a
// real systemd user manager, with the real daemon.
func TestInstallReal(t *testing.T) {
	sd := systemdtest.Start(t)
	c, port := newCCO(t, sd)
	// WatchdogSec is twice this: 2 s.
	c.run(0, "daemon", "config", "set", "health_check_interval", "1")
	// The unit waits 10 s before a restart; a drop-in, which leaves the
	// unit file as install wrote it, makes the test wait 100 ms.
	sd.WriteFile(filepath.Join(sd.Home, ".config/systemd/user/cco-daemon.service.d/fast.conf"), "[Service]\nRestartSec=100ms\n")

	begin := time.Now()
	out := c.run(0, "daemon", "install")
	t.Logf("install took %v", time.Since(begin).Round(time.Millisecond))
	mustContain(t, out, "installed "+filepath.Join(sd.Home, ".config/systemd/user/cco-daemon.service"), "enabled", "started", "serves on http://127.0.0.1:"+strconv.Itoa(port),
		"loginctl enable-linger "+sd.User())
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/health", port))
	if err != nil {
		t.Fatalf("GET /health after install: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("GET /health: %s", resp.Status)
	}

	out = c.run(0, "daemon", "install")
	mustContain(t, out, "cco-daemon.service is up to date")
	if strings.Contains(out, "reloaded") || strings.Contains(out, "started") {
		t.Errorf("a second install did something:\n%s", out)
	}

	// kill -9: systemd starts a new daemon and status sees it.
	old := c.mainPID()
	syscall.Kill(old, syscall.SIGKILL)
	sd.WaitFor(5*time.Second, "a new daemon after kill -9", func() bool { p := c.mainPID(); return p != 0 && p != old && c.active() })
	newPID := c.mainPID()
	sd.WaitFor(5*time.Second, "status showing the new pid", func() bool {
		b, _ := c.command(nil, "daemon", "status").Output()
		return strings.Contains(string(b), strconv.Itoa(newPID))
	})

	// stop goes through systemd, so its restart policy does not undo it.
	c.run(0, "daemon", "stop")
	time.Sleep(300 * time.Millisecond)
	if c.active() {
		t.Fatal("the service is active again after cco daemon stop")
	}
	if protocol.Alive(newPID) {
		t.Fatalf("the daemon (pid %d) still runs after cco daemon stop", newPID)
	}
	c.run(3, "daemon", "status")

	c.run(0, "daemon", "start")
	if !c.active() {
		t.Fatal("not active after cco daemon start")
	}
	c.run(0, "daemon", "disable")
	if out, _ := sd.Systemctl("is-enabled", "cco-daemon.service"); strings.TrimSpace(out) != "disabled" {
		t.Errorf("is-enabled after disable: %s", out)
	}
	c.run(0, "daemon", "enable")
	if out, _ := sd.Systemctl("is-enabled", "cco-daemon.service"); strings.TrimSpace(out) != "enabled" {
		t.Errorf("is-enabled after enable: %s", out)
	}

	// A hung daemon stops pinging the watchdog and is restarted.
	hung, restarts := c.mainPID(), sd.ShowInt("cco-daemon.service", "NRestarts")
	syscall.Kill(hung, syscall.SIGSTOP)
	begin = time.Now()
	sd.WaitFor(8*time.Second, "restarted by the watchdog", func() bool {
		return sd.ShowInt("cco-daemon.service", "NRestarts") > restarts && c.active() && c.mainPID() != hung
	})
	t.Logf("a hung daemon was replaced %v after SIGSTOP (WatchdogSec=2)", time.Since(begin).Round(10*time.Millisecond))
	sd.WaitFor(5*time.Second, "the hung daemon gone", func() bool { return !protocol.Alive(hung) })

	// Reboot-equivalent: a new manager starts the enabled daemon.
	sd.Stop()
	sd.Boot()
	sd.WaitFor(10*time.Second, "the daemon back after the manager restarted", func() bool { return c.active() })
	c.run(0, "daemon", "status")

	// A daemon started by hand makes way for the service.
	c.run(0, "daemon", "stop")
	hand := c.command(nil, "daemon", "run")
	if err := hand.Start(); err != nil {
		t.Fatal(err)
	}
	go hand.Wait()
	sd.WaitFor(5*time.Second, "the hand-started daemon serving", func() bool {
		r, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/health", port))
		if err == nil {
			r.Body.Close()
		}
		return err == nil
	})
	out = c.run(0, "daemon", "install")
	mustContain(t, out, fmt.Sprintf("stopping the daemon started by hand (pid %d)", hand.Process.Pid), "started")
	if protocol.Alive(hand.Process.Pid) || !c.active() {
		t.Fatalf("after install over a hand-started daemon: hand pid %d dead=%v, service active=%v", hand.Process.Pid, !protocol.Alive(hand.Process.Pid), c.active())
	}

	last := c.mainPID()
	out = c.run(0, "daemon", "uninstall")
	mustContain(t, out, "stopped", "disabled", "removed")
	if _, err := os.Stat(filepath.Join(sd.Home, ".config/systemd/user/cco-daemon.service")); !os.IsNotExist(err) {
		t.Errorf("unit file still there: %v", err)
	}
	if protocol.Alive(last) {
		t.Errorf("the daemon (pid %d) still runs after uninstall", last)
	}
	c.run(3, "daemon", "status")
	mustContain(t, c.run(0, "daemon", "uninstall"), "cco-daemon.service is not installed")
}
