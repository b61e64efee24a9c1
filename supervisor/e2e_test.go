package supervisor_test

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/anthropics/cco/config"
	"github.com/anthropics/cco/history"
	_ "github.com/anthropics/cco/internal/golden" // its -update flag: `go test ./... -update` works from the root
	"github.com/anthropics/cco/internal/testhost"
	"github.com/anthropics/cco/protocol"
)

// home is one CCO_HOME and port for a test that runs the real binary; every
// process with that CCO_HOME is killed, by pid, when the test ends.
type home struct {
	t     testing.TB
	paths config.Paths
	port  int
	env   []string
}

func newHome(t testing.TB, env ...string) *home {
	dir := filepath.Join(t.TempDir(), ".cco")
	h := &home{t: t, paths: config.Paths{Home: dir}, port: testhost.FreePort(t)}
	h.env = append(os.Environ(), "CCO_HOME="+dir, "HOME="+filepath.Dir(dir), "CCO_PORT="+strconv.Itoa(h.port))
	h.env = append(h.env, env...)
	t.Cleanup(func() {
		for _, pid := range testhost.Of(dir) {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	})
	return h
}

// cco runs cco with args and returns its output and exit code.
func (h *home) cco(args ...string) (string, int) {
	h.t.Helper()
	out, code, err := testhost.Run(30*time.Second, h.env, append([]string{testhost.CCO(h.t)}, args...)...)
	if err != nil {
		h.t.Fatalf("cco %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out), code
}

// must runs cco and fails the test unless it exits 0.
func (h *home) must(args ...string) string {
	h.t.Helper()
	out, code := h.cco(args...)
	if code != 0 {
		h.t.Fatalf("cco %s: exit %d\n%s", strings.Join(args, " "), code, out)
	}
	return out
}

// daemon is the pid of the daemon that serves now: the lock holder, named
// by the state file, answering GET /health with its pid; 0 when none does.
func (h *home) daemon() int {
	holder, _ := protocol.LockHolder(h.paths.LockFile())
	st, err := protocol.ReadState(h.paths.PIDFile())
	if holder == 0 || err != nil || st.PID != holder {
		return 0
	}
	resp, err := (&http.Client{Timeout: time.Second}).Get(st.URL() + "/health")
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	var hl protocol.Health
	if json.NewDecoder(resp.Body).Decode(&hl) != nil || hl.PID != holder {
		return 0
	}
	return holder
}

// supervisor is the pid holding the supervisor's lock, 0 when none.
func (h *home) supervisor() int {
	pid, _ := protocol.LockHolder(h.paths.SupervisorLockFile())
	return pid
}

// restarted waits for a daemon other than old to serve, and returns it.
func (h *home) restarted(old int) int {
	h.t.Helper()
	var pid int
	testhost.Eventually(h.t, fmt.Sprintf("a daemon other than pid %d serving", old), func() bool {
		pid = h.daemon()
		return pid != 0 && pid != old
	})
	return pid
}

// kill sends sig to pid, which must be a process of this home.
func (h *home) kill(pid int, sig syscall.Signal) {
	h.t.Helper()
	if !testhost.Ours(pid, h.paths.Home) {
		h.t.Fatalf("pid %d is not a process of %s", pid, h.paths.Home)
	}
	if err := syscall.Kill(pid, sig); err != nil {
		h.t.Fatal(err)
	}
}

// status is `cco daemon status --json`.
type status struct {
	State       string `json:"state"`
	PID         int    `json:"pid"`
	Supervision struct {
		SupervisorPID int    `json:"supervisor_pid"`
		Restarts24h   int    `json:"restarts_24h"`
		CrashLoop     bool   `json:"crash_loop"`
		CrashLoopWhy  string `json:"crash_loop_why"`
		LastExit      *struct {
			history.Event
			Unrecorded bool   `json:"unrecorded"`
			Words      string `json:"words"`
		} `json:"last_exit"`
	} `json:"supervision"`
}

func (h *home) status() (status, int) {
	h.t.Helper()
	out, code := h.cco("daemon", "status", "--json")
	var s status
	if err := json.Unmarshal([]byte(out), &s); err != nil {
		h.t.Fatalf("status --json: %v\n%s", err, out)
	}
	return s, code
}

func (h *home) history() []history.Event {
	h.t.Helper()
	ev, err := history.Open(h.paths).Read()
	if err != nil {
		h.t.Fatal(err)
	}
	return ev
}

// gone waits until no process of this home is left.
func (h *home) gone() {
	h.t.Helper()
	if left := testhost.Left(h.paths.Home, testhost.EventuallyWithin); len(left) > 0 {
		h.t.Fatalf("processes of %s left: %v", h.paths.Home, left)
	}
}

// kill -9 of the daemon, three times: the supervisor restarts it each time,
// later each time (the delay doubles), status counts three restarts and
// names SIGKILL, and after stop nothing runs or comes back.
func TestKill9Loop(t *testing.T) {
	h := newHome(t)
	h.must("daemon", "start")
	sup := h.supervisor()
	pid := h.daemon()
	if sup == 0 || pid == 0 {
		t.Fatalf("after start: supervisor %d, daemon %d; want both", sup, pid)
	}
	for range 3 {
		h.kill(pid, syscall.SIGKILL)
		pid = h.restarted(pid)
	}
	if now := h.supervisor(); now != sup {
		t.Fatalf("the supervisor changed from pid %d to %d", sup, now)
	}
	s, code := h.status()
	if code != 0 || s.State != "running" || s.PID != pid {
		t.Errorf("status: exit %d, %+v; want running, pid %d", code, s, pid)
	}
	if s.Supervision.SupervisorPID != sup || s.Supervision.Restarts24h != 3 {
		t.Errorf("status: supervisor %d, %d restarts; want %d, 3", s.Supervision.SupervisorPID, s.Supervision.Restarts24h, sup)
	}
	if x := s.Supervision.LastExit; x == nil || x.Signal != "SIGKILL" || !strings.HasPrefix(x.Words, "killed by SIGKILL") {
		t.Errorf("status: last exit %+v, want killed by SIGKILL", x)
	}
	text, _ := h.cco("daemon", "status")
	for _, want := range []string{"supervisor: pid " + strconv.Itoa(sup), "restarts:   3 in the last 24 h", "last exit:  killed by SIGKILL"} {
		if !strings.Contains(text, want) {
			t.Errorf("status does not say %q:\n%s", want, text)
		}
	}

	// The delay grows: each restart waited at least twice the one before.
	var exits, starts []time.Time
	for _, e := range h.history() {
		switch {
		case e.Kind == history.KindExit && e.Signal == "SIGKILL":
			exits = append(exits, e.Time)
		case e.Kind == history.KindStart && len(exits) > 0 && len(starts) < len(exits):
			starts = append(starts, e.Time)
		}
	}
	if len(exits) != 3 || len(starts) != 3 {
		t.Fatalf("history: %d SIGKILL exits and %d restarts, want 3 of each", len(exits), len(starts))
	}
	for i := range 3 {
		gap, want := starts[i].Sub(exits[i]), supervisorFirstDelay<<i
		t.Logf("restart %d: %v after the exit (delay %v)", i+1, gap, want)
		if gap < want {
			t.Errorf("restart %d came %v after the exit, before its delay of %v", i+1, gap, want)
		}
	}

	out := h.must("daemon", "stop")
	if !strings.Contains(out, fmt.Sprintf("cco daemon stopped (pid %d)", pid)) || !strings.Contains(out, fmt.Sprintf("its supervisor (pid %d) stopped too", sup)) {
		t.Errorf("stop said:\n%s", out)
	}
	// stop returned once the supervisor had exited: nothing can restart
	// the daemon any more.
	if p := h.supervisor(); p != 0 {
		t.Errorf("after stop, pid %d holds the supervisor's lock", p)
	}
	h.gone()
	s, code = h.status()
	if code != 3 || s.State != "stopped" || s.Supervision.SupervisorPID != 0 {
		t.Errorf("after stop: exit %d, %+v; want stopped, exit 3, no supervisor", code, s)
	}
	if x := s.Supervision.LastExit; x == nil || x.Reason != history.ReasonStop || x.Code == nil || *x.Code != 0 {
		t.Errorf("after stop: last exit %+v, want exit 0 by stop", x)
	}
}

// supervisorFirstDelay is DefaultPolicy.FirstDelay, as the binary uses it.
const supervisorFirstDelay = 100 * time.Millisecond

// A daemon that cannot start again (its port was taken while it ran) fails
// five times within a minute: the supervisor gives up, exits, and status
// says so, with the daemon's own error.
func TestCrashLoop(t *testing.T) {
	h := newHome(t)
	h.must("daemon", "start")
	ln := takePort(t, h.paths, h.port)
	defer ln.Close()
	testhost.Eventually(t, "the supervisor to give up", func() bool { return h.supervisor() == 0 })
	h.gone()
	s, code := h.status()
	if code != 3 || s.State != "stopped" || !s.Supervision.CrashLoop || s.Supervision.SupervisorPID != 0 {
		t.Errorf("after a crash loop: exit %d, %+v; want stopped, exit 3, crash loop, no supervisor", code, s)
	}
	if x := s.Supervision.LastExit; x == nil || x.Code == nil || *x.Code != 1 || !strings.Contains(x.Error, "cannot listen on 127.0.0.1:"+strconv.Itoa(h.port)) {
		t.Errorf("last exit %+v, want exit 1 with the daemon's error: cannot listen", x)
	}
	text, _ := h.cco("daemon", "status")
	if !strings.Contains(text, "crash loop: the supervisor gave up restarting it") || !strings.Contains(text, "5 failures within 1m0s") {
		t.Errorf("status does not show the crash loop:\n%s", text)
	}
	failures := 0
	for _, e := range h.history() {
		if e.Kind == history.KindExit && (e.Signal != "" || (e.Code != nil && *e.Code != 0)) {
			failures++
		}
	}
	if failures != 5 {
		t.Errorf("history holds %d failures, want 5", failures)
	}
	out, _ := h.cco("daemon", "history")
	if !strings.Contains(out, "gave up") {
		t.Errorf("history does not show the supervisor giving up:\n%s", out)
	}
	// Fixed, it starts again, and the crash loop is over.
	ln.Close()
	h.must("daemon", "start")
	if s, _ := h.status(); s.Supervision.CrashLoop || s.State != "running" {
		t.Errorf("after a new start: %+v; want running, no crash loop", s)
	}
	h.must("daemon", "stop")
	h.gone()
}

// takePort kills the daemon with SIGKILL and listens on its port before
// the supervisor restarts it; when the restarted daemon was quicker, it
// kills that one too.
func takePort(t testhost.Fataler, paths config.Paths, port int) net.Listener {
	for range 20 {
		var pid int
		testhost.Eventually(t, "a daemon holding the lock", func() bool {
			pid, _ = protocol.LockHolder(paths.LockFile())
			return pid != 0
		})
		if !testhost.Ours(pid, paths.Home) {
			t.Fatalf("pid %d is not a process of %s", pid, paths.Home)
		}
		syscall.Kill(pid, syscall.SIGKILL)
		// A killed Go process shows as a zombie, and can drop its lock,
		// before its last thread has closed the listening socket: try the
		// port until it is free or a restarted daemon holds the lock. Every
		// kill counts toward the crash loop, so none may be spent early.
		var ln net.Listener
		testhost.Eventually(t, "the port free, or a restarted daemon", func() bool {
			var err error
			if ln, err = net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port)); err == nil {
				return true
			}
			holder, _ := protocol.LockHolder(paths.LockFile())
			return holder != 0 && holder != pid
		})
		if ln != nil {
			return ln
		}
	}
	t.Fatalf("could not take port %d from the restarted daemons", port)
	return nil
}

// A daemon whose configuration became wrong exits with config.ExitConfig:
// restarting cannot fix that, and the supervisor stops at once, saying why.
func TestConfigErrorNotRestarted(t *testing.T) {
	h := newHome(t)
	h.must("daemon", "start")
	pid := h.daemon()
	if err := os.WriteFile(h.paths.Config(), []byte("log_level = \"verbose\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	h.kill(pid, syscall.SIGKILL)
	testhost.Eventually(t, "the supervisor to stop", func() bool { return h.supervisor() == 0 })
	h.gone()
	s, _ := h.status()
	if s.Supervision.CrashLoop {
		t.Error("a wrong configuration is reported as a crash loop")
	}
	if x := s.Supervision.LastExit; x == nil || x.Code == nil || *x.Code != config.ExitConfig || !strings.Contains(x.Error, "log_level") {
		t.Errorf("last exit %+v, want exit %d with the daemon's error about log_level", x, config.ExitConfig)
	}
	starts := 0
	for _, e := range h.history() {
		if e.Kind == history.KindStart {
			starts++
		}
	}
	if starts != 2 {
		t.Errorf("history holds %d starts, want 2 (the first and one restart)", starts)
	}
}

// A daemon stopped by SIGSTOP holds its port but answers nothing: the
// supervisor's probe fails three times and it restarts the daemon.
func TestWedgedDaemonRestarted(t *testing.T) {
	h := newHome(t, "CCO_HEALTH_CHECK_INTERVAL=1")
	h.must("daemon", "start")
	pid := h.daemon()
	h.kill(pid, syscall.SIGSTOP)
	pid2 := h.restarted(pid)
	s, _ := h.status()
	if s.Supervision.Restarts24h != 1 {
		t.Errorf("restarts: %d, want 1", s.Supervision.Restarts24h)
	}
	x := s.Supervision.LastExit
	if x == nil || x.PID != pid || x.Reason != history.ReasonUnhealthy || !strings.Contains(x.Error, "did not answer GET /health 3 times") {
		t.Errorf("last exit %+v, want pid %d restarted for not answering", x, pid)
	}
	if protocol.Alive(pid) {
		t.Errorf("the wedged daemon (pid %d) still runs beside pid %d", pid, pid2)
	}
	h.must("daemon", "stop")
	h.gone()
}

// kill -9 of the supervisor orphans nothing: its daemon sees the end of the
// supervisor's pipe, stops cleanly and records why.
func TestSupervisorKilled(t *testing.T) {
	h := newHome(t)
	h.must("daemon", "start")
	sup, pid := h.supervisor(), h.daemon()
	h.kill(sup, syscall.SIGKILL)
	h.gone()
	s, code := h.status()
	if code != 3 || s.State != "stopped" {
		t.Errorf("after kill -9 of the supervisor: exit %d, %+v; want stopped", code, s)
	}
	if x := s.Supervision.LastExit; x == nil || x.PID != pid || x.Reason != history.ReasonParentGone || x.RecordedBy != "daemon" {
		t.Errorf("last exit %+v, want pid %d recorded by itself, its supervisor gone", x, pid)
	}
	// A new start begins afresh.
	h.must("daemon", "start")
	if h.supervisor() == 0 || h.daemon() == 0 {
		t.Error("start after the supervisor was killed: want a supervisor and a daemon")
	}
	h.must("daemon", "stop")
	h.gone()
}

// The first daemon failing (its port is taken) is reported by start with
// the daemon's own words, and is not restarted: nothing is left.
func TestFirstStartFails(t *testing.T) {
	h := newHome(t)
	ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(h.port))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	out, code := h.cco("daemon", "start")
	if code != 1 || !strings.Contains(out, "cannot listen on 127.0.0.1:"+strconv.Itoa(h.port)) {
		t.Errorf("start with the port taken: exit %d\n%s", code, out)
	}
	h.gone()
	s, _ := h.status()
	if x := s.Supervision.LastExit; x == nil || x.Code == nil || *x.Code != 1 || !strings.Contains(x.Words, "cannot listen") {
		t.Errorf("last exit %+v, want exited 1: cannot listen", x)
	}
}

// Concurrent starts give one supervisor and one daemon, round after round.
func TestConcurrentStarts(t *testing.T) {
	rounds := 100
	if testing.Short() {
		rounds = 10
	}
	h := newHome(t)
	for round := range rounds {
		var wg sync.WaitGroup
		for range 6 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if out, code := h.cco("daemon", "start"); code != 0 {
					t.Errorf("round %d: start: exit %d\n%s", round, code, out)
				}
			}()
		}
		wg.Wait()
		procs := testhost.Of(h.paths.Home)
		sup, pid := h.supervisor(), h.daemon()
		if len(procs) != 2 || sup == 0 || pid == 0 {
			t.Fatalf("round %d: processes %v, supervisor %d, daemon %d; want exactly those two", round, procs, sup, pid)
		}
		h.must("daemon", "stop")
		// Both released their locks; their exits follow within moments.
		if left := testhost.Left(h.paths.Home, testhost.EventuallyWithin); len(left) != 0 {
			t.Fatalf("round %d: after stop, processes %v", round, left)
		}
	}
}
