package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	_ "github.com/anthropics/cco/internal/golden" // its -update flag: `go test ./... -update` works from the root

	"github.com/anthropics/cco/internal/testhost"
	"github.com/anthropics/cco/protocol"

	"github.com/anthropics/cco/config"
)

func testOptions(t testing.TB, env map[string]string) Options {
	cfg := config.Defaults()
	cfg.Port = testhost.FreePort(t)
	return Options{
		Paths:  config.Paths{Home: t.TempDir()},
		Config: cfg,
		Reload: func() (config.DaemonConfig, error) { return cfg, nil },
		Getenv: func(k string) string { return env[k] },
	}
}

// runDaemon runs Run in the background until the test ends.
func runDaemon(t testing.TB, o Options) (stop func() error) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	o.Ready = w
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Run(ctx, o) }()
	msg := make([]byte, 4096)
	n, _ := r.Read(msg)
	r.Close()
	if got := strings.TrimSpace(string(msg[:n])); !strings.HasPrefix(got, protocol.ReadyMessage+" {") {
		cancel()
		t.Fatalf("readiness pipe said %q", got)
	}
	stopped := false
	stop = func() error {
		if stopped {
			return nil
		}
		stopped = true
		cancel()
		return <-done
	}
	t.Cleanup(func() { stop() })
	return stop
}

func TestRunServesAndCleansUp(t *testing.T) {
	o := testOptions(t, nil)
	stop := runDaemon(t, o)
	st, err := protocol.ReadState(o.Paths.PIDFile())
	if err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(o.Paths.PIDFile()); fi.Mode().Perm() != 0o600 {
		t.Errorf("state file mode %v, want 0600", fi.Mode().Perm())
	}
	if st.PID != os.Getpid() || st.Port != o.Config.Port || st.ProcStart == 0 || st.Executable == "" {
		t.Errorf("state file %+v", st)
	}
	resp, err := http.Get(st.URL() + "/health")
	if err != nil {
		t.Fatal(err)
	}
	var h protocol.Health
	json.NewDecoder(resp.Body).Decode(&h)
	resp.Body.Close()
	if resp.StatusCode != 200 || h.Status != "ok" || h.PID != os.Getpid() || h.Port != o.Config.Port {
		t.Errorf("GET /health: %s %+v", resp.Status, h)
	}
	for path, code := range map[string]int{"/ready": 200, "/nope": 404} {
		resp, err := http.Get(st.URL() + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != code {
			t.Errorf("GET %s: %s, want %d", path, resp.Status, code)
		}
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(o.Paths.PIDFile()); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("state file left after stop: %v", err)
	}
	if testhost.LockHeld(t, o.Paths.LockFile()) {
		t.Error("lock still held after stop")
	}
}

// A stopped daemon leaves no inotify instance open: its watchers
// (config.toml's, the ledger's) are closed by its shutdown.
func TestRunClosesItsWatchers(t *testing.T) {
	before := testhost.InotifyFDs(t)
	stop := runDaemon(t, testOptions(t, nil))
	if n := testhost.InotifyFDs(t) - before; n < 1 {
		t.Fatalf("the running daemon has %d inotify instances open, want its watch on config.toml at least", n)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if n := testhost.InotifyFDs(t) - before; n != 0 {
		t.Errorf("the stopped daemon left %d inotify instances open", n)
	}
}

func TestRunBindFailureLeavesNothing(t *testing.T) {
	o := testOptions(t, nil)
	ln, err := net.Listen("tcp", o.Config.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	err = Run(context.Background(), o)
	if err == nil || !strings.Contains(err.Error(), o.Config.Addr()) {
		t.Fatalf("Run on a taken port: %v; want an error naming %s", err, o.Config.Addr())
	}
	if _, err := os.Stat(o.Paths.PIDFile()); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("state file left after a bind failure: %v", err)
	}
	if testhost.LockHeld(t, o.Paths.LockFile()) {
		t.Error("lock still held after a bind failure")
	}
}

// TestSystemdNotify runs the daemon with NOTIFY_SOCKET naming a real
// unixgram socket, a path one and an abstract one, and reads READY=1 with
// MAINPID, WATCHDOG=1 at half of WATCHDOG_USEC, and STOPPING=1.
func TestSystemdNotify(t *testing.T) {
	for name, addr := range map[string]string{
		"path":     filepath.Join(t.TempDir(), "notify.sock"),
		"abstract": fmt.Sprintf("@cco-test-notify-%d", os.Getpid()),
	} {
		t.Run(name, func(t *testing.T) {
			sock, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: addr, Net: "unixgram"})
			if err != nil {
				t.Fatal(err)
			}
			defer sock.Close()
			o := testOptions(t, map[string]string{
				"NOTIFY_SOCKET": addr,
				"WATCHDOG_USEC": "40000", // a ping every 20 ms
				"WATCHDOG_PID":  strconv.Itoa(os.Getpid()),
			})
			stop := runDaemon(t, o)
			want := []string{"READY=1\nMAINPID=" + strconv.Itoa(os.Getpid()), "WATCHDOG=1", "WATCHDOG=1", "WATCHDOG=1"}
			for _, w := range want {
				if got := readDatagram(t, sock); got != w {
					t.Fatalf("notify socket got %q, want %q", got, w)
				}
			}
			if err := stop(); err != nil {
				t.Fatal(err)
			}
			for {
				got := readDatagram(t, sock)
				if got == "STOPPING=1" {
					break
				}
				if got != "WATCHDOG=1" {
					t.Fatalf("notify socket got %q, want STOPPING=1", got)
				}
			}
		})
	}
}

