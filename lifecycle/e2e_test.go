package lifecycle_test

import (
	"context"
	"fmt"
	"net"
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

	"github.com/anthropics/cco/internal/ccusage"
	"github.com/anthropics/cco/internal/testhost"
	"github.com/anthropics/cco/internal/tooltest"
	"github.com/anthropics/cco/internal/transcripts"
	"github.com/anthropics/cco/protocol"
	"golang.org/x/sys/unix"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/anthropics/cco/config"
)

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){"lockfile": lockFile})
}

// lockFile is the script command `lockfile posix|flock PATH`: a process
// that is not the daemon and locks PATH (a POSIX record lock, as the daemon
// takes, or a flock), then waits to be killed.
func lockFile() {
	f, err := os.OpenFile(os.Args[2], os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if os.Args[1] == "flock" {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX)
	} else {
		err = syscall.FcntlFlock(f.Fd(), syscall.F_SETLKW, &syscall.Flock_t{Type: syscall.F_WRLCK})
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	select {}
}

// TestScripts runs testdata/script/*.txtar against the real binary, with a
// temporary HOME and CCO_HOME and a free loopback port in $PORT. Whatever
// daemon a script leaves holding the lock is killed at the end, by pid.
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir: "testdata/script",
		Setup: func(env *testscript.Env) error {
			home := filepath.Join(env.WorkDir, "home")
			ccoHome := filepath.Join(home, ".cco")
			bin := testhost.CCO(env.T())
			env.Setenv("CCO_BIN", bin)
			env.Setenv("PATH", filepath.Dir(bin)+string(os.PathListSeparator)+env.Getenv("PATH"))
			env.Setenv("HOME", home)
			env.Setenv("CCO_HOME", ccoHome)
			env.Setenv("PORT", strconv.Itoa(testhost.FreePort(env.T())))
			env.Setenv("PORT2", strconv.Itoa(testhost.FreePort(env.T())))
			env.Defer(func() { killDaemon(ccoHome) })
			return nil
		},
		Condition: func(cond string) (bool, error) {
			// [ccusage], [systemctl]: the real tool is here; in CI it
			// must be.
			var err error
			switch cond {
			case "ccusage":
				_, err = ccusage.Find()
			case "systemctl":
				_, err = exec.LookPath("systemctl")
			default:
				return false, fmt.Errorf("unknown condition %q", cond)
			}
			if err != nil && tooltest.InCI() {
				return false, err
			}
			return err == nil, nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"daemon":      cmdDaemon,
			"spawnsleep":  cmdSpawnSleep,
			"alive":       cmdAlive,
			"forgestate":  cmdForgeState,
			"holdport":    cmdHoldPort,
			"waitlog":     cmdWaitLog,
			"waitreader":  cmdWaitReader,
			"holdflock":   cmdHoldFlock,
			"cmpmode":     testhost.CmpMode,
			"transcripts": cmdTranscripts,
			"ccusage":     cmdCCUsage,
			"sameusage":   cmdSameUsage,
			"waitlocked":  cmdWaitLocked,
			"mksock":      cmdMksock,
			"notifysock":  cmdNotifySock,
			"slate":       cmdSlate,
		},
	})
}

// killDaemon kills the process holding the daemon lock of ccoHome, if any.
func killDaemon(ccoHome string) {
	if pid, _ := protocol.LockHolder(config.Paths{Home: ccoHome}.LockFile()); pid > 0 {
		syscall.Kill(pid, syscall.SIGKILL)
	}
}

