//go:build linux

package service_test

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/anthropics/cco/internal/testhost"
	"github.com/anthropics/cco/service"
)

// TestLaunchdProbeAndReload: under launchd, which has no watchdog, a daemon
// whose HTTP server is wedged exits non-zero after its own probe failed
// three times in a row, and KeepAlive starts it anew; a reload through the
// manager (launchctl kill SIGHUP) reloads in place.
func TestLaunchdProbeAndReload(t *testing.T) {
	bin := testhost.CCO(t)
	gui := "gui/" + strconv.Itoa(uid)

	t.Run("reload", func(t *testing.T) {
		c := newMac(t, bin, true)
		c.install(true)
		pid := c.running()
		c.apply(c.m.(service.Reloader).Reload(c.state()))
		testhost.Eventually(t, "the daemon reloaded on the signal", func() bool {
			s, err := c.ctl.Status(context.Background(), time.Second)
			return err == nil && s.Health != nil && s.Health.Reload != nil && s.Health.Reload.Generation == 1 && s.Health.Reload.Trigger == "signal"
		})
		if j, _ := c.job(gui); j.PID != pid || j.Runs != 1 {
			t.Errorf("after the reload: job %+v, want pid %d, run once", j, pid)
		}
	})

	t.Run("a wedged daemon exits and is started anew", func(t *testing.T) {
		c := newMac(t, bin, true)
		c.cco("daemon", "config", "set", "health_check_interval", "1")
		wedge := filepath.Join(c.home, "wedge")
		plist := strings.Replace(string(c.plist(true)), "\t\t<key>PATH</key>",
			"\t\t<key>CCO_TEST_WEDGE_FILE</key>\n\t\t<string>"+wedge+"</string>\n\t\t<key>PATH</key>", 1)
		c.apply(c.m.Install(c.state(), []byte(plist), service.InstallOptions{AutoStart: true}), nil)
		pid := c.running()
		if err := os.WriteFile(wedge, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		testhost.Eventually(t, "the wedged daemon to exit non-zero", func() bool {
			j, _ := c.job(gui)
			return j.Runs >= 2 || (j.LastExit != "(never exited)" && j.LastExit != "0" && j.PID != pid)
		})
		os.Remove(wedge)
		j, _ := c.job(gui)
		if j.LastExit == "0" || j.LastExit == "(never exited)" {
			t.Errorf("the wedged daemon's exit: %q, want non-zero", j.LastExit)
		}
		if p := c.running(); p == pid {
			t.Errorf("pid %d still holds the lock", p)
		}
	})
}
