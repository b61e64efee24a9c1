package cli

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/anthropics/cco/lifecycle"
	"github.com/anthropics/cco/version"
)

// TestStatusPrint: what a pm2 or systemctl user looks for — memory, CPU,
// connections, the last problems, a daemon of another version — in plain
// text when not on a terminal.
func TestStatusPrint(t *testing.T) {
	var out bytes.Buffer
	started := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	c := &statusCmd{env: &Env{Stdout: &out, Stderr: &out, Getenv: func(string) string { return "" }}}
	c.print(&lifecycle.Status{
		State: lifecycle.StateRunning, PID: 42, URL: "http://127.0.0.1:3000", Address: "127.0.0.1:3000",
		StartedAt: &started, UptimeSeconds: 90, Version: "v0.0.1-old", LogFile: "/h/.cco/daemon.log",
		MemoryBytes: 18 << 20, CPUSeconds: 1.234, Connections: 1,
		RecentProblems: []string{`time=2026-11-25T10:00:01Z level=WARN msg="the log file was removed"`},
	}, nil)
	for _, want := range []string{
		"cco daemon is running (pid 42) on http://127.0.0.1:3000\n",
		"  memory:  18.0 MiB, CPU 1.23s, 1 open connection\n",
		"  warning: the daemon runs cco v0.0.1-old and this is cco " + version.String() + ": `cco daemon restart` runs this one\n",
		"    time=2026-11-25T10:00:01Z level=WARN msg=\"the log file was removed\"\n",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("status prints\n%s\nwithout %q", out.String(), want)
		}
	}
	if strings.Contains(out.String(), "\x1b[") {
		t.Error("status colours text that is not going to a terminal")
	}
}
