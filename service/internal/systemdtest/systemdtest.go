//go:build linux

// Package systemdtest runs a private, real systemd user manager for tests,
// as root, in its own mount namespace and its own cgroup, so that it never
// touches the machine's own systemd or other processes.
//
// Without root or one of its tools it skips, saying what is missing; with
// CI=true it fails instead, since CI must run these tests.
package systemdtest

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The cgroup hierarchies this harness knows: the hybrid layout of the
// machines it was written on (v1 controllers, name=systemd, and cgroup2 at
// unified).
var cgroupRoots = []string{"/sys/fs/cgroup/systemd", "/sys/fs/cgroup/unified"}

const systemdBinary = "/lib/systemd/systemd"

// Manager is a running private systemd --user.
type Manager struct {
	t testing.TB
	// Home is the user's HOME; Runtime is XDG_RUNTIME_DIR.
	Home, Runtime string
	cgroup        string // the cgroup's name under each root
	cmd           *exec.Cmd
	exited        chan struct{}
	log           *os.File // the manager's stderr, which services share
}

// Missing fails the test under CI=true and skips it elsewhere: a test that
// lacks its tool must not pass silently in CI.
func Missing(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s (CI=true: a missing tool is a failure)", msg)
	}
	t.Skipf("skipped: %s", msg)
}

// Start starts a manager with a new HOME and runtime directory under a
// temporary directory, and stops it when the test ends.
func Start(t testing.TB) *Manager {
	t.Helper()
	if os.Getuid() != 0 {
		Missing(t, "a private systemd user manager needs root (unshare, mount, cgroups)")
	}
	for _, tool := range []string{systemdBinary, "unshare", "systemctl", "mount"} {
		if _, err := exec.LookPath(tool); err != nil {
			Missing(t, "%s not found: install systemd and util-linux (apt-get install systemd)", tool)
		}
	}
	for _, root := range cgroupRoots {
		if _, err := os.Stat(filepath.Join(root, "cgroup.procs")); err != nil {
			t.Fatalf("cgroup layout differs from the one this harness knows (%s missing; have: %s): refusing to start a systemd that could take over the machine's processes",
				root, lsCgroup())
		}
	}
	base := t.TempDir()
	m := &Manager{
		t:       t,
		Home:    filepath.Join(base, "home"),
		Runtime: filepath.Join(base, "run"),
		cgroup:  fmt.Sprintf("cco-test-%d-%d", os.Getpid(), time.Now().UnixNano()),
	}
	if err := os.MkdirAll(filepath.Join(m.Home, ".config", "systemd", "user"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(m.Runtime, 0o700); err != nil {
		t.Fatal(err)
	}
	log, err := os.Create(filepath.Join(base, "manager.log"))
	if err != nil {
		t.Fatal(err)
	}
	m.log = log
	t.Cleanup(func() {
		m.Stop()
		log.Close()
		if t.Failed() {
			b, _ := os.ReadFile(log.Name())
			t.Logf("systemd --user said:\n%s", tail(b, 60))
		}
	})
	m.Boot()
	return m
}

func lsCgroup() string {
	ents, _ := os.ReadDir("/sys/fs/cgroup")
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return strings.Join(names, " ")
}

func tail(b []byte, n int) string {
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// Env is the environment of a client of this manager (systemctl, cco).
func (m *Manager) Env() []string {
	return []string{
		"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		"HOME=" + m.Home,
		"XDG_RUNTIME_DIR=" + m.Runtime,
		"USER=root",
		"LANG=C.UTF-8",
	}
}

// Boot starts the manager (again, after Stop: a reboot of the user's
// session keeps HOME and what is enabled in it) and waits until it answers.
func (m *Manager) Boot() {
	m.t.Helper()
	for _, root := range cgroupRoots {
		if err := os.Mkdir(filepath.Join(root, m.cgroup), 0o755); err != nil {
			m.t.Fatalf("creating the manager's own cgroup: %v", err)
		}
	}
	// The shell moves itself into the cgroup, gives systemd a private
	// /run/systemd (where it must find a "system" directory to believe it
	// may run), then becomes systemd.
	script := fmt.Sprintf(`echo $$ > %[1]s/%[3]s/cgroup.procs && echo $$ > %[2]s/%[3]s/cgroup.procs &&
mount -t tmpfs tmpfs /run/systemd && mkdir /run/systemd/system &&
exec %[4]s --user --default-standard-output=inherit --default-standard-error=inherit`,
		cgroupRoots[0], cgroupRoots[1], m.cgroup, systemdBinary)
	cmd := exec.Command("unshare", "--mount", "--propagation", "private", "--", "/bin/sh", "-c", script)
	cmd.Env = m.Env()
	cmd.Stdout, cmd.Stderr = m.log, m.log
	if err := cmd.Start(); err != nil {
		m.t.Fatalf("starting systemd --user: %v", err)
	}
	m.cmd = cmd
	m.exited = make(chan struct{})
	go func() { cmd.Wait(); close(m.exited) }()

	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := m.Systemctl("show-environment"); err == nil {
			return
		}
		select {
		case <-m.exited:
			b, _ := os.ReadFile(m.log.Name())
			m.t.Fatalf("systemd --user exited at start:\n%s", tail(b, 30))
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			m.t.Fatal("systemd --user did not answer within 10s")
		}
	}
}

// Systemctl runs systemctl --user against this manager.
func (m *Manager) Systemctl(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "systemctl", append([]string{"--user"}, args...)...)
	cmd.Env = m.Env()
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("systemctl --user %s: %v: %s", strings.Join(args, " "), err, errb.String())
	}
	return out.String(), nil
}

