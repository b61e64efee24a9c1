//go:build soak

// Package soak drives a real cco binary through many start/stop/restart
// cycles with kill -9 of the daemon at random moments and concurrent status,
// logs and HTTP requests, then checks that nothing was left behind or lost.
//
//	make soak                      # SOAK_CYCLES=1000 SOAK_TIME=5m
//	make soak SOAK_CYCLES=100      # a quick run
package soak

import (
	"bufio"
	"bytes"
	"cmp"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	_ "github.com/anthropics/cco/internal/golden" // its -update flag: `go test ./... -update` works from the root

	"github.com/anthropics/cco/internal/testhost"
)

func envInt(t *testing.T, k string, def int) int {
	if s := os.Getenv(k); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			t.Fatalf("%s=%q: %v", k, s, err)
		}
		return n
	}
	return def
}

type soak struct {
	t    *testing.T
	bin  string
	home string
	port int
	env  []string

	killMu sync.RWMutex // held for writing while a kill -9 is under way
	stopMu sync.RWMutex // held for writing while stop/restart runs

	mu         sync.Mutex
	acked      []int64 // request numbers the daemon answered
	violations []string
	notes      []string
	codes      map[string]int // "cmd exit" -> count
	kills      int
}

func (s *soak) violate(format string, args ...any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.violations) < 50 {
		s.violations = append(s.violations, fmt.Sprintf(format, args...))
	}
}

// note records what is worth reading but not a failure by itself (a start
// racing a kill -9 may fail, and must say why).
func (s *soak) note(format string, args ...any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.notes) < 20 {
		s.notes = append(s.notes, fmt.Sprintf(format, args...))
	}
}

func (s *soak) count(k string) {
	s.mu.Lock()
	s.codes[k]++
	s.mu.Unlock()
}

// cco runs cco with the soak's environment, within a time limit.
func (s *soak) cco(args ...string) (string, int) {
	out, code, err := testhost.Run(30*time.Second, s.env, append([]string{s.bin}, args...)...)
	if err != nil {
		s.violate("cco %s: %v: %s", strings.Join(args, " "), err, out)
	}
	if bytes.Contains(out, []byte("panic:")) || bytes.Contains(out, []byte("goroutine ")) {
		s.violate("cco %s panicked: %s", strings.Join(args, " "), out)
	}
	s.count(fmt.Sprintf("%s → %d", args[1], code))
	return string(out), code
}

// daemonPID returns the pid in the state file if that process is provably
// this soak's daemon (its environment names our CCO_HOME), else 0.
func (s *soak) daemonPID() int {
	pid, _ := testhost.DaemonPID(s.home)
	return pid
}

// lockHolder reports the pid holding a write-conflicting lock on path
// (-1 for an open file description lock), or 0 when nobody holds it.
func lockHolder(path string) (int, error) {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		if os.IsNotExist(err) {
			return 0, nil
		}
		return 0, err
	}
	defer f.Close()
	lk := syscall.Flock_t{Type: syscall.F_WRLCK, Whence: 0, Start: 0, Len: 0}
	if err := syscall.FcntlFlock(f.Fd(), syscall.F_GETLK, &lk); err != nil {
		return 0, err
	}
	if lk.Type == syscall.F_UNLCK {
		// flock(2) locks do not show in F_GETLK: try one as well.
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
			return -1, nil
		}
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		return 0, nil
	}
	if lk.Pid == 0 {
		return -1, nil
	}
	return int(lk.Pid), nil
}