func TestWatchdogForAnotherPid(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "notify.sock")
	l, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	n, err := newNotifier(func(k string) string {
		return map[string]string{"NOTIFY_SOCKET": sock, "WATCHDOG_USEC": "1000000", "WATCHDOG_PID": "1"}[k]
	})
	if err != nil {
		t.Fatal(err)
	}
	defer n.close()
	if n.watchdog != 0 {
		t.Errorf("watchdog every %v for WATCHDOG_PID=1; want none", n.watchdog)
	}
}

func readDatagram(t *testing.T, c *net.UnixConn) string {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 256)
	n, err := c.Read(buf)
	if err != nil {
		t.Fatalf("reading the notify socket: %v", err)
	}
	return string(buf[:n])
}

// TestRunRestoresARemovedHome: `rm -rf ~/.cco` under a running daemon must
// not leave a daemon that no cco command can find, stop or read.
func TestRunRestoresARemovedHome(t *testing.T) {
	o := testOptions(t, nil)
	runDaemon(t, o)
	// The ledger may be creating its database files at this moment.
	testhost.Eventually(t, "CCO_HOME removed", func() bool { return os.RemoveAll(o.Paths.Home) == nil })
	deadline := time.Now().Add(5 * HomeCheckInterval)
	for {
		st, err := protocol.ReadState(o.Paths.PIDFile())
		_, lerr := os.Stat(o.Paths.LockFile())
		log, _ := os.ReadFile(o.Paths.LogFile())
		if err == nil && st.PID == os.Getpid() && lerr == nil && strings.Contains(string(log), "wrote it anew") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("CCO_HOME not restored after %v: state %v %v, lock %v, log %q", 5*HomeCheckInterval, st, err, lerr, log)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if fi, err := os.Stat(o.Paths.Home); err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("CCO_HOME restored as %v, %v; want mode 0700", fi, err)
	}
	resp, err := http.Get("http://" + o.Config.Addr() + "/health")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
}

// TestRunBindErrorNamesTheHost: an address this machine does not have is
// the host's fault, and the error says so (not "choose another port").
func TestRunBindErrorNamesTheHost(t *testing.T) {
	o := testOptions(t, nil)
	o.Config.Host = "192.0.2.1" // TEST-NET-1: never an address of this machine
	err := Run(context.Background(), o)
	if err == nil || !strings.Contains(err.Error(), "192.0.2.1 is not an address of this machine; set host to one") || strings.Contains(err.Error(), "another port") {
		t.Fatalf("Run on a foreign address: %v", err)
	}
}

// TestHealthCountsConnections: /health says how many client connections
// the daemon holds open, the asking one included.
func TestHealthCountsConnections(t *testing.T) {
	o := testOptions(t, nil)
	runDaemon(t, o)
	idle, err := net.Dial("tcp", o.Config.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	var h protocol.Health
	testhost.Eventually(t, "the idle connection counted", func() bool {
		resp, err := http.Get("http://" + o.Config.Addr() + "/health")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		return json.NewDecoder(resp.Body).Decode(&h) == nil && h.Connections == 2
	})
}

// TestEveryRouteRefusesAForeignHost: /health and /metrics tell what the
// dashboard shows; a page that rebinds its name to 127.0.0.1 (DNS
// rebinding) or sends a foreign Origin gets nothing from them either.
func TestEveryRouteRefusesAForeignHost(t *testing.T) {
	o := testOptions(t, nil)
	runDaemon(t, o)
	for _, path := range []string{"/health", "/metrics", "/ready", "/api/usage/daily"} {
		for _, c := range []struct {
			host, origin string
			code         int
		}{
			{"attacker.example:" + strconv.Itoa(o.Config.Port), "", http.StatusMisdirectedRequest},
			{o.Config.Addr(), "http://attacker.example", http.StatusForbidden},
			{o.Config.Addr(), "", http.StatusOK},
		} {
			req, _ := http.NewRequest(http.MethodGet, "http://"+o.Config.Addr()+path, nil)
			req.Host = c.host
			if c.origin != "" {
				req.Header.Set("Origin", c.origin)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != c.code {
				t.Errorf("GET %s with Host %s, Origin %q: %s, want %d", path, c.host, c.origin, resp.Status, c.code)
			}
		}
	}
}
