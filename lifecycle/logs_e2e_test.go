package lifecycle_test

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/anthropics/cco/config"
	"github.com/anthropics/cco/internal/testhost"
	"github.com/creack/pty"
)

// logsHome is a HOME and CCO_HOME for the real cco, and its environment.
func logsHome(t *testing.T) (config.Paths, []string) {
	home := t.TempDir()
	paths := config.Paths{Home: filepath.Join(home, ".cco")}
	return paths, append(os.Environ(), "HOME="+home, "CCO_HOME="+paths.Home, "NO_COLOR=")
}

// writeLogLines writes n records to the log at path.
func writeLogLines(t *testing.T, path string, n int) {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "time=2026-11-25T10:00:00.000Z level=INFO msg=line seq=%d\n", i)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestLogsPipeToHead: `cco daemon logs | head -2` through a real pipe ends
// at once, cco with exit 0 and nothing on stderr, whether cco is blocked
// writing (a log larger than the pipe holds), or idle following with
// everything written (it must notice the reader is gone without writing).
func TestLogsPipeToHead(t *testing.T) {
	bin := testhost.CCO(t)
	for _, tc := range []struct {
		name  string
		lines int
		args  string
	}{
		{"blocked writing", 100_000, "-n 100000"},
		{"idle following", 5, "-f"},
		{"blocked writing while following", 100_000, "-f -n 100000"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			paths, env := logsHome(t)
			writeLogLines(t, paths.LogFile(), tc.lines)
			// pipefail: the pipeline's status is cco's; stderr is kept
			// apart to see that cco says nothing.
			script := fmt.Sprintf("set -o pipefail; %q daemon logs %s 2>%q | head -2", bin, tc.args, filepath.Join(paths.Home, "stderr"))
			out, code, err := testhost.Run(testhost.EventuallyWithin, env, "bash", "-c", script)
			if err != nil {
				t.Fatalf("%v: %s", err, out)
			}
			if code != 0 {
				t.Errorf("exit %d, want 0 (141: killed by SIGPIPE): %s", code, out)
			}
			if want := "time=2026-11-25T10:00:00.000Z level=INFO msg=line seq="; strings.Count(string(out), want) != 2 {
				t.Errorf("head printed %q", out)
			}
			if stderr, _ := os.ReadFile(filepath.Join(paths.Home, "stderr")); len(stderr) > 0 {
				t.Errorf("stderr: %s", stderr)
			}
		})
	}
}

// startFollower starts `cco daemon logs -f` and args with stdout and stderr in
// buffers; the test ends it.
func startFollower(t *testing.T, env []string, args ...string) (*exec.Cmd, *lockedBuffer, *lockedBuffer, <-chan error) {
	cmd := exec.Command(testhost.CCO(t), append([]string{"daemon", "logs", "-f"}, args...)...)
	cmd.Env = env
	var stdout, stderr lockedBuffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			<-exited
		}
	})
	return cmd, &stdout, &stderr, exited
}

// waitExit waits, bounded, for the follower to exit, and fails unless it
// exits 0.
func waitExit(t *testing.T, exited <-chan error, stderr *lockedBuffer) {
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("logs -f: %v: %s", err, stderr.String())
		}
	case <-time.After(testhost.EventuallyWithin):
		t.Fatalf("logs -f still runs %v after SIGINT", testhost.EventuallyWithin)
	}
}

