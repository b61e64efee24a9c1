package protocol

import (
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
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
		{"a zombie", st, Proc{Start: 100, ExeID: "8:42", Zombie: true}, false},
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

// TestOpenFileRefuses: what is not a regular file is refused at once,
// named, and never blocks (a FIFO without a writer would).
func TestOpenFileRefuses(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	sub := filepath.Join(dir, "dir")
	if err := os.Mkdir(sub, 0o700); err != nil {
		t.Fatal(err)
	}
	regular := filepath.Join(dir, "regular")
	if err := os.WriteFile(regular, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link")
	if err := os.Symlink(regular, link); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		path string
		flag int
		what string
	}{
		{fifo, os.O_RDONLY, "a FIFO"},
		{fifo, os.O_WRONLY | os.O_APPEND, "a FIFO"},
		{fifo, os.O_RDWR | os.O_CREATE, "a FIFO"},
		{sock, os.O_RDONLY, "a socket"},
		{sock, os.O_RDWR | os.O_CREATE, "a socket"},
		{sub, os.O_RDONLY, "a directory"},
		{sub, os.O_RDWR | os.O_CREATE, "a directory"},
		{link, os.O_RDONLY, "a symbolic link"},
		{link, os.O_RDWR | os.O_CREATE, "a symbolic link"},
	} {
		f, err := OpenFile(c.path, c.flag, 0o600)
		var nr *NotRegularError
		if !errors.As(err, &nr) || nr.What != c.what || !strings.Contains(err.Error(), c.path) {
			t.Errorf("OpenFile(%s, %#x) = %v, want %s named", filepath.Base(c.path), c.flag, err, c.what)
		}
		if f != nil {
			f.Close()
		}
	}
	f, err := OpenFile(regular, os.O_RDONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
}

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

// TestOpenFileTightens: a file opened for writing ends up 0600 whatever its
// mode was; one opened for reading is left as it is.
func TestOpenFileTightens(t *testing.T) {
	path := filepath.Join(t.TempDir(), "daemon.lock")
	if err := os.WriteFile(path, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		flag int
		want os.FileMode
	}{{os.O_RDONLY, 0o644}, {os.O_RDWR | os.O_CREATE, 0o600}} {
		f, err := OpenFile(path, c.flag, 0o600)
		if err != nil {
			t.Fatal(err)
		}
		f.Close()
		if fi, _ := os.Stat(path); fi.Mode().Perm() != c.want {
			t.Errorf("after OpenFile(%#x): mode %v, want %v", c.flag, fi.Mode().Perm(), c.want)
		}
	}
}

// TestOpenFileRefusesAnotherUsersFile needs root, to give a file away.
func TestOpenFileRefusesAnotherUsersFile(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to make a file of another user")
	}
	path := filepath.Join(t.TempDir(), "daemon.pid")
	if err := os.WriteFile(path, []byte("{}"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(path, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	f, err := OpenFile(path, os.O_RDONLY, 0)
	if err == nil || !strings.Contains(err.Error(), "belongs to uid 65534") {
		t.Fatalf("OpenFile of another user's file: %v", err)
	}
	if f != nil {
		f.Close()
	}
}