// Show returns one property of a unit.
func (m *Manager) Show(unit, prop string) string {
	m.t.Helper()
	out, err := m.Systemctl("show", unit, "--property="+prop, "--value")
	if err != nil {
		m.t.Fatal(err)
	}
	return strings.TrimSpace(out)
}

// ShowInt returns a numeric property of a unit.
func (m *Manager) ShowInt(unit, prop string) int {
	m.t.Helper()
	n, err := strconv.Atoi(m.Show(unit, prop))
	if err != nil {
		m.t.Fatalf("%s %s: %v", unit, prop, err)
	}
	return n
}

// WaitFor polls cond every 10 ms until it holds, failing after d.
func (m *Manager) WaitFor(d time.Duration, what string, cond func() bool) {
	m.t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			m.t.Fatalf("after %v: still not %s", d, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Stop ends the manager as a logout would: `systemctl --user exit` stops
// every service, then the manager exits. Leftover processes of its cgroup
// are killed by pid, and the cgroups are removed, deepest first.
func (m *Manager) Stop() {
	if m.cmd == nil {
		return
	}
	if _, err := m.Systemctl("exit"); err != nil {
		m.t.Logf("%v; killing the manager (pid %d)", err, m.cmd.Process.Pid)
		m.cmd.Process.Signal(syscall.SIGKILL)
	}
	select {
	case <-m.exited:
	case <-time.After(10 * time.Second):
		m.t.Errorf("systemd --user (pid %d) did not exit within 10s of systemctl --user exit; killing it", m.cmd.Process.Pid)
		m.cmd.Process.Signal(syscall.SIGKILL)
		<-m.exited
	}
	m.cmd = nil
	for _, root := range cgroupRoots {
		dir := filepath.Join(root, m.cgroup)
		for _, pid := range pidsUnder(dir) {
			m.t.Errorf("process %d outlived the manager; killing it", pid)
			syscall.Kill(pid, syscall.SIGKILL)
		}
		removeCgroups(m.t, dir)
	}
}

// pidsUnder lists the processes in a cgroup and its descendants.
func pidsUnder(dir string) []int {
	var pids []int
	filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.Name() != "cgroup.procs" {
			return nil
		}
		b, _ := os.ReadFile(path)
		for _, f := range strings.Fields(string(b)) {
			if pid, err := strconv.Atoi(f); err == nil {
				pids = append(pids, pid)
			}
		}
		return nil
	})
	return pids
}

// removeCgroups removes a cgroup and its descendants, deepest first,
// waiting a little for killed processes to leave them.
func removeCgroups(t testing.TB, dir string) {
	var dirs []string
	filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			dirs = append(dirs, path)
		}
		return nil
	})
	for i := len(dirs) - 1; i >= 0; i-- {
		var err error
		for try := 0; try < 100; try++ {
			if err = os.Remove(dirs[i]); err == nil || os.IsNotExist(err) {
				err = nil
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		if err != nil {
			t.Errorf("removing cgroup %s: %v", dirs[i], err)
		}
	}
}
