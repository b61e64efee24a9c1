//go:build linux

package service_test

import (
	"encoding/json"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/anthropics/cco/config"
	"github.com/anthropics/cco/history"
	"github.com/anthropics/cco/internal/testhost"
	"github.com/anthropics/cco/service/internal/systemdtest"
)

// Under a real systemd user manager: the daemon records that systemd
// started it, a kill -9 (which nobody records) is seen as a restart after
// an end without a record, and status adds what systemd remembers.
func TestHistoryUnderSystemd(t *testing.T) {
	sd := systemdtest.Start(t)
	c, _ := newCCO(t, sd)
	sd.WriteFile(filepath.Join(sd.Home, ".config/systemd/user/cco-daemon.service.d/fast.conf"), "[Service]\nRestartSec=100ms\n")
	c.run(0, "daemon", "install")
	t.Cleanup(func() { c.run(0, "daemon", "uninstall") })

	hist := history.Open(config.Paths{Home: c.home})
	first := waitStart(t, hist, 0)
	if first.By != history.BySystemd {
		t.Errorf("the daemon systemd started recorded by=%q, want systemd", first.By)
	}
	if err := syscall.Kill(first.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if second := waitStart(t, hist, first.PID); second.By != history.BySystemd {
		t.Errorf("the restarted daemon recorded by=%q, want systemd", second.By)
	}

	var st struct {
		Supervision struct {
			SupervisorPID int `json:"supervisor_pid"`
			Restarts24h   int `json:"restarts_24h"`
			LastExit      struct {
				PID        int  `json:"pid"`
				Unrecorded bool `json:"unrecorded"`
			} `json:"last_exit"`
			Manager *history.ManagerView `json:"manager"`
		} `json:"supervision"`
	}
	out := c.run(0, "daemon", "status", "--json")
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatalf("status --json: %v\n%s", err, out)
	}
	s := st.Supervision
	if s.SupervisorPID != 0 || s.Restarts24h != 1 || s.LastExit.PID != first.PID || !s.LastExit.Unrecorded {
		t.Errorf("status after kill -9 under systemd: %+v; want no supervisor, 1 restart, pid %d ended without a record", s, first.PID)
	}
	if m := s.Manager; m == nil || m.Manager != "systemd" || m.Restarts != 1 {
		t.Errorf("status: manager %+v, want systemd with NRestarts=1", m)
	}
	text := c.run(0, "daemon", "status")
	for _, want := range []string{"restarts:   1 in the last 24 h", "last exit:  killed or crashed at an unknown time (pid " + strconv.Itoa(first.PID), "systemd:    restarted it 1 time"} {
		if !strings.Contains(text, want) {
			t.Errorf("status does not say %q:\n%s", want, text)
		}
	}
}

// waitStart waits for a start event of a pid other than not.
func waitStart(t *testing.T, hist *history.Log, not int) history.Event {
	t.Helper()
	var got history.Event
	testhost.Eventually(t, "a start recorded in the history", func() bool {
		ev, _ := hist.Read()
		for _, e := range ev {
			if e.Kind == history.KindStart && e.PID != not {
				got = e
			}
		}
		return got.PID != 0 && got.PID != not
	})
	return got
}
