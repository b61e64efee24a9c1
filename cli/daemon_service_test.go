package cli

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/anthropics/cco/config"
)

// said is a service whose manager keeps the daemon's STATUS= text.
type said struct {
	serviceControl
	status string
}

func (s said) Name() string                { return "systemd user unit cco-daemon.service" }
func (s said) Said(context.Context) string { return s.status }

// TestDaemonSaid: a failed start under the service says the daemon's own
// error: its log's last error since the start, else its STATUS=, else the
// manager's error as it was.
func TestDaemonSaid(t *testing.T) {
	paths := config.Paths{Home: t.TempDir()}
	begin := time.Date(2026, 11, 25, 23, 34, 50, 705_400_000, time.UTC)
	log := strings.Join([]string{
		`time=2026-11-25T23:34:49.000Z level=ERROR msg="not starting" err="an older failure"`,
		`time=2026-11-25T23:34:50.705Z level=INFO msg=serving addr=127.0.0.1:1`,
		`time=2026-11-25T23:34:50.705Z level=ERROR msg="not starting" err="cannot listen on 127.0.0.1:1: bind: address already in use; choose \"another\" port"`,
		`time=2026-11-25T23:34:50.800Z level=WARN msg="a warning" err="not this"`,
		``,
	}, "\n")
	if err := os.WriteFile(paths.LogFile(), []byte(log), 0o600); err != nil {
		t.Fatal(err)
	}
	generic := errors.New(`Job for cco-daemon.service failed. See "journalctl --user -xeu cco-daemon.service"`)
	err := daemonSaid(context.Background(), said{status: "status text"}, paths, begin, generic)
	want := `the daemon did not start under the systemd user unit cco-daemon.service: cannot listen on 127.0.0.1:1: bind: address already in use; choose "another" port`
	if err == nil || err.Error() != want {
		t.Errorf("with an error in the log:\n got %v\nwant %s", err, want)
	}

	// The log's errors are all older: STATUS= says it.
	err = daemonSaid(context.Background(), said{status: "config.toml:1: port: out of range"}, paths, begin.Add(time.Second), generic)
	if err == nil || !strings.HasSuffix(err.Error(), ": config.toml:1: port: out of range") {
		t.Errorf("with STATUS= only: %v", err)
	}

	// Nothing said at all: the manager's own error stands.
	os.Remove(paths.LogFile())
	if err := daemonSaid(context.Background(), said{}, paths, begin, generic); err != generic {
		t.Errorf("with nothing said: %v", err)
	}

	// launchd: what the daemon printed before its log opened.
	if err := os.WriteFile(paths.LaunchdLog(), []byte("cco: early failure\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := daemonSaid(context.Background(), said{}, paths, time.Now().Add(-time.Minute), generic); err == nil || !strings.HasSuffix(err.Error(), ": cco: early failure") {
		t.Errorf("with launchd.log: %v", err)
	}
	if err := daemonSaid(context.Background(), said{}, paths, time.Now().Add(time.Minute), generic); err != generic {
		t.Errorf("with a launchd.log older than the start: %v", err)
	}
}
