// Package testhost is what tests need of this machine: a free loopback
// port, and the processes that run with one CCO_HOME, so that a test can
// prove it left none behind and end, by pid, only what it started. The
// process finder reads /proc (Linux).
package testhost

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/anthropics/cco/config"
	"github.com/anthropics/cco/protocol"
)

// FreePort returns a loopback port that nobody listened on a moment ago.
func FreePort(t interface{ Fatal(...any) }) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// Ours reports whether pid is a live (not zombie) process whose
// environment has CCO_HOME=home.
func Ours(pid int, home string) bool {
	env, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
	if err != nil {
		return false
	}
	if !protocol.Alive(pid) {
		return false
	}
	return bytes.Contains(append([]byte{0}, env...), []byte("\x00CCO_HOME="+home+"\x00"))
}

// Of lists the live processes, other than this one, with CCO_HOME=home.
func Of(home string) []int {
	ents, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err == nil && pid != os.Getpid() && Ours(pid, home) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// ErrHung says a command ran out of its time.
var ErrHung = errors.New("hung")

// Run runs argv with env, at most for timeout, and returns its combined
// output and exit code. The error is set only when the command could not
// run or ran out of time (ErrHung); a non-zero exit is not an error.
func Run(timeout time.Duration, env []string, argv ...string) ([]byte, int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		return out, -1, fmt.Errorf("%s after %v: %w", argv[0], timeout, ErrHung)
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return out, ee.ExitCode(), nil
	}
	if err != nil {
		return out, -1, err
	}
	return out, 0, nil
}

// Left waits up to d for the processes with CCO_HOME=home to go, and
// returns those still there.
func Left(home string, d time.Duration) []int {
	deadline := time.Now().Add(d)
	for len(Of(home)) > 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	return Of(home)
}

// statePID finds the pid in a state file's JSON.
var statePID = regexp.MustCompile(`"pid":\s*(\d+)`)

// DaemonPID returns the pid that home's state file names when that process
// is provably one of this test's (Ours), else an error saying why not.
func DaemonPID(home string) (int, error) {
	b, err := os.ReadFile(config.Paths{Home: home}.PIDFile())
	if err != nil {
		return 0, err
	}
	m := statePID.FindSubmatch(b)
	if m == nil {
		return 0, fmt.Errorf("no pid in the state file: %s", b)
	}
	pid, _ := strconv.Atoi(string(m[1]))
	if pid <= 1 || !Ours(pid, home) {
		return 0, fmt.Errorf("pid %d of the state file is not a process of %s", pid, home)
	}
	return pid, nil
}

// WriteExecutable makes path an executable file (a shell script that does
// nothing), creating its directories: a stand-in for a binary that must only
// exist.
func WriteExecutable(t testing.TB, path string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
}
