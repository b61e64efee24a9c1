//go:build linux

package history_test

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/anthropics/cco/config"
	"github.com/anthropics/cco/history"
	"github.com/anthropics/cco/internal/testhost"
	"github.com/anthropics/cco/internal/tooltest"
	"github.com/anthropics/cco/internal/usermanager"
)

// Under a real systemd user manager: the daemon records that systemd
// started it, a kill -9 (which nobody records) is seen as a restart after
// an end without a record, and status adds what systemd remembers.
func TestUnderSystemd(t *testing.T) {
	if err := usermanager.Check(); errors.Is(err, usermanager.ErrMissing) {
		tooltest.Missing(t, "%v", err)
	} else if err != nil {
		t.Fatal(err)
	}
	base := t.TempDir()
	logf, err := os.Create(filepath.Join(base, "manager.log"))
	if err != nil {
		t.Fatal(err)
	}
	sd, err := usermanager.New(base, logf)
	if err != nil {
		t.Fatal(err)
	}
	if err := sd.Boot(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := sd.Stop(); err != nil {
			t.Error(err)
		}
		logf.Close()
	})
	home := filepath.Join(sd.Home, ".cco")
	env := append(sd.Env(), "CCO_HOME="+home)
	cco := func(want int, args ...string) string {
		t.Helper()
		out, code, err := testhost.Run(30*time.Second, env, append([]string{testhost.CCO(t)}, args...)...)
		if err != nil || code != want {
			t.Fatalf("cco %s: exit %d (%v), want %d\n%s", strings.Join(args, " "), code, err, want, out)
		}
		return string(out)
	}
	cco(0, "daemon", "config", "set", "port", strconv.Itoa(testhost.FreePort(t)))
	dropin := filepath.Join(sd.UnitDir(), "cco-daemon.service.d", "fast.conf")
	if err := os.MkdirAll(filepath.Dir(dropin), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dropin, []byte("[Service]\nRestartSec=100ms\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cco(0, "daemon", "install")
	t.Cleanup(func() { cco(0, "daemon", "uninstall") })

	hist := history.Open(config.Paths{Home: home})
	first := waitStart(t, hist, 0)
	if first.By != history.BySystemd {
		t.Errorf("the daemon systemd started recorded by=%q, want systemd", first.By)
	}
	if err := syscall.Kill(first.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	second := waitStart(t, hist, first.PID)
	if second.By != history.BySystemd {
		t.Errorf("the restarted daemon recorded by=%q, want systemd", second.By)
	}

	var st struct {
		Supervision struct {
			SupervisorPID int `json:"supervisor_pid"`
			Restarts24h   int `json:"restarts_24h"`
			LastExit      struct {
				PID        int    `json:"pid"`
				Unrecorded bool   `json:"unrecorded"`
				Words      string `json:"words"`
			} `json:"last_exit"`
			Manager *history.ManagerView `json:"manager"`
		} `json:"supervision"`
	}
	out := cco(0, "daemon", "status", "--json")
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
	text := cco(0, "daemon", "status")
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
