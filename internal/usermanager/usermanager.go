// Package usermanager runs a private, real systemd user manager in its own
// mount namespace and its own cgroup, so that it never touches the
// machine's own systemd or other processes: what the service tests and the
// benchmarks start their units under. New runs it as root; NewUser as a
// throw-away unprivileged user, as a real user's manager runs (a manager
// run as root honours sandboxing that a user's silently ignores).
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
	// user is the throw-away account the manager runs as; nil: root.
	user *account
	// wrapper runs before systemd, as the user (NewUser's Options).
	wrapper []string
}

// account is a throw-away user.
type account struct {
	name     string
	uid, gid int
}

// Options are NewUser's choices.
type Options struct {
	// Wrapper is a command line that execs the rest of its arguments, run
	// as the user in place of systemd: a seccomp filter that refuses user
	// namespaces, say. Empty: none.
	Wrapper []string
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

// NewUser prepares a manager that runs as a new unprivileged user, made
// here with useradd: HOME is /home/<user>, XDG_RUNTIME_DIR /run/user/<uid>,
// and its cgroups are delegated to it. Clients reach it through Command,
// as that user and inside its mount namespace, so that enable and disable
// go through the manager. Close removes the user, its home and runtime
// directory.
func NewUser(log io.Writer, o Options) (*Manager, error) {
	if _, err := exec.LookPath("useradd"); err != nil {
		return nil, fmt.Errorf("useradd not found: install passwd: %w", ErrMissing)
	}
	for _, tool := range []string{"setpriv", "nsenter", "userdel"} {
		if _, err := exec.LookPath(tool); err != nil {
			return nil, fmt.Errorf("%s not found: install util-linux and passwd: %w", tool, ErrMissing)
		}
	}
	name := fmt.Sprintf("ccot%d", time.Now().UnixNano()%1e9)
	home := filepath.Join("/home", name)
	if out, err := exec.Command("useradd", "--create-home", "--home-dir", home, "--shell", "/usr/sbin/nologin", "--user-group", name).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("useradd %s: %v: %s", name, err, out)
	}
	acct := &account{name: name}
	m := &Manager{Home: home, cgroup: fmt.Sprintf("cco-test-%d-%d", os.Getpid(), time.Now().UnixNano()), log: log, user: acct, wrapper: o.Wrapper}
	fail := func(err error) (*Manager, error) {
		m.Close()
		return nil, err
	}
	out, err := exec.Command("id", "-u", name).Output()
	if err == nil {
		acct.uid, err = strconv.Atoi(strings.TrimSpace(string(out)))
	}
	if err == nil {
		out, err = exec.Command("id", "-g", name).Output()
	}
	if err == nil {
		acct.gid, err = strconv.Atoi(strings.TrimSpace(string(out)))
	}
	if err != nil {
		return fail(fmt.Errorf("the uid and gid of %s: %v", name, err))
	}
	m.Runtime = filepath.Join("/run/user", strconv.Itoa(acct.uid))
	if err := os.MkdirAll("/run/user", 0o755); err != nil {
		return fail(err)
	}
	if err := os.Mkdir(m.Runtime, 0o700); err != nil {
		return fail(err)
	}
	if err := m.Chown(m.Runtime); err != nil {
		return fail(err)
	}
	if err := m.MkdirAll(m.UnitDir(), 0o755); err != nil {
		return fail(err)
	}
	return m, nil
}

// MkdirAll makes dir and its missing parents, owned by the manager's user.
func (m *Manager) MkdirAll(dir string, mode os.FileMode) error {
	var made []string
	for d := dir; d != filepath.Dir(d); d = filepath.Dir(d) {
		if _, err := os.Lstat(d); err == nil {
			break
		}
		made = append(made, d)
	}
	if err := os.MkdirAll(dir, mode); err != nil {
		return err
	}
	for _, d := range made {
		if err := m.Chown(d); err != nil {
			return err
		}
	}
	return nil
}

