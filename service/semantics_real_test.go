//go:build linux

package service_test

import (
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/anthropics/cco/protocol"
	"github.com/anthropics/cco/service/internal/systemdtest"
)

const unitName = "cco-daemon.service"

// journal stands for the journal, which does not run here: the daemon's
// stderr goes to $XDG_RUNTIME_DIR/journal.
const journal = "StandardError=append:%t/journal\n"

// installFast installs cco's unit with a drop-in that makes systemd wait
// 100 ms, not 10 s, before a restart, plus extra [Service] lines.
func installFast(t *testing.T, sd *systemdtest.Manager, c *cco, extra string) {
	t.Helper()
	sd.WriteFile(filepath.Join(sd.Home, ".config/systemd/user/cco-daemon.service.d/fast.conf"), "[Service]\nRestartSec=100ms\n"+extra)
	c.run(0, "daemon", "install")
}

// TestStopTimeoutReal: a daemon that ignores SIGTERM is killed when stop's
// --timeout runs out, through systemd, not after TimeoutStopSec.
func TestStopTimeoutReal(t *testing.T) {
	sd := systemdtest.Start(t)
	c, _ := newCCO(t, sd)
	installFast(t, sd, c, "Environment=CCO_TEST_IGNORE_SIGTERM=1\n")
	pid := c.mainPID()
	out := c.run(0, "daemon", "stop", "--timeout", "1s")
	mustContain(t, out, "(pid "+strconv.Itoa(pid)+") ignored SIGTERM for 1s: the systemd user unit cco-daemon.service killed it")
	if protocol.Alive(pid) || c.active() {
		t.Fatalf("after stop --timeout: daemon dead %v, unit active %v", !protocol.Alive(pid), c.active())
	}
	if r := sd.ShowInt(unitName, "NRestarts"); r != 0 {
		t.Errorf("systemd restarted the killed daemon %d times", r)
	}
}

// TestUserStartsNotLimitedReal: StartLimitBurst=5 bounds crash loops, not a
// user's own restarts: the sixth (and seventh) within five minutes work.
func TestUserStartsNotLimitedReal(t *testing.T) {
	sd := systemdtest.Start(t)
	c, _ := newCCO(t, sd)
	installFast(t, sd, c, "")
	for i := 1; i <= 7; i++ {
		c.run(0, "daemon", "restart")
		if !c.active() {
			t.Fatalf("restart %d: not active", i)
		}
	}
}