// TestLogsFollowWaitsForLog: `logs -f` before the daemon ever ran (no
// CCO_HOME at all) says once that it waits, then prints the log from its
// first line when it appears, and a line appended later; Ctrl-C ends it
// with exit 0.
func TestLogsFollowWaitsForLog(t *testing.T) {
	paths, env := logsHome(t)
	cmd, stdout, stderr, exited := startFollower(t, env)
	testhost.Eventually(t, "logs -f to say it waits", func() bool {
		return strings.Contains(stderr.String(), "waiting for "+paths.LogFile()+" to appear")
	})
	writeLogLines(t, paths.LogFile(), 3)
	testhost.Eventually(t, "the follower to print the new log", func() bool { return strings.Count(stdout.String(), "\n") == 3 })
	f, err := os.OpenFile(paths.LogFile(), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintln(f, "time=2026-11-25T10:00:01.000Z level=WARN msg=later")
	f.Close()
	testhost.Eventually(t, "the follower to print the appended line", func() bool { return strings.Contains(stdout.String(), "msg=later\n") })
	cmd.Process.Signal(syscall.SIGINT)
	waitExit(t, exited, stderr)
	if got := stdout.String(); !strings.HasPrefix(got, "time=2026-11-25T10:00:00.000Z level=INFO msg=line seq=0\n") || strings.Count(got, "\n") != 4 {
		t.Errorf("printed:\n%s", got)
	}
	if n := strings.Count(stderr.String(), "waiting for"); n != 1 {
		t.Errorf("said it waits %d times: %s", n, stderr.String())
	}
}

// TestLogsFollowWaitingInterrupted: Ctrl-C ends a follower still waiting
// for the log, with exit 0.
func TestLogsFollowWaitingInterrupted(t *testing.T) {
	paths, env := logsHome(t)
	cmd, _, stderr, exited := startFollower(t, env)
	testhost.Eventually(t, "logs -f to say it waits", func() bool {
		return strings.Contains(stderr.String(), "waiting for "+paths.LogFile())
	})
	cmd.Process.Signal(syscall.SIGINT)
	waitExit(t, exited, stderr)
}

// TestLogsFollowLevel: the follower keeps --level for the lines it
// follows, continuation lines with their record.
func TestLogsFollowLevel(t *testing.T) {
	paths, env := logsHome(t)
	writeLogLines(t, paths.LogFile(), 3)
	cmd, stdout, stderr, exited := startFollower(t, env, "--level", "warn")
	testhost.Eventually(t, "the follower to open daemon.log", func() bool {
		fds, _ := filepath.Glob(fmt.Sprintf("/proc/%d/fd/*", cmd.Process.Pid))
		for _, fd := range fds {
			if target, _ := os.Readlink(fd); target == paths.LogFile() {
				return true
			}
		}
		return false
	})
	f, err := os.OpenFile(paths.LogFile(), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprint(f, "dump of info\ntime=2026-11-25T10:00:01.000Z level=ERROR msg=bad\ndump of error\ntime=2026-11-25T10:00:02.000Z level=DEBUG msg=quiet\nmore\ntime=2026-11-25T10:00:03.000Z level=WARN msg=end\n")
	f.Close()
	testhost.Eventually(t, "the follower to print msg=end", func() bool { return strings.Contains(stdout.String(), "msg=end") })
	cmd.Process.Signal(syscall.SIGINT)
	waitExit(t, exited, stderr)
	want := "time=2026-11-25T10:00:01.000Z level=ERROR msg=bad\ndump of error\ntime=2026-11-25T10:00:03.000Z level=WARN msg=end\n"
	if got := stdout.String(); got != want {
		t.Errorf("printed:\n%s\nwant:\n%s", got, want)
	}
}

// TestLogsColour: on a terminal WARN lines are yellow and ERROR lines red,
// a crash dump's lines with their record; NO_COLOR and a pipe turn colour
// off.
func TestLogsColour(t *testing.T) {
	paths, env := logsHome(t)
	if err := os.MkdirAll(paths.Home, 0o700); err != nil {
		t.Fatal(err)
	}
	log := "time=2026-11-25T10:00:00.000Z level=INFO msg=a\n" +
		"time=2026-11-25T10:00:01.000Z level=WARN msg=b\n" +
		"time=2026-11-25T10:00:02.000Z level=ERROR msg=c\n" +
		"panic: boom\n"
	if err := os.WriteFile(paths.LogFile(), []byte(log), 0o600); err != nil {
		t.Fatal(err)
	}
	run := func(env []string, tty bool) string {
		cmd := exec.Command(testhost.CCO(t), "daemon", "logs")
		cmd.Env = append(env, "TERM=xterm")
		if !tty {
			out, err := cmd.Output()
			if err != nil {
				t.Fatal(err)
			}
			return string(out)
		}
		f, err := pty.Start(cmd)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		out, _ := io.ReadAll(f) // EIO once cco has exited and closed the terminal
		if err := cmd.Wait(); err != nil {
			t.Fatal(err)
		}
		return strings.ReplaceAll(string(out), "\r\n", "\n")
	}
	want := "time=2026-11-25T10:00:00.000Z level=INFO msg=a\n" +
		"\x1b[33mtime=2026-11-25T10:00:01.000Z level=WARN msg=b\x1b[0m\n" +
		"\x1b[31mtime=2026-11-25T10:00:02.000Z level=ERROR msg=c\x1b[0m\n" +
		"\x1b[31mpanic: boom\x1b[0m\n"
	if got := run(env, true); got != want {
		t.Errorf("on a terminal:\n%q\nwant\n%q", got, want)
	}
	if got := run(append(env, "NO_COLOR=1"), true); got != log {
		t.Errorf("with NO_COLOR:\n%q", got)
	}
	if got := run(env, false); got != log {
		t.Errorf("in a pipe:\n%q", got)
	}
}