// daemon count N: N processes hold the lock (0 or 1).
// daemon pid VAR: put the lock holder's pid in $VAR.
// daemon signal SIG: send SIG (HUP, KILL, QUIT, STOP, CONT) to the lock
// holder; for STOP wait until it is stopped, for KILL and QUIT until the
// lock is free.
func cmdDaemon(ts *testscript.TestScript, neg bool, args []string) {
	lock := config.Paths{Home: ts.Getenv("CCO_HOME")}.LockFile()
	pid, err := protocol.LockHolder(lock)
	ts.Check(err)
	switch {
	case len(args) == 2 && args[0] == "count":
		n := 0
		if pid != 0 {
			n = 1
		}
		if (strconv.Itoa(n) == args[1]) == neg {
			ts.Fatalf("%d daemons hold %s", n, lock)
		}
	case len(args) == 2 && args[0] == "pid":
		if pid == 0 {
			ts.Fatalf("no daemon holds %s", lock)
		}
		ts.Setenv(args[1], strconv.Itoa(pid))
	case len(args) == 2 && args[0] == "signal":
		if pid == 0 {
			ts.Fatalf("no daemon holds %s", lock)
		}
		sig := map[string]syscall.Signal{
			"HUP": syscall.SIGHUP, "TERM": syscall.SIGTERM, "KILL": syscall.SIGKILL, "QUIT": syscall.SIGQUIT,
			"STOP": syscall.SIGSTOP, "CONT": syscall.SIGCONT,
		}[args[1]]
		if sig == 0 {
			ts.Fatalf("unknown signal %s", args[1])
		}
		ts.Check(syscall.Kill(pid, sig))
		if sig == syscall.SIGSTOP {
			// kill(2) returns before every thread has stopped.
			testhost.Eventually(ts, "the daemon is stopped", func() bool {
				data, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
				return regexp.MustCompile(`\) [Tt] `).Match(data)
			})
		}
		if sig == syscall.SIGKILL || sig == syscall.SIGQUIT {
			// The kernel tears a killed process down thread by thread: wait
			// until it is gone (a zombie at most) and its lock is free.
			testhost.Eventually(ts, "the daemon gone and the lock free", func() bool {
				p, _ := protocol.LockHolder(lock)
				return p == 0 && !protocol.Alive(pid)
			})
		}
	default:
		ts.Fatalf("usage: daemon count N | daemon pid VAR | daemon signal SIG")
	}
}

