// Package usermanager runs a private, real systemd user manager, as root,
// in its own mount namespace and its own cgroup, so that it never touches
// the machine's own systemd or other processes: what the service tests and
// the benchmarks start their units under.
package usermanager

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// The cgroup hierarchies this package knows: the hybrid layout of the
// machines it was written on (v1 controllers, name=systemd, and cgroup2 at
// unified).
var cgroupRoots = []string{"/sys/fs/cgroup/systemd", "/sys/fs/cgroup/unified"}

const systemdBinary = "/lib/systemd/systemd"

// ErrMissing marks what this machine lacks to run a manager (root, a
// tool): a test skips on it where CI would fail.
var ErrMissing = errors.New("missing")

// Check says whether a manager can run here: an error wrapping ErrMissing
// when root or a tool is missing, another error when the cgroup layout is
// not the one this package knows (it then refuses to start a systemd that
// could take over the machine's processes).
func Check() error {
	if os.Getuid() != 0 {
		return fmt.Errorf("a private systemd user manager needs root (unshare, mount, cgroups): %w", ErrMissing)
	}
	for _, tool := range []string{systemdBinary, "unshare", "systemctl", "mount"} {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Errorf("%s not found: install systemd and util-linux (apt-get install systemd): %w", tool, ErrMissing)
		}
	}
	for _, root := range cgroupRoots {
		if _, err := os.Stat(filepath.Join(root, "cgroup.procs")); err != nil {
			return fmt.Errorf("the cgroup layout differs from the one this harness knows (%s missing; have: %s): refusing to start a systemd that could take over the machine's processes",
				root, lsCgroup())
		}
	}
	return nil
}

func lsCgroup() string {
	ents, _ := os.ReadDir("/sys/fs/cgroup")
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return strings.Join(names, " ")
}

// Manager is a private systemd --user.
type Manager struct {
	// Home is the user's HOME; Runtime is XDG_RUNTIME_DIR.
	Home, Runtime string
	cgroup        string    // the cgroup's name under each root
	log           io.Writer // the manager's stdout and stderr, which its services share
	cmd           *exec.Cmd
	exited        chan struct{}
}

// New prepares a manager whose HOME and runtime directory are under base;
// Boot starts it.
func New(base string, log io.Writer) (*Manager, error) {
	m := &Manager{
		Home:    filepath.Join(base, "home"),
		Runtime: filepath.Join(base, "run"),
		cgroup:  fmt.Sprintf("cco-test-%d-%d", os.Getpid(), time.Now().UnixNano()),
		log:     log,
	}
	if err := os.MkdirAll(m.UnitDir(), 0o755); err != nil {
		return nil, err
	}
	if err := os.Mkdir(m.Runtime, 0o700); err != nil {
		return nil, err
	}
	return m, nil
}

// UnitDir is where the user's own units go.
func (m *Manager) UnitDir() string { return filepath.Join(m.Home, ".config", "systemd", "user") }

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

// PID is the manager's pid, 0 when it does not run.
func (m *Manager) PID() int {
	if m.cmd == nil {
		return 0
	}
	return m.cmd.Process.Pid
}

// Boot starts the manager (again, after Stop: a reboot of the user's
// session keeps HOME and what is enabled in it) and waits until it answers.
func (m *Manager) Boot() error {
	for _, root := range cgroupRoots {
		if err := os.Mkdir(filepath.Join(root, m.cgroup), 0o755); err != nil && !os.IsExist(err) {
			return fmt.Errorf("creating the manager's own cgroup: %w", err)
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
		m.removeCgroups()
		return fmt.Errorf("starting systemd --user: %w", err)
	}
	m.cmd = cmd
	m.exited = make(chan struct{})
	go func() { cmd.Wait(); close(m.exited) }()

	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := m.Systemctl("show-environment"); err == nil {
			return nil
		}
		select {
		case <-m.exited:
			m.cmd = nil
			m.removeCgroups()
			return errors.New("systemd --user exited at start (see its log)")
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			m.Stop()
			return errors.New("systemd --user did not answer within 10s")
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

// Stop ends the manager as a logout would: `systemctl --user exit` stops
// every service, then the manager exits. Processes that outlive it in its
// cgroup are killed by pid, and the cgroups are removed, deepest first. Each
// such process, and anything that went wrong, is in the error.
func (m *Manager) Stop() error {
	if m.cmd == nil {
		return nil
	}
	var errs []error
	if _, err := m.Systemctl("exit"); err != nil {
		errs = append(errs, fmt.Errorf("%v; killing the manager (pid %d)", err, m.cmd.Process.Pid))
		m.cmd.Process.Signal(syscall.SIGKILL)
	}
	select {
	case <-m.exited:
	case <-time.After(10 * time.Second):
		errs = append(errs, fmt.Errorf("systemd --user (pid %d) did not exit within 10s of systemctl --user exit; killed it", m.cmd.Process.Pid))
		m.cmd.Process.Signal(syscall.SIGKILL)
		<-m.exited
	}
	m.cmd = nil
	for _, root := range cgroupRoots {
		for _, pid := range pidsUnder(filepath.Join(root, m.cgroup)) {
			errs = append(errs, fmt.Errorf("process %d outlived the manager; killed it", pid))
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	if err := m.removeCgroups(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
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

// removeCgroups removes the manager's cgroups and their descendants,
// deepest first, waiting a little for killed processes to leave them.
func (m *Manager) removeCgroups() error {
	var errs []error
	for _, root := range cgroupRoots {
		var dirs []string
		filepath.WalkDir(filepath.Join(root, m.cgroup), func(path string, d os.DirEntry, err error) error {
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
				errs = append(errs, fmt.Errorf("removing cgroup %s: %w", dirs[i], err))
			}
		}
	}
	return errors.Join(errs...)
}
