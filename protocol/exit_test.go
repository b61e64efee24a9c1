package protocol_test

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"

	. "github.com/anthropics/cco/protocol"
)

// holdLockEnv makes the test binary a lock holder (see TestMain): it takes
// the lock at the path the variable names, says so, and waits to be killed.
const holdLockEnv = "CCO_PROTOCOL_TEST_HOLD_LOCK"

func TestMain(m *testing.M) {
	if path := os.Getenv(holdLockEnv); path != "" {
		if _, err := AcquireLock(path); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		fmt.Println("locked")
		bufio.NewReader(os.Stdin).ReadString('\n') // until the test ends
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestKilledHolderIsExitingOnceUnlocked: the kernel drops a killed
// process's lock before its pid shows as a zombie. Whoever sees the lock
// free must also see its last holder as exiting, or it takes a dying
// daemon, its state file still in place, for a live one whose lock file was
// removed under it. Repeated, since the window is narrow.
func TestKilledHolderIsExitingOnceUnlocked(t *testing.T) {
	lock := filepath.Join(t.TempDir(), "daemon.lock")
	for round := 0; round < 300; round++ {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), holdLockEnv+"="+lock)
		stdin, err := cmd.StdinPipe()
		if err != nil {
			t.Fatal(err)
		}
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		pid := cmd.Process.Pid
		if line, err := bufio.NewReader(out).ReadString('\n'); err != nil || line != "locked\n" {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("the holder said %q, %v", line, err)
		}
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		// Not reaped until the loop ends: the pid stays this process.
		for {
			holder, err := LockHolder(lock)
			if err != nil {
				t.Fatal(err)
			}
			if holder != 0 {
				continue
			}
			if p, err := ProcInfo(pid); err == nil && !p.Exiting {
				t.Errorf("round %d: the lock is free, but its killed holder (pid %d) shows as running", round, pid)
			}
			break
		}
		stdin.Close()
		cmd.Wait()
		if t.Failed() {
			return
		}
	}
}