// spawnsleep VAR: start `sleep 300`, an unrelated process, and put its pid
// in $VAR. It is killed when the script ends.
func cmdSpawnSleep(ts *testscript.TestScript, neg bool, args []string) {
	cmd := exec.Command("sleep", "300")
	ts.Check(cmd.Start())
	ts.Defer(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	ts.Setenv(args[0], strconv.Itoa(cmd.Process.Pid))
}

// alive PID: the process runs (and is not a zombie).
func cmdAlive(ts *testscript.TestScript, neg bool, args []string) {
	pid, err := strconv.Atoi(args[0])
	ts.Check(err)
	alive := protocol.Alive(pid)
	if alive == neg {
		ts.Fatalf("process %d alive: %v", pid, alive)
	}
}

// forgestate [-start] PID: write a state file naming PID, as a crashed
// daemon whose pid was reused would leave; with -start, with PID's real
// kernel start time (only the executable, cco's, is wrong).
func cmdForgeState(ts *testscript.TestScript, neg bool, args []string) {
	realStart := len(args) == 2 && args[0] == "-start"
	pid, err := strconv.Atoi(args[len(args)-1])
	ts.Check(err)
	var start uint64 = 1
	if realStart {
		p, err := protocol.ProcInfo(pid)
		ts.Check(err)
		start = p.Start
	}
	paths := config.Paths{Home: ts.Getenv("CCO_HOME")}
	ts.Check(paths.Ensure())
	ts.Check(protocol.WriteState(paths.PIDFile(), &protocol.State{
		PID: pid, StartedAt: time.Now(), Host: "127.0.0.1", Port: 1, Version: "dev",
		Executable: ts.Getenv("CCO_BIN"), ProcStart: start,
	}))
}

// holdport: listen on 127.0.0.1:$PORT until the script ends.
func cmdHoldPort(ts *testscript.TestScript, neg bool, args []string) {
	ln, err := net.Listen("tcp", "127.0.0.1:"+ts.Getenv("PORT"))
	ts.Check(err)
	ts.Defer(func() { ln.Close() })
}

// waitlog REGEXP: wait up to 5 s for a line of daemon.log to match.
func cmdWaitLog(ts *testscript.TestScript, neg bool, args []string) {
	re := regexp.MustCompile("(?m)" + args[0])
	path := config.Paths{Home: ts.Getenv("CCO_HOME")}.LogFile()
	testhost.Eventually(ts, fmt.Sprintf("daemon.log to match %q", args[0]), func() bool {
		data, _ := os.ReadFile(path)
		return re.Match(data)
	})
}

// waitreader: wait up to 5 s for a process other than the daemon to hold
// daemon.log open and to watch its directory (Linux): `logs --follow` has
// read what it shows of the past and is following from there. Holding the
// file open is not enough: a line written before the reader settled where
// to start would be the past to it.
func cmdWaitReader(ts *testscript.TestScript, neg bool, args []string) {
	home := ts.Getenv("CCO_HOME")
	logPath := config.Paths{Home: home}.LogFile()
	daemon, _ := protocol.LockHolder(config.Paths{Home: home}.LockFile())
	testhost.Eventually(ts, "a reader of daemon.log that follows it", func() bool {
		links, _ := filepath.Glob("/proc/[0-9]*/fd/*")
		reads, watches := map[int]bool{}, map[int]bool{}
		for _, l := range links {
			pid, _ := strconv.Atoi(strings.Split(l, "/")[2])
			switch target, _ := os.Readlink(l); {
			case pid == daemon:
			case target == logPath:
				reads[pid] = true
			case target == "anon_inode:inotify":
				watches[pid] = true
			}
		}
		for pid := range reads {
			if watches[pid] {
				return true
			}
		}
		return false
	})
}

// waitlocked posix|flock PATH [VAR]: wait until a process holds a lock of
// that kind on PATH; put the holder of a posix lock in $VAR.
func cmdWaitLocked(ts *testscript.TestScript, neg bool, args []string) {
	path := ts.MkAbs(args[1])
	testhost.Eventually(ts, args[0]+" lock on "+path, func() bool {
		if args[0] == "posix" {
			pid, _ := protocol.LockHolder(path)
			if pid > 0 && len(args) == 3 {
				ts.Setenv(args[2], strconv.Itoa(pid))
			}
			return pid != 0
		}
		f, err := os.Open(path)
		if err != nil {
			return false
		}
		defer f.Close()
		return syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) != nil
	})
}

// mksock PATH: a unix socket bound at PATH until the script ends.
func cmdMksock(ts *testscript.TestScript, neg bool, args []string) {
	ln, err := net.Listen("unix", ts.MkAbs(args[0]))
	ts.Check(err)
	ts.Defer(func() { ln.Close() })
}

// notifysock: a systemd-style notify socket in $WORK, named by
// NOTIFY_SOCKET (with WATCHDOG_USEC, WATCHDOG_PID and LISTEN_FDS) for the
// commands that follow, as a caller run by systemd has them.
// notifysock quiet: nothing was sent to it.
func cmdNotifySock(ts *testscript.TestScript, neg bool, args []string) {
	path := ts.MkAbs("notify.sock")
	if len(args) == 1 && args[0] == "quiet" {
		c, ok := notifyConns.Load(ts)
		if !ok {
			ts.Fatalf("notifysock quiet before notifysock")
		}
		raw, err := c.(*net.UnixConn).SyscallConn()
		ts.Check(err)
		buf := make([]byte, 4096)
		n := -1
		ts.Check(raw.Read(func(fd uintptr) bool {
			n, _, _ = syscall.Recvfrom(int(fd), buf, syscall.MSG_DONTWAIT)
			return true
		}))
		if n >= 0 {
			ts.Fatalf("the notify socket received %q", buf[:n])
		}
		return
	}
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	ts.Check(err)
	notifyConns.Store(ts, conn)
	ts.Defer(func() { conn.Close(); notifyConns.Delete(ts) })
	ts.Setenv("NOTIFY_SOCKET", path)
	ts.Setenv("WATCHDOG_USEC", "1000000")
	ts.Setenv("WATCHDOG_PID", "1")
	ts.Setenv("LISTEN_FDS", "1")
	ts.Setenv("LISTEN_PID", "1")
}

