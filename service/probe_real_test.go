//go:build linux

package service_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/anthropics/cco/service/internal/systemdtest"
)

// TestWatchdogProbeReal: under a real systemd user manager, the daemon's
// watchdog pings follow its probe of its own /health: a daemon whose HTTP
// server is wedged (the process itself runs on) is restarted by the
// watchdog, and NRestarts counts it; so is a stopped one (SIGSTOP).
func TestWatchdogProbeReal(t *testing.T) {
	sd := systemdtest.Start(t)
	c, _ := newCCO(t, sd)
	c.run(0, "daemon", "config", "set", "health_check_interval", "1") // WatchdogSec=2
	wedge := filepath.Join(c.home, "wedge")
	installFast(t, sd, c, "Environment=CCO_TEST_WEDGE_FILE="+wedge+"\n")
	pid := c.mainPID()
	if err := os.WriteFile(wedge, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	sd.WaitFor(10*time.Second, "the wedged daemon restarted by the watchdog", func() bool {
		p := c.mainPID()
		return sd.ShowInt(unitName, "NRestarts") >= 1 && p != 0 && p != pid
	})
	if r := sd.Show(unitName, "Result"); r != "success" && r != "watchdog" {
		t.Logf("Result=%s", r)
	}
	os.Remove(wedge)
	restarts := sd.ShowInt(unitName, "NRestarts")
	sd.WaitFor(10*time.Second, "the new daemon healthy", func() bool {
		var s struct {
			State  string `json:"state"`
			Health struct {
				Probe struct {
					ConsecutiveFailures int `json:"consecutive_failures"`
					LastSuccess         *time.Time
				} `json:"probe"`
			} `json:"health"`
		}
		cmd := c.command(nil, "daemon", "status", "--json")
		out, _ := cmd.Output()
		return json.Unmarshal(out, &s) == nil && s.State == "running" && s.Health.Probe.ConsecutiveFailures == 0 && c.active()
	})
	out := c.run(0, "daemon", "status")
	mustContain(t, out, "restarted")

	pid = c.mainPID()
	syscall.Kill(pid, syscall.SIGSTOP)
	sd.WaitFor(10*time.Second, "the stopped daemon restarted by the watchdog", func() bool {
		p := c.mainPID()
		return sd.ShowInt(unitName, "NRestarts") > restarts && p != 0 && p != pid && c.active()
	})
}

// TestDaemonReloadReal: `cco daemon reload` goes through the manager
// (systemctl --user reload, the unit's ExecReload=), in place, and says
// what the daemon applied.
func TestDaemonReloadReal(t *testing.T) {
	sd := systemdtest.Start(t)
	c, _ := newCCO(t, sd)
	installFast(t, sd, c, "")
	pid := c.mainPID()
	out := c.run(0, "daemon", "reload")
	mustContain(t, out, "reloaded "+filepath.Join(c.home, "config.toml")+": nothing changed that it applies live")
	out = c.run(0, "daemon", "status", "--json")
	mustContain(t, out, `"trigger": "signal"`, `"generation": 1`)
	out = c.run(0, "daemon", "config", "set", "log_level", "debug")
	mustContain(t, out, "the running daemon (pid ")
	mustContain(t, out, ") applied it")
	out = c.run(0, "daemon", "config", "set", "port", "1")
	mustContain(t, out, "needs a restart for it: cco daemon restart")
	if c.mainPID() != pid || !c.active() || sd.ShowInt(unitName, "NRestarts") != 0 {
		t.Errorf("after reload: pid %d (was %d), active %v, NRestarts %d", c.mainPID(), pid, c.active(), sd.ShowInt(unitName, "NRestarts"))
	}
}
