//go:build linux

package service_test

import (
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/anthropics/cco/protocol"
	"github.com/anthropics/cco/service/internal/systemdtest"
)

// packagedUnit places the unit as a package ships it (`cco daemon render`)
// in ~/.local/share/systemd/user, a directory of the manager's UnitPath
// below the user's own ~/.config/systemd/user, and enables and starts it
// with systemctl itself: cco's install never touched it.
func packagedUnit(t *testing.T, sd *systemdtest.Manager, c *cco) string {
	t.Helper()
	out := filepath.Join(sd.Home, "pkg")
	c.run(0, "daemon", "render", "--os", "linux", "--output", out, "--exec", c.bin)
	data, err := os.ReadFile(filepath.Join(out, "cco-daemon.service"))
	if err != nil {
		t.Fatal(err)
	}
	unit := filepath.Join(sd.Home, ".local/share/systemd/user/cco-daemon.service")
	sd.WriteFile(unit, string(data))
	// Restarts after a failure come 100 ms later, not 10 s: a drop-in from
	// the administrator's directory, which cco neither writes nor reads.
	sd.WriteFile(filepath.Join(sd.Home, ".local/share/systemd/user/cco-daemon.service.d/fast.conf"), "[Service]\nRestartSec=100ms\n")
	if _, err := sd.Systemctl("enable", "--now", unitName); err != nil {
		t.Fatal(err)
	}
	sd.WaitFor(10*time.Second, "the packaged unit active", func() bool { return c.active() })
	return unit
}

func (c *cco) enabled() string {
	out, _ := c.sd.Systemctl("is-enabled", unitName)
	return strings.TrimSpace(out)
}

// TestPackagedUnitReal: a unit a package installed is found through
// systemd, and start, stop, restart and status go through it; install and
// uninstall leave its file alone; disable holds across install.
func TestPackagedUnitReal(t *testing.T) {
	sd := systemdtest.Start(t)
	c, port := newCCO(t, sd)
	unit := packagedUnit(t, sd, c)
	own := filepath.Join(sd.Home, ".config/systemd/user/cco-daemon.service")
	noOwnUnit := func(when string) {
		t.Helper()
		if _, err := os.Stat(own); !os.IsNotExist(err) {
			t.Fatalf("%s: %s exists (%v): it shadows the package's unit", when, own, err)
		}
	}

	out := c.run(0, "daemon", "status")
	t.Logf("status:\n%s", out)
	mustContain(t, out, "running (pid "+strconv.Itoa(c.mainPID())+")", unit, "enabled (starts at login)")

	first := c.mainPID()
	out = c.run(0, "daemon", "stop")
	mustContain(t, out, "stopped by the systemd user unit")
	if c.active() || protocol.Alive(first) {
		t.Fatalf("after stop: active=%v, pid %d alive=%v", c.active(), first, protocol.Alive(first))
	}

	out = c.run(0, "daemon", "start")
	mustContain(t, out, "started by the systemd user unit")
	if !c.active() || c.mainPID() == 0 {
		t.Fatal("not active after start")
	}

	before := c.mainPID()
	c.run(0, "daemon", "restart")
	if after := c.mainPID(); !c.active() || after == before || protocol.Alive(before) {
		t.Fatalf("restart: pid %d -> %d, active %v", before, after, c.active())
	}

	out = c.run(0, "daemon", "install")
	t.Logf("install over the package's unit:\n%s", out)
	mustContain(t, out, unit, "enabled", "--override")
	noOwnUnit("after install")
	if !c.active() {
		t.Fatal("install stopped the packaged service")
	}

	out = c.run(0, "daemon", "install", "--dry-run")
	mustContain(t, out, unit)
	if strings.Contains(out, "would write "+own) {
		t.Fatalf("install --dry-run would shadow the package's unit:\n%s", out)
	}

	// One truth for start at login.
	c.run(0, "daemon", "disable")
	if e := c.enabled(); e != "disabled" {
		t.Fatalf("is-enabled after disable: %s", e)
	}
	mustContain(t, c.run(0, "daemon", "config", "get", "auto_start"), "false")
	c.run(0, "daemon", "install")
	if e := c.enabled(); e != "disabled" {
		t.Fatalf("install enabled again what disable disabled: is-enabled %s", e)
	}
	c.run(0, "daemon", "enable")
	if e := c.enabled(); e != "enabled" {
		t.Fatalf("is-enabled after enable: %s", e)
	}
	mustContain(t, c.run(0, "daemon", "config", "get", "auto_start"), "true")

	// A start that fails says the daemon's own words.
	c.run(0, "daemon", "stop")
	ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
	if err != nil {
		t.Fatal(err)
	}
	out = c.run(1, "daemon", "start")
	ln.Close()
	t.Logf("start with the port taken:\n%s", out)
	mustContain(t, out, "address already in use")
	if strings.Contains(out, "journalctl") {
		t.Errorf("start failure points at journalctl rather than saying why:\n%s", out)
	}

	last := c.mainPID()
	out = c.run(0, "daemon", "uninstall")
	t.Logf("uninstall:\n%s", out)
	mustContain(t, out, "stopped", "disabled", unit)
	if _, err := os.Stat(unit); err != nil {
		t.Fatalf("uninstall removed the package's unit: %v", err)
	}
	if c.active() || (last != 0 && protocol.Alive(last)) || c.enabled() != "disabled" {
		t.Fatalf("after uninstall: active %v, enabled %s", c.active(), c.enabled())
	}
}

