package lifecycle_test

import (
	"bytes"
	"fmt"
	"net/http"
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
)

// lockedBuffer is a bytes.Buffer that a process writes while the test
// reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

var e2eLine = regexp.MustCompile(`path=/e2e/(\d+) `)

// TestFollowDaemonE2E: the real daemon logs 10,000 requests from four
// clients, rotating daemon.log every ten lines or so, and halfway through
// the log is moved aside logrotate's way (mv, then SIGHUP); the real
// `cco daemon logs -f -n 0` prints each request's line exactly once and
// nothing logged before it started.
func TestFollowDaemonE2E(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the daemon and sends it 10,000 requests")
	}
	bin := testhost.CCO(t)
	home := t.TempDir()
	paths := config.Paths{Home: filepath.Join(home, ".cco")}
	port := testhost.FreePort(t)
	if err := os.MkdirAll(paths.Home, 0o700); err != nil {
		t.Fatal(err)
	}
	cfg := fmt.Sprintf("port = %d\nlog_level = \"debug\"\nlog_rotation_size = 1024\nlog_max_files = 1000\n", port)
	if err := os.WriteFile(paths.Config(), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	env := append(os.Environ(), "HOME="+home, "CCO_HOME="+paths.Home)
	cco := func(args ...string) *exec.Cmd {
		c := exec.Command(bin, args...)
		c.Env = env
		return c
	}
	if out, err := cco("daemon", "start").CombinedOutput(); err != nil {
		t.Fatalf("start: %v\n%s", err, out)
	}
	pid, err := testhost.DaemonPID(paths.Home)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if out, err := cco("daemon", "stop").CombinedOutput(); err != nil {
			t.Errorf("stop: %v\n%s", err, out)
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}()
	url := fmt.Sprintf("http://127.0.0.1:%d/e2e/", port)
	get := func(i int) {
		resp, err := http.Get(url + strconv.Itoa(i))
		if err != nil {
			t.Error(err)
			return
		}
		resp.Body.Close()
	}
	get(-1) // logged before the follower starts: must not be printed

	var out lockedBuffer
	follow := cco("daemon", "logs", "-f", "-n", "0")
	follow.Stdout = &out
	var stderr bytes.Buffer
	follow.Stderr = &stderr
	if err := follow.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- follow.Wait() }()
	defer func() {
		if follow.ProcessState == nil {
			follow.Process.Kill()
			<-exited
		}
	}()
	testhost.Eventually(t, "the follower to open daemon.log", func() bool {
		fds, _ := filepath.Glob(fmt.Sprintf("/proc/%d/fd/*", follow.Process.Pid))
		for _, fd := range fds {
			if target, _ := os.Readlink(fd); target == paths.LogFile() {
				return true
			}
		}
		return false
	})

	const n, clients = 10_000, 4
	send := func(from, to int) {
		var wg sync.WaitGroup
		for c := range clients {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := from + c; i < to; i += clients {
					get(i)
				}
			}()
		}
		wg.Wait()
	}
	// caughtUp waits for the follower to print k request lines; it does not
	// fail the test, so that what is missing is counted below.
	caughtUp := func(k int) {
		for deadline := time.Now().Add(testhost.EventuallyWithin); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
			if strings.Count(out.String(), "path=/e2e/") >= k {
				return
			}
		}
	}
	send(0, n/2)
	// A file moved aside before the follower opened it is not found by
	// any name the follower knows: logrotate's move comes once it has.
	caughtUp(n / 2)
	if err := os.Rename(paths.LogFile(), paths.LogFile()+"-logrotate"); err != nil {
		t.Fatal(err)
	}
	send(n/2, n/2+100) // into the moved file until the daemon reopens
	if err := syscall.Kill(pid, syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	send(n/2+100, n)
	// Every request is logged before it is answered: wait for the follower
	// to print as many lines as were sent, or time out and count.
	caughtUp(n)
	follow.Process.Signal(syscall.SIGINT)
	if err := <-exited; err != nil {
		t.Errorf("logs -f exited with %v: %s", err, stderr.String())
	}

	seen := make([]int, n)
	var problems []string
	for _, m := range e2eLine.FindAllStringSubmatch(out.String(), -1) {
		i, _ := strconv.Atoi(m[1])
		if i < 0 || i >= n {
			problems = append(problems, fmt.Sprintf("a line logged before the follower started: /e2e/%d", i))
			continue
		}
		seen[i]++
	}
	missing, twice := 0, 0
	for _, c := range seen {
		if c == 0 {
			missing++
		}
		if c > 1 {
			twice++
		}
	}
	if missing > 0 || twice > 0 || len(problems) > 0 {
		t.Errorf("of %d request lines, %d missing and %d printed more than once; %s", n, missing, twice, strings.Join(problems, "; "))
	}
	rotated, _ := config.RotatedLogs(paths.LogFile())
	if len(rotated) < 100 {
		t.Errorf("%d rotations: want hundreds", len(rotated))
	}
}