// Chown gives path, and for a directory everything in it, to the manager's
// user; for a root manager it does nothing.
func (m *Manager) Chown(path string) error {
	if m.user == nil {
		return nil
	}
	return filepath.WalkDir(path, func(p string, _ os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, m.user.uid, m.user.gid)
	})
}

// User is the name of the manager's user: "root" for New's.
func (m *Manager) User() string {
	if m.user == nil {
		return "root"
	}
	return m.user.name
}

// UID is the uid of the manager's user.
func (m *Manager) UID() int {
	if m.user == nil {
		return 0
	}
	return m.user.uid
}

// Close removes NewUser's user, with its home and runtime directory. The
// manager must be stopped.
func (m *Manager) Close() error {
	if m.user == nil {
		return nil
	}
	var errs []error
	if m.Runtime != "" {
		errs = append(errs, os.RemoveAll(m.Runtime))
	}
	if out, err := exec.Command("userdel", "--remove", m.user.name).CombinedOutput(); err != nil && !strings.Contains(string(out), "mail spool") {
		errs = append(errs, fmt.Errorf("userdel %s: %v: %s", m.user.name, err, out))
	}
	errs = append(errs, os.RemoveAll(m.Home))
	m.user = nil
	return errors.Join(errs...)
}

// Command is a client of the manager: name run with args as the manager's
// user, in its mount namespace (while it runs), with Env.
func (m *Manager) Command(ctx context.Context, name string, args ...string) *exec.Cmd {
	if m.user == nil {
		cmd := exec.CommandContext(ctx, name, args...)
		cmd.Env = m.Env()
		return cmd
	}
	var pre []string
	if pid := m.PID(); pid != 0 {
		pre = []string{"nsenter", "-m", "-t", strconv.Itoa(pid), "--"}
	}
	pre = append(pre, "setpriv", "--reuid="+strconv.Itoa(m.user.uid), "--regid="+strconv.Itoa(m.user.gid), "--clear-groups", "--", "env", "-i")
	pre = append(pre, m.Env()...)
	pre = append(pre, name)
	cmd := exec.CommandContext(ctx, pre[0], append(pre[1:], args...)...)
	cmd.Env = m.Env()
	// Run from a directory the user may enter.
	cmd.Dir = "/"
	return cmd
}

// UnitDir is where the user's own units go.
func (m *Manager) UnitDir() string { return filepath.Join(m.Home, ".config", "systemd", "user") }

// Env is the environment of a client of this manager (systemctl, cco).
func (m *Manager) Env() []string {
	return []string{
		"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		"HOME=" + m.Home,
		"XDG_RUNTIME_DIR=" + m.Runtime,
		"USER=" + m.User(),
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
		dir := filepath.Join(root, m.cgroup)
		if err := os.Mkdir(dir, 0o755); err != nil && !os.IsExist(err) {
			return fmt.Errorf("creating the manager's own cgroup: %w", err)
		}
		// Delegated: the user's manager makes its own cgroups below.
		if err := m.Chown(dir); err != nil {
			return fmt.Errorf("delegating the manager's cgroup: %w", err)
		}
	}
	// The shell moves itself into the cgroup, gives systemd a private
	// /run/systemd (where it must find a "system" directory to believe it
	// may run), then becomes systemd, as the user for NewUser. /run is made
	// a mount point first: otherwise a sandboxed service's API file
	// systems would hide the notify socket under /run/user.
	become := systemdBinary
	if m.user != nil {
		become = fmt.Sprintf("setpriv --reuid=%d --regid=%d --clear-groups -- %s %s", m.user.uid, m.user.gid, strings.Join(m.wrapper, " "), systemdBinary)
	}
	script := fmt.Sprintf(`echo $$ > %[1]s/%[3]s/cgroup.procs && echo $$ > %[2]s/%[3]s/cgroup.procs &&
mount --bind /run /run && mount -t tmpfs tmpfs /run/systemd && mkdir /run/systemd/system &&
exec %[4]s --user --default-standard-output=inherit --default-standard-error=inherit`,
		cgroupRoots[0], cgroupRoots[1], m.cgroup, become)
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
	cmd := m.Command(ctx, "systemctl", append([]string{"--user"}, args...)...)
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