func TestSoak(t *testing.T) {
	bin := os.Getenv("CCO_BIN")
	if bin == "" {
		t.Fatal("CCO_BIN is not set: run `make soak`, which builds ./cco and passes it")
	}
	cycles := envInt(t, "SOAK_CYCLES", 1000)
	limit, err := time.ParseDuration(os.Getenv("SOAK_TIME"))
	if err != nil {
		limit = 5 * time.Minute
	}
	home := t.TempDir()
	s := &soak{t: t, bin: bin, home: home, port: testhost.FreePort(t), codes: map[string]int{}}
	s.env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + home, "CCO_HOME=" + home}
	cfg := fmt.Sprintf("port = %d\nlog_level = \"debug\"\nlog_rotation_size = 16384\nlog_max_files = 1000\n", s.port)
	if err := os.WriteFile(filepath.Join(home, "config.toml"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// Whatever happened, end our daemons (found by their CCO_HOME).
		for _, pid := range testhost.Of(home) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	})
	base := fmt.Sprintf("http://127.0.0.1:%d", s.port)
	client := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}

	done := make(chan struct{})
	var wg sync.WaitGroup
	loop := func(pause time.Duration, f func()) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-done:
					return
				default:
				}
				f()
				time.Sleep(pause)
			}
		}()
	}
	// HTTP requests: every answered one must be in the log. No kill -9
	// happens while one is in flight (the daemon logs a request before it
	// answers, so an answered request was written).
	var seq atomic.Int64
	loop(time.Millisecond, func() {
		s.killMu.RLock()
		defer s.killMu.RUnlock()
		n := seq.Add(1)
		resp, err := client.Get(fmt.Sprintf("%s/soak/%d", base, n))
		if err != nil {
			return
		}
		resp.Body.Close()
		s.mu.Lock()
		s.acked = append(s.acked, n)
		s.mu.Unlock()
	})
	// status: whenever it says running and healthy, /health answers.
	var statusRunning atomic.Int64
	loop(3*time.Millisecond, func() {
		s.stopMu.RLock()
		defer s.stopMu.RUnlock()
		s.killMu.RLock()
		defer s.killMu.RUnlock()
		out, code := s.cco("daemon", "status")
		switch code {
		case 0:
			statusRunning.Add(1)
			resp, err := client.Get(base + "/health")
			if err != nil {
				s.violate("status said running (%q) but /health failed: %v", firstLine(out), err)
				return
			}
			resp.Body.Close()
			if resp.StatusCode != 200 {
				s.violate("status said running but /health answered %d", resp.StatusCode)
			}
		case 1, 3:
		default:
			s.violate("status exited %d: %s", code, out)
		}
	})
	// logs: always succeeds once a daemon has run (before that it may say
	// so), never a torn line.
	var started atomic.Bool
	loop(7*time.Millisecond, func() {
		before := !started.Load()
		out, code := s.cco("daemon", "logs", "-n", "20")
		if code != 0 && !(before && strings.Contains(out, "has not run")) {
			s.violate("logs exited %d: %s", code, out)
			return
		}
		if code == 0 {
			for _, l := range strings.Split(strings.TrimRight(out, "\n"), "\n") {
				if l != "" && !lineOK.MatchString(l) {
					s.violate("logs printed a torn or foreign line: %q", l)
				}
			}
		}
	})

	start := time.Now()
	rng := rand.New(rand.NewPCG(uint64(start.UnixNano()), 7))
	var killers sync.WaitGroup
	ran := 0
	for ; ran < cycles && time.Since(start) < limit; ran++ {
		if rng.IntN(3) == 0 { // kill -9 the daemon at a random moment of this cycle
			delay := time.Duration(rng.IntN(8_000)) * time.Microsecond
			killers.Add(1)
			go func() {
				defer killers.Done()
				time.Sleep(delay)
				s.killMu.Lock()
				defer s.killMu.Unlock()
				if pid := s.daemonPID(); pid > 0 {
					if syscall.Kill(pid, syscall.SIGKILL) == nil {
						s.mu.Lock()
						s.kills++
						s.mu.Unlock()
					}
				}
			}()
		}
		switch r := rng.IntN(10); {
		case r < 4:
			if out, code := s.cco("daemon", "start"); code == 0 {
				started.Store(true)
			} else {
				s.note("start exited %d: %s", code, out)
			}
		case r < 7:
			s.stopMu.Lock()
			s.cco("daemon", "stop")
			s.stopMu.Unlock()
		default:
			s.stopMu.Lock()
			if out, code := s.cco("daemon", "restart"); code == 0 {
				started.Store(true)
			} else {
				s.note("restart exited %d: %s", code, out)
			}
			s.stopMu.Unlock()
		}
		killers.Wait()
	}
	close(done)
	wg.Wait()
	elapsed := time.Since(start)

	// One clean start answers, then stop; afterwards nothing is left.
	if out, code := s.cco("daemon", "start"); code != 0 {
		s.violate("the final start failed (%d): %s", code, out)
	}
	if out, code := s.cco("daemon", "stop"); code != 0 {
		s.violate("the final stop failed (%d): %s", code, out)
	}
	if left := testhost.Left(home, 3*time.Second); len(left) > 0 {
		s.violate("processes left after the final stop: %v", left)
	}
	if _, err := os.Stat(filepath.Join(home, "daemon.pid")); err == nil {
		b, _ := os.ReadFile(filepath.Join(home, "daemon.pid"))
		s.violate("state file left after the final stop: %s", b)
	}
	for _, lock := range []string{"daemon.lock", "daemon.start.lock"} {
		if pid, err := lockHolder(filepath.Join(home, lock)); err != nil {
			s.violate("checking %s: %v", lock, err)
		} else if pid != 0 {
			s.violate("%s still held by pid %d", lock, pid)
		}
	}

	// Every answered request is in the logs, once; no line is torn.
	logged, files, lines := s.readLogs()
	missing := 0
	var firstMissing []int64
	for _, n := range s.acked {
		if !logged[n] {
			missing++
			if len(firstMissing) < 10 {
				firstMissing = append(firstMissing, n)
			}
		}
	}
	if missing > 0 {
		s.violate("%d of %d answered requests are not in the logs (first: %v)", missing, len(s.acked), firstMissing)
	}

	var codes []string
	for k, v := range s.codes {
		codes = append(codes, fmt.Sprintf("%s ×%d", k, v))
	}
	sort.Strings(codes)
	t.Logf("%d cycles in %s (limit %d cycles, %s); %d kill -9; %d requests answered, all checked against %d lines in %d log files; status said running %d times",
		ran, elapsed.Round(time.Millisecond), cycles, limit, s.kills, len(s.acked), lines, files, statusRunning.Load())
	t.Logf("exit codes: %s", strings.Join(codes, ", "))
	for _, n := range s.notes {
		t.Log("note: " + n)
	}
	for _, v := range s.violations {
		t.Error(v)
	}
}

