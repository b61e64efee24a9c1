package supervisor_test

import (
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/anthropics/cco/config"
	"github.com/anthropics/cco/internal/testhost"
	"github.com/anthropics/cco/protocol"
)

// TestScripts runs testdata/script/*.txtar: the supervisor as a user meets
// it, against the real binary, with a temporary HOME and CCO_HOME and a free
// loopback port in $PORT. Every process of that CCO_HOME is killed, by pid,
// at the end.
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir: "testdata/script",
		Setup: func(env *testscript.Env) error {
			home := filepath.Join(env.WorkDir, "home")
			ccoHome := filepath.Join(home, ".cco")
			bin := testhost.CCO(env.T())
			env.Setenv("PATH", filepath.Dir(bin)+string(os.PathListSeparator)+env.Getenv("PATH"))
			env.Setenv("HOME", home)
			env.Setenv("CCO_HOME", ccoHome)
			env.Setenv("PORT", strconv.Itoa(testhost.FreePort(env.T())))
			env.Defer(func() {
				for _, pid := range testhost.Of(ccoHome) {
					syscall.Kill(pid, syscall.SIGKILL)
				}
			})
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"kill9":   cmdKill9,
			"serving": cmdServing,
			"gone":    cmdGone,
			"takeport": func(ts *testscript.TestScript, neg bool, args []string) {
				ln := takePort(ts, config.Paths{Home: ts.Getenv("CCO_HOME")}, mustAtoi(ts, ts.Getenv("PORT")))
				ts.Defer(func() { ln.Close() })
			},
		},
	})
}

// kill9 daemon|supervisor: SIGKILL the holder of that lock, and wait until
// it is released.
func cmdKill9(ts *testscript.TestScript, neg bool, args []string) {
	paths := config.Paths{Home: ts.Getenv("CCO_HOME")}
	lock := map[string]string{"daemon": paths.LockFile(), "supervisor": paths.SupervisorLockFile()}[args[0]]
	if lock == "" || len(args) != 1 {
		ts.Fatalf("usage: kill9 daemon|supervisor")
	}
	pid, err := protocol.LockHolder(lock)
	ts.Check(err)
	if pid == 0 || !testhost.Ours(pid, paths.Home) {
		ts.Fatalf("no %s of this CCO_HOME holds %s (holder %d)", args[0], lock, pid)
	}
	ts.Check(syscall.Kill(pid, syscall.SIGKILL))
	testhost.Eventually(ts, args[0]+"'s lock released", func() bool {
		holder, _ := protocol.LockHolder(lock)
		return holder != pid
	})
}

// serving: wait until a daemon holds the lock and has written its state
// file (after a restart).
func cmdServing(ts *testscript.TestScript, neg bool, args []string) {
	paths := config.Paths{Home: ts.Getenv("CCO_HOME")}
	testhost.Eventually(ts, "a daemon serving", func() bool {
		holder, _ := protocol.LockHolder(paths.LockFile())
		st, err := protocol.ReadState(paths.PIDFile())
		return holder != 0 && err == nil && st.PID == holder
	})
}

// gone: wait until no process of this CCO_HOME is left.
func cmdGone(ts *testscript.TestScript, neg bool, args []string) {
	if left := testhost.Left(ts.Getenv("CCO_HOME"), testhost.EventuallyWithin); len(left) > 0 {
		ts.Fatalf("processes left: %v", left)
	}
}

func mustAtoi(ts *testscript.TestScript, s string) int {
	n, err := strconv.Atoi(s)
	ts.Check(err)
	return n
}