// TestRestartPolicyReal: a clean exit and a configuration error are not
// restarted; a crash is.
func TestRestartPolicyReal(t *testing.T) {
	sd := systemdtest.Start(t)
	c, _ := newCCO(t, sd)
	installFast(t, sd, c, journal)

	// A crash: restarted.
	pid := c.mainPID()
	syscall.Kill(pid, syscall.SIGSEGV)
	sd.WaitFor(5*time.Second, "restarted after a crash", func() bool { p := c.mainPID(); return p != 0 && p != pid && c.active() })

	// A clean exit (SIGTERM sent past systemd): stays down.
	restarts := sd.ShowInt(unitName, "NRestarts")
	syscall.Kill(c.mainPID(), syscall.SIGTERM)
	sd.WaitFor(5*time.Second, "inactive after a clean exit", func() bool {
		return sd.Show(unitName, "ActiveState") == "inactive" && sd.Show(unitName, "SubState") == "dead"
	})
	if r := sd.ShowInt(unitName, "NRestarts"); r != restarts {
		t.Errorf("NRestarts %d after a clean exit, was %d", r, restarts)
	}

	// A configuration error: exit 78, failed, not restarted, and why.
	c.run(0, "daemon", "start")
	if err := os.WriteFile(filepath.Join(c.home, "config.toml"), []byte("port = \"many\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	restarts = sd.ShowInt(unitName, "NRestarts")
	sd.Systemctl("restart", unitName)
	sd.WaitFor(5*time.Second, "failed on the bad config", func() bool { return sd.Show(unitName, "ActiveState") == "failed" })
	if s := sd.Show(unitName, "ExecMainStatus"); s != "78" {
		t.Errorf("ExecMainStatus %s, want 78", s)
	}
	if r := sd.ShowInt(unitName, "NRestarts"); r != restarts {
		t.Errorf("NRestarts %d after a config error, was %d: it was restarted", r, restarts)
	}
	status, _ := sd.Systemctl("status", unitName)
	mustContain(t, status, "Status: \""+filepath.Join(c.home, "config.toml"))
	sd.WaitFor(5*time.Second, "the error on the manager's stderr (the journal)", func() bool {
		b, _ := os.ReadFile(filepath.Join(sd.Runtime, "journal"))
		return strings.Contains(string(b), "cco: "+filepath.Join(c.home, "config.toml"))
	})
}

// TestStartFailureVisibleReal: a daemon that cannot listen says why in
// `systemctl --user status` and on its original stderr (the journal; here
// the manager's stderr), not only in its own log.
func TestStartFailureVisibleReal(t *testing.T) {
	sd := systemdtest.Start(t)
	c, port := newCCO(t, sd)
	ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	sd.WriteFile(filepath.Join(sd.Home, ".config/systemd/user/cco-daemon.service.d/fast.conf"), "[Service]\nRestartSec=100ms\n"+journal)
	c.run(1, "daemon", "install")
	sd.WaitFor(10*time.Second, "failed after its restarts", func() bool { return sd.Show(unitName, "ActiveState") == "failed" })
	status, _ := sd.Systemctl("status", unitName)
	mustContain(t, status, "address already in use")
	if e := sd.Show(unitName, "StatusErrno"); e != strconv.Itoa(int(syscall.EADDRINUSE)) {
		t.Errorf("StatusErrno %s, want EADDRINUSE", e)
	}
	b, _ := os.ReadFile(filepath.Join(sd.Runtime, "journal"))
	mustContain(t, string(b), "cco: cannot listen on 127.0.0.1:"+strconv.Itoa(port))
}

// TestReloadReal: `systemctl --user reload` makes the daemon read its
// configuration again, in place.
func TestReloadReal(t *testing.T) {
	sd := systemdtest.Start(t)
	c, _ := newCCO(t, sd)
	installFast(t, sd, c, "")
	pid := c.mainPID()
	if _, err := sd.Systemctl("reload", unitName); err != nil {
		t.Fatal(err)
	}
	sd.WaitFor(5*time.Second, "the daemon's log saying it reloaded", func() bool {
		b, _ := os.ReadFile(filepath.Join(c.home, "daemon.log"))
		return strings.Contains(string(b), "msg=reloaded")
	})
	if c.mainPID() != pid || !c.active() {
		t.Errorf("after reload: pid %d (was %d), active %v", c.mainPID(), pid, c.active())
	}
}

// TestUnitPathFromManagerReal: with another XDG_CONFIG_HOME in the shell
// than the manager's, install writes where the manager reads.
func TestUnitPathFromManagerReal(t *testing.T) {
	sd := systemdtest.Start(t)
	c, _ := newCCO(t, sd)
	elsewhere := filepath.Join(sd.Home, "elsewhere")
	out := c.runEnv([]string{"XDG_CONFIG_HOME=" + elsewhere}, 0, "daemon", "install")
	mustContain(t, out, "installed "+filepath.Join(sd.Home, ".config/systemd/user", unitName))
	if _, err := os.Stat(filepath.Join(elsewhere, "systemd/user", unitName)); !os.IsNotExist(err) {
		t.Errorf("unit written under the shell's XDG_CONFIG_HOME: %v", err)
	}
	if !c.active() {
		t.Error("not active")
	}
	c.runEnv([]string{"XDG_CONFIG_HOME=" + elsewhere}, 0, "daemon", "status")
}
