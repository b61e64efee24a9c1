package daemon

import (
	"context"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/anthropics/cco/internal/testhost"
	"github.com/anthropics/cco/protocol"
)

// probeFailures counts the failed probes the daemon logged.
func probeFailures(t *testing.T, o Options) int {
	data, _ := os.ReadFile(o.Paths.LogFile())
	return strings.Count(string(data), "msg=\"health probe failed")
}

// TestWatchdogStopsWhenWedged: the systemd watchdog is pinged only after
// the daemon answered its own /health: with its HTTP server wedged, the
// pings stop (so systemd restarts it), and they resume once it answers.
func TestWatchdogStopsWhenWedged(t *testing.T) {
	addr := filepath.Join(t.TempDir(), "notify.sock")
	sock, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: addr, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer sock.Close()
	o := testOptions(t, map[string]string{
		"NOTIFY_SOCKET": addr,
		"WATCHDOG_USEC": "200000", // a probe every 100 ms
		"WATCHDOG_PID":  strconv.Itoa(os.Getpid()),
	})
	o.WedgeFile = filepath.Join(t.TempDir(), "wedge")
	runDaemon(t, o)
	for _, w := range []string{"READY=1\nMAINPID=" + strconv.Itoa(os.Getpid()), "WATCHDOG=1"} {
		if got := readDatagram(t, sock); got != w {
			t.Fatalf("notify socket got %q, want %q", got, w)
		}
	}
	if err := os.WriteFile(o.WedgeFile, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	// A probe that began before the wedge may still ping: count from the
	// first failure on.
	testhost.Eventually(t, "a failed probe", func() bool { return probeFailures(t, o) >= 1 })
	drain(sock)
	testhost.Eventually(t, "three more failed probes", func() bool { return probeFailures(t, o) >= 4 })
	if got := drain(sock); len(got) > 0 {
		t.Fatalf("the watchdog was pinged while the server was wedged: %q", got)
	}
	os.Remove(o.WedgeFile)
	if got := readDatagram(t, sock); got != "WATCHDOG=1" {
		t.Fatalf("after the wedge ended the notify socket got %q, want WATCHDOG=1", got)
	}
}

// drain returns the datagrams waiting on c.
func drain(c *net.UnixConn) []string {
	var got []string
	buf := make([]byte, 256)
	for {
		c.SetReadDeadline(time.Now().Add(time.Millisecond))
		n, err := c.Read(buf)
		if err != nil {
			return got
		}
		got = append(got, string(buf[:n]))
	}
}

// TestLaunchdExitsWhenProbeFails: under launchd, which has no watchdog, a
// daemon whose own probe fails ProbeGiveUp times in a row exits with an
// error (non-zero, so that KeepAlive starts it anew), cleaning up.
func TestLaunchdExitsWhenProbeFails(t *testing.T) {
	o := testOptions(t, nil)
	o.Config.HealthCheckInterval = 1
	o.Launchd = true
	o.WedgeFile = filepath.Join(t.TempDir(), "wedge")
	if err := os.WriteFile(o.WedgeFile, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := Run(ctx, o)
	if err == nil || !strings.Contains(err.Error(), "3 times in a row") {
		t.Fatalf("Run with a wedged server under launchd: %v; want an exit after 3 failed probes", err)
	}
	if ctx.Err() != nil {
		t.Fatal("the daemon did not exit on its own")
	}
	if testhost.LockHeld(t, o.Paths.LockFile()) {
		t.Error("lock still held after the exit")
	}
}

// TestProbeStateInHealth: /health carries the probe's result.
func TestProbeStateInHealth(t *testing.T) {
	o := testOptions(t, nil)
	o.Config.HealthCheckInterval = 1
	runDaemon(t, o)
	testhost.Eventually(t, "a successful probe in /health", func() bool {
		h := health(t, o)
		return h.Probe != nil && h.Probe.LastSuccess != nil && h.Probe.ConsecutiveFailures == 0 && h.Probe.IntervalSeconds == 1
	})
}

func health(t *testing.T, o Options) protocol.Health {
	t.Helper()
	var h protocol.Health
	if err := json.Unmarshal(get(t, "http://"+o.Config.Addr()+"/health"), &h); err != nil {
		t.Fatal(err)
	}
	return h
}

// TestProbeNotLogged: the daemon's own probes are counted in /metrics but
// leave no request line in the log at debug, where other requests do.
func TestProbeNotLogged(t *testing.T) {
	o := testOptions(t, nil)
	o.Config.LogLevel = "debug"
	o.Config.HealthCheckInterval = 1
	runDaemon(t, o)
	// Only the probe asks /health here; the test reads /metrics.
	probes := regexp.MustCompile(`cco_http_requests_total\{code="200",route="GET /health"\} ([0-9]+)`)
	testhost.Eventually(t, "two probes counted", func() bool {
		m := probes.FindSubmatch(get(t, "http://"+o.Config.Addr()+"/metrics"))
		if m == nil {
			return false
		}
		n, _ := strconv.Atoi(string(m[1]))
		return n >= 2
	})
	data, _ := os.ReadFile(o.Paths.LogFile())
	if strings.Contains(string(data), "path=/health") {
		t.Errorf("the daemon's probe left request lines:\n%s", data)
	}
	if !strings.Contains(string(data), "msg=request method=GET path=/metrics") {
		t.Errorf("no request line at debug for the test's own request:\n%s", data)
	}
}
