package protocol

import (
	"errors"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

func TestDescribes(t *testing.T) {
	st := &State{PID: 7, ProcStart: 100, Executable: "/usr/bin/cco", ExecutableID: "8:42"}
	for _, c := range []struct {
		name string
		st   *State
		p    Proc
		want bool
	}{
		{"all agree", st, Proc{Start: 100, Exe: "/usr/bin/cco", ExeID: "8:42"}, true},
		{"binary moved: same file", st, Proc{Start: 100, Exe: "/opt/cco", ExeID: "8:42"}, true},
		{"another start time: a reused pid", st, Proc{Start: 101, Exe: "/usr/bin/cco", ExeID: "8:42"}, false},
		{"another executable", st, Proc{Start: 100, Exe: "/usr/bin/cco", ExeID: "8:43"}, false},
		{"a zombie", st, Proc{Start: 100, ExeID: "8:42", Exiting: true}, false},
		{"old state file: path, replaced binary", &State{ProcStart: 100, Executable: "/usr/bin/cco"}, Proc{Start: 100, Exe: "/usr/bin/cco"}, true},
		{"old state file: another path", &State{ProcStart: 100, Executable: "/usr/bin/cco"}, Proc{Start: 100, Exe: "/usr/bin/python3"}, false},
		{"macOS: no executable told", &State{ProcStart: 100, Executable: "/usr/bin/cco"}, Proc{Start: 100}, true},
	} {
		if got := c.st.Describes(c.p); got != c.want {
			t.Errorf("%s: Describes = %v, want %v", c.name, got, c.want)
		}
	}
}

// TestSelfDescribed: the state this process would write describes it, and
// its executable's file identity is told (Linux).
func TestSelfDescribed(t *testing.T) {
	self, err := Self()
	if err != nil {
		t.Fatal(err)
	}
	exe, _ := os.Executable()
	st := &State{PID: os.Getpid(), ProcStart: self.Start, Executable: exe, ExecutableID: self.ExeID}
	if !st.Describes(self) {
		t.Fatalf("%+v does not describe %+v", st, self)
	}
	if self.ExeID == "" && isLinux() {
		t.Fatal("no executable id on Linux")
	}
}

func isLinux() bool { _, err := os.Stat("/proc/self/exe"); return err == nil }

// TestSignalOnlyTheProcessDescribed: a signal reaches pid only while it is
// the process described (its start time); another is told ESRCH.
func TestSignalOnlyTheProcessDescribed(t *testing.T) {
	cmd := exec.Command("sleep", "300")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	defer cmd.Process.Kill()
	pid := cmd.Process.Pid
	p, err := ProcInfo(pid)
	if err != nil {
		t.Fatal(err)
	}
	other := p
	other.Start++
	if err := Signal(pid, other, syscall.SIGKILL); !errors.Is(err, unix.ESRCH) {
		t.Fatalf("Signal to a process started at another time: %v, want ESRCH", err)
	}
	if !Alive(pid) {
		t.Fatal("the process was signalled")
	}
	if err := Signal(pid, p, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err == nil || !strings.Contains(err.Error(), "killed") {
		t.Fatalf("sleep ended with %v, want killed", err)
	}
}