// notifyConns are the notify sockets of running scripts.
var notifyConns sync.Map // *testscript.TestScript → *net.UnixConn

// slate PATH: the daemon holds no descriptor to PATH (which the caller of
// start had open), its working directory is /, and its environment holds
// none of NOTIFY_SOCKET, WATCHDOG_*, LISTEN_*.
func cmdSlate(ts *testscript.TestScript, neg bool, args []string) {
	pid, err := testhost.DaemonPID(ts.Getenv("CCO_HOME"))
	ts.Check(err)
	marker := ts.MkAbs(args[0])
	links, _ := filepath.Glob(fmt.Sprintf("/proc/%d/fd/*", pid))
	for _, l := range links {
		if target, _ := os.Readlink(l); target == marker {
			ts.Fatalf("the daemon (pid %d) inherited %s as fd %s", pid, marker, filepath.Base(l))
		}
	}
	if cwd, err := os.Readlink(fmt.Sprintf("/proc/%d/cwd", pid)); err != nil || cwd != "/" {
		ts.Fatalf("the daemon's working directory is %q (%v), want /", cwd, err)
	}
	env, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
	ts.Check(err)
	for _, kv := range strings.Split(string(env), "\x00") {
		for _, p := range []string{"NOTIFY_SOCKET=", "WATCHDOG_", "LISTEN_"} {
			if strings.HasPrefix(kv, p) {
				ts.Fatalf("the daemon inherited %s", kv)
			}
		}
	}
}

// transcripts DIR SIZE: generate a Claude Code transcript tree of about
// SIZE (10MiB) in DIR, with every case where cco and ccusage agree; its
// root is DIR/root1.
func cmdTranscripts(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: transcripts DIR SIZE")
	}
	n, err := config.ParseSize(args[1])
	ts.Check(err)
	_, err = transcripts.Generate(ts.MkAbs(args[0]), transcripts.Spec{Seed: 3, Roots: 1, Bytes: n, Cases: transcripts.Agreeing})
	ts.Check(err)
}

// ccusage ROOT REPORT: run the real ccusage's `claude REPORT --json
// --offline --timezone UTC` on the transcripts of ROOT; its output is
// stdout.
func cmdCCUsage(ts *testscript.TestScript, neg bool, args []string) {
	bin, err := ccusage.Find()
	ts.Check(err)
	home := ts.MkAbs("ccusage-home")
	ts.Check(os.MkdirAll(home, 0o700))
	out, err := ccusage.Run(context.Background(), bin, home, []string{ts.MkAbs(args[0])}, args[1])
	ts.Check(err)
	_, err = ts.Stdout().Write(out)
	ts.Check(err)
	ts.Check(os.RemoveAll(home))
}

// sameusage WANT GOT: two usage reports in JSON agree as the ledger must
// agree with ccusage: tokens exactly, costs within 1e-9 relative.
func cmdSameUsage(ts *testscript.TestScript, neg bool, args []string) {
	diffs, err := ccusage.Diff([]byte(ts.ReadFile(args[0])), []byte(ts.ReadFile(args[1])), 10)
	ts.Check(err)
	if (len(diffs) == 0) == neg {
		ts.Fatalf("%s and %s differ:\n%s", args[0], args[1], strings.Join(diffs, "\n"))
	}
}

// holdflock: hold a flock on daemon.lock, as flock(1) would, until the
// script ends. A flock of this process conflicts with the daemon's flock
// (flocks belong to open files, not processes).
func cmdHoldFlock(ts *testscript.TestScript, neg bool, args []string) {
	paths := config.Paths{Home: ts.Getenv("CCO_HOME")}
	ts.Check(paths.Ensure())
	f, err := os.OpenFile(paths.LockFile(), os.O_RDWR|os.O_CREATE, 0o600)
	ts.Check(err)
	ts.Check(unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB))
	ts.Defer(func() { f.Close() })
}