// TestPackagedHealthReal: a user's health_check_interval reaches a
// package's unit through a drop-in of theirs, and --override writes their
// own unit, which takes precedence.
func TestPackagedHealthReal(t *testing.T) {
	sd := systemdtest.Start(t)
	c, _ := newCCO(t, sd)
	unit := packagedUnit(t, sd, c)
	health := filepath.Join(sd.Home, ".config/systemd/user/cco-daemon.service.d/health.conf")

	c.run(0, "daemon", "install")
	if _, err := os.Stat(health); !os.IsNotExist(err) {
		t.Fatalf("install wrote %s though the user's health settings are the package's (%v)", health, err)
	}
	c.run(0, "daemon", "config", "set", "health_check_interval", "2")
	mustContain(t, c.run(0, "daemon", "status"), "out of date")
	out := c.run(0, "daemon", "install")
	mustContain(t, out, health)
	if got := sd.Show(unitName, "DropInPaths"); !strings.Contains(got, health) {
		t.Fatalf("DropInPaths %q lacks %s", got, health)
	}
	if usec := sd.Show(unitName, "WatchdogUSec"); usec != "4s" {
		t.Errorf("WatchdogUSec %s, want 4s (2 × health_check_interval)", usec)
	}
	if out := c.run(0, "daemon", "status"); strings.Contains(out, "out of date") {
		t.Errorf("status after install:\n%s", out)
	}

	own := filepath.Join(sd.Home, ".config/systemd/user/cco-daemon.service")
	out = c.run(0, "daemon", "install", "--override")
	mustContain(t, out, "installed "+own, "precedence")
	if got := sd.Show(unitName, "FragmentPath"); got != own {
		t.Fatalf("FragmentPath %s after --override, want %s", got, own)
	}
	if _, err := os.Stat(health); !os.IsNotExist(err) {
		t.Errorf("%s stays beside the user's own unit, which carries the settings itself (%v)", health, err)
	}
	c.run(0, "daemon", "uninstall")
	if _, err := os.Stat(unit); err != nil {
		t.Fatalf("uninstall removed the package's unit: %v", err)
	}
	if got := sd.Show(unitName, "FragmentPath"); got != unit {
		t.Errorf("after uninstalling the user's own unit, systemd uses %q, want the package's %s", got, unit)
	}
}
