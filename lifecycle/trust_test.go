package lifecycle_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/anthropics/cco/config"
	"github.com/anthropics/cco/internal/testhost"
	"github.com/anthropics/cco/lifecycle"
	"github.com/anthropics/cco/protocol"
)

// trustHome is a CCO_HOME, a port and the environment of cco commands run
// in it; whatever process of it is left is killed at the end.
type trustHome struct {
	t    *testing.T
	bin  string
	home string
	port string
	env  []string
}

func newTrustHome(t *testing.T) *trustHome {
	h := &trustHome{t: t, bin: testhost.CCO(t), home: filepath.Join(t.TempDir(), ".cco"), port: strconv.Itoa(testhost.FreePort(t))}
	h.env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + filepath.Dir(h.home), "CCO_HOME=" + h.home}
	t.Cleanup(func() {
		for _, pid := range testhost.Of(h.home) {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	})
	return h
}

// cco runs a cco command; a command killed by a signal or out of time
// fails the test.
func (h *trustHome) cco(args ...string) (string, int) {
	out, code, err := testhost.Run(30*time.Second, h.env, append([]string{h.bin}, args...)...)
	if err != nil {
		h.t.Errorf("cco %s: %v: %s", strings.Join(args, " "), err, out)
	}
	if code < 0 {
		h.t.Errorf("cco %s died (exit %d): %s", strings.Join(args, " "), code, out)
	}
	return string(out), code
}

func (h *trustHome) clean() {
	h.t.Helper()
	if left := testhost.Left(h.home, 3*time.Second); len(left) > 0 {
		h.t.Fatalf("processes left: %v", left)
	}
	if _, err := os.Stat(config.Paths{Home: h.home}.PIDFile()); err == nil {
		h.t.Fatalf("state file left")
	}
}

func rounds(t *testing.T, n int) int {
	if testing.Short() {
		return n / 10
	}
	return n
}

// TestConcurrentStops: ten stops at once, fifty times. A stop waiting
// for the daemon to exit must never look like the daemon to another stop:
// every stop exits 0, none is killed.
func TestConcurrentStops(t *testing.T) {
	h := newTrustHome(t)
	for r := range rounds(t, 50) {
		if out, code := h.cco("daemon", "start", "--port", h.port); code != 0 {
			t.Fatalf("round %d: start exited %d: %s", r, code, out)
		}
		var wg sync.WaitGroup
		for range 10 {
			wg.Go(func() {
				out, code := h.cco("daemon", "stop")
				if code != 0 || !regexp.MustCompile(`^cco daemon (stopped \(pid \d+\)|is not running)`).MatchString(out) {
					t.Errorf("round %d: stop exited %d: %s", r, code, out)
				}
			})
		}
		wg.Wait()
		if t.Failed() {
			t.FailNow()
		}
		h.clean()
	}
}

// TestConcurrentStartsAndStops: starts and stops at once, fifty times.
// Every command exits 0 and none dies; "already running (pid N)" names
// only a daemon some start started; at the end one stop leaves nothing.
func TestConcurrentStartsAndStops(t *testing.T) {
	h := newTrustHome(t)
	var mu sync.Mutex
	started := map[string]bool{}
	var already []string
	startedRe := regexp.MustCompile(`^cco daemon started \(pid (\d+)\)`)
	alreadyRe := regexp.MustCompile(`^cco daemon already running \(pid (\d+)\)`)
	for r := range rounds(t, 50) {
		var wg sync.WaitGroup
		for i := range 8 {
			wg.Go(func() {
				if i%2 == 0 {
					out, code := h.cco("daemon", "start", "--port", h.port)
					if code != 0 {
						t.Errorf("round %d: start exited %d: %s", r, code, out)
					}
					mu.Lock()
					if m := startedRe.FindStringSubmatch(out); m != nil {
						started[m[1]] = true
					} else if m := alreadyRe.FindStringSubmatch(out); m != nil {
						already = append(already, m[1])
					}
					mu.Unlock()
					return
				}
				if out, code := h.cco("daemon", "stop"); code != 0 {
					t.Errorf("round %d: stop exited %d: %s", r, code, out)
				}
			})
		}
		wg.Wait()
		if t.Failed() {
			t.FailNow()
		}
	}
	if out, code := h.cco("daemon", "stop"); code != 0 {
		t.Fatalf("the last stop exited %d: %s", code, out)
	}
	h.clean()
	for _, pid := range already {
		if !started[pid] {
			t.Errorf("a start answered already running (pid %s), which no start started", pid)
		}
	}
}

// TestSuspendedStart: a start suspended (Ctrl-Z) between spawning the
// daemon and reading its word, and resumed after --wait ran out, keeps the
// daemon that announced it serves. The suspension is played by Spawn,
// which returns only once the daemon wrote its state file (it announces
// itself right after) and the deadline has passed.
func TestSuspendedStart(t *testing.T) {
	h := newTrustHome(t)
	paths := config.Paths{Home: h.home}
	ctl := lifecycle.New(paths)
	const wait = 300 * time.Millisecond
	begin := time.Now()
	ctl.Spawn = func(cmd *exec.Cmd) error {
		if err := cmd.Start(); err != nil {
			return err
		}
		testhost.Eventually(t, "the state file", func() bool {
			_, err := os.Stat(paths.PIDFile())
			return err == nil
		})
		testhost.Eventually(t, "--wait to run out", func() bool { return time.Since(begin) > 2*wait })
		return nil
	}
	s, err := ctl.Start(context.Background(), lifecycle.StartOptions{
		Executable: h.bin, Env: append(h.env, "CCO_PORT="+h.port), Wait: wait,
	})
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	if !protocol.Alive(s.PID) {
		t.Fatalf("the daemon (pid %d) that announced it serves is gone", s.PID)
	}
	if _, err := ctl.Stop(context.Background(), 5*time.Second); err != nil {
		t.Fatal(err)
	}
	h.clean()
}

// TestInterruptedStart: Ctrl-C (a real SIGINT) to `cco daemon start` while
// its daemon holds the lock and has written its state file but has not
// announced itself: start kills it and leaves nothing behind.
func TestInterruptedStart(t *testing.T) {
	h := newTrustHome(t)
	paths := config.Paths{Home: h.home}
	for r := range rounds(t, 10) {
		cmd := exec.Command(h.bin, "daemon", "start", "--port", h.port, "--wait", "30s")
		cmd.Env = append(h.env, "CCO_TEST_NEVER_READY=1")
		var out strings.Builder
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		testhost.Eventually(t, "the daemon's state file", func() bool {
			_, err := os.Stat(paths.PIDFile())
			return err == nil
		})
		if err := cmd.Process.Signal(os.Interrupt); err != nil {
			t.Fatal(err)
		}
		err := cmd.Wait()
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
			t.Fatalf("round %d: start ended with %v, want exit 1: %s", r, err, out.String())
		}
		if !strings.Contains(out.String(), "interrupted while the daemon") {
			t.Errorf("round %d: start said %q", r, out.String())
		}
		h.clean()
		if pid, _ := protocol.LockHolder(paths.LockFile()); pid != 0 {
			t.Fatalf("round %d: pid %d holds the lock", r, pid)
		}
	}
}