// lineOK is a whole slog text line as the daemon writes it.
var lineOK = regexp.MustCompile(`^time=\S+ level=(DEBUG|INFO|WARN|ERROR)(\+\d+)? msg=\S.*$`)

var soakPath = regexp.MustCompile(`path=/soak/(\d+) `)

// readLogs reads daemon.log and its rotated files: which requests are
// logged, and whether any line is torn or foreign.
func (s *soak) readLogs() (logged map[int64]bool, files, lines int) {
	logged = map[int64]bool{}
	paths, _ := filepath.Glob(filepath.Join(s.home, "daemon.log*"))
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			s.violate("reading %s: %v", p, err)
			continue
		}
		files++
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			l := sc.Text()
			lines++
			if !lineOK.MatchString(l) {
				s.violate("%s: torn or foreign line: %q", filepath.Base(p), l)
				continue
			}
			if m := soakPath.FindStringSubmatch(l); m != nil {
				n, _ := strconv.ParseInt(m[1], 10, 64)
				logged[n] = true
			}
		}
		f.Close()
	}
	return logged, files, lines
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}

// TestSoakIdentity repeats, for SOAK_IDENTITY_TIME (else SOAK_TIME, else
// 60s), the cases where a
// client could be taken for the daemon or the daemon missed: ten concurrent
// stops with two starts among them, and a daemon whose lock file was
// removed. No command may die of a signal or fail; the only daemon ever
// named is one a start started; at the end nothing is left.
//
//	CCO_BIN=$PWD/cco SOAK_IDENTITY_TIME=60s go test -tags soak -run TestSoakIdentity ./soak/
func TestSoakIdentity(t *testing.T) {
	bin := os.Getenv("CCO_BIN")
	if bin == "" {
		t.Fatal("CCO_BIN is not set: run `make soak`, which builds ./cco and passes it")
	}
	limit, err := time.ParseDuration(cmp.Or(os.Getenv("SOAK_IDENTITY_TIME"), os.Getenv("SOAK_TIME")))
	if err != nil {
		limit = time.Minute
	}
	home := t.TempDir()
	s := &soak{t: t, bin: bin, home: home, port: testhost.FreePort(t), codes: map[string]int{}}
	s.env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + home, "CCO_HOME=" + home, "CCO_PORT=" + strconv.Itoa(s.port)}
	t.Cleanup(func() {
		for _, pid := range testhost.Of(home) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	})
	started := map[string]bool{}
	var named []string
	var mu sync.Mutex
	startedRe := regexp.MustCompile(`cco daemon started \(pid (\d+)\)`)
	namedRe := regexp.MustCompile(`cco daemon (?:already running|stopped) \(pid (\d+)\)`)
	record := func(out string) {
		mu.Lock()
		defer mu.Unlock()
		for _, m := range startedRe.FindAllStringSubmatch(out, -1) {
			started[m[1]] = true
		}
		for _, m := range namedRe.FindAllStringSubmatch(out, -1) {
			named = append(named, m[1])
		}
	}
	begin := time.Now()
	rounds := 0
	for ; time.Since(begin) < limit; rounds++ {
		out, code := s.cco("daemon", "start")
		record(out)
		if code != 0 {
			s.violate("round %d: start exited %d: %s", rounds, code, out)
			break
		}
		if rounds%5 == 4 {
			// The lock file removed under the daemon: status keeps its
			// state file, stop finds it.
			_ = os.Remove(filepath.Join(home, "daemon.lock"))
			if out, code := s.cco("daemon", "status"); code != 0 {
				s.violate("round %d: status of a daemon whose lock file was removed exited %d: %s", rounds, code, out)
			}
			if _, err := os.Stat(filepath.Join(home, "daemon.pid")); err != nil {
				s.violate("round %d: the state file of a live daemon is gone: %v", rounds, err)
			}
		}
		var wg sync.WaitGroup
		for i := range 12 {
			wg.Go(func() {
				cmd := "stop"
				if i == 3 || i == 8 {
					cmd = "start"
				}
				out, code := s.cco("daemon", cmd)
				record(out)
				if code != 0 {
					s.violate("round %d: %s exited %d: %s", rounds, cmd, code, out)
				}
			})
		}
		wg.Wait()
		if len(s.violations) > 0 {
			break
		}
	}
	if out, code := s.cco("daemon", "stop"); code != 0 {
		s.violate("the final stop failed (%d): %s", code, out)
	}
	if left := testhost.Left(home, 3*time.Second); len(left) > 0 {
		s.violate("processes left after the final stop: %v", left)
	}
	for _, pid := range named {
		if !started[pid] {
			s.violate("a command named pid %s as the daemon, which no start started", pid)
		}
	}
	t.Logf("%d rounds of 10 stops and 2 starts at once in %s", rounds, time.Since(begin).Round(time.Millisecond))
	for _, v := range s.violations {
		t.Error(v)
	}
}
