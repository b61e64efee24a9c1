// Package service installs and controls the CCO daemon as a per-user
// service: a systemd user unit on Linux, a LaunchAgent on macOS.
//
// Every operation is split in two: a Manager first computes a Plan from the
// State it probed (pure, so tests and --dry-run can look at it), then Apply
// carries it out. Installing what is already installed plans nothing.
package service

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// Manager is one platform's service manager, seen from one user.
type Manager interface {
	// Name says which service this is, for messages:
	// "systemd user unit cco-daemon.service".
	Name() string
	// Path is the file install writes.
	Path() string
	// State probes what is installed and running.
	State(ctx context.Context) (State, error)

	// The plans: what each operation does, starting from cur.
	Install(cur State, content []byte, o InstallOptions) Plan
	Uninstall(cur State) Plan
	Enable(cur State, now bool) (Plan, error)
	Disable(cur State, now bool) (Plan, error)
	Start(cur State) (Plan, error)
	Stop(cur State) (Plan, error)
	Restart(cur State) (Plan, error)

	// Apply carries out a plan, step by step, stopping at the first
	// failure with an error that says what failed, why, and what to do.
	// done, if not nil, is called after each step.
	Apply(ctx context.Context, p Plan, done func(Step)) error
}

// Killer is a Manager that must act when a daemon ignored its stop for
// the whole timeout: systemd kills it itself (systemctl kill), launchd
// must unload the job before cco kills the daemon, or KeepAlive would start
// it again. After the plan, cco kills whatever still runs, by pid, with
// the usual proof of identity.
type Killer interface {
	// Kill plans what ends the daemon for good.
	Kill(cur State) (Plan, error)
}

// InstallOptions are the choices of `cco daemon install`.
type InstallOptions struct {
	AutoStart bool // start at login (config key auto_start)
	NoStart   bool // do not start the daemon now
	// DropIn is systemd's sandbox drop-in (render.SandboxDropIn), nil for
	// none: install writes it, or removes one installed before. Only where
	// the manager is a Sandboxer that said it can.
	DropIn []byte
	// Override writes cco's own unit even where the manager already has
	// one from a package (State.Foreign): the user's own unit directory
	// takes precedence over the package's. Without it install uses the
	// package's unit and writes none.
	Override bool
	// Health is how the daemon is watched (health_checks and
	// health_check_interval), which a package's unit cannot know.
	Health Health
}

// Health is how the service manager watches the daemon.
type Health struct {
	// Notify: Type=notify with a watchdog of WatchdogSec seconds; false:
	// Type=exec, no watchdog.
	Notify      bool
	WatchdogSec int64
	// DropIn sets them over a package's unit (render.HealthDropIn).
	DropIn []byte
}

// Finder is a Manager that asks the service manager itself whether it has
// the service, wherever it was installed from (systemd: a package's unit
// too), in one cheap probe: start, stop and status run it every time.
type Finder interface {
	// Find returns the probed state and whether there is a service to
	// control.
	Find(ctx context.Context) (cur State, found bool, err error)
}

// Sandboxer is a Manager that can run the daemon in a further sandbox
// where the machine allows it: systemd, where user namespaces work.
type Sandboxer interface {
	// CanSandbox probes the manager: false with the reason where it cannot.
	CanSandbox(ctx context.Context) (ok bool, why string, err error)
}

// State is what a probe found.
type State struct {
	// Content is the installed file; nil when there is none.
	Content []byte
	// DropIn is systemd's installed sandbox drop-in; nil when there is none.
	DropIn []byte
	// Loaded: the manager knows the service (systemd: the unit is loaded;
	// launchd: the job is bootstrapped into its domain).
	Loaded bool
	// Enabled: the service starts at login.
	Enabled bool
	// Active: the daemon runs (or is starting or stopping).
	Active bool
	// Detail is the manager's own word: "active (running)", "running".
	Detail string
	PID    int
	// Restarts counts restarts done by the manager (systemd's NRestarts).
	Restarts int
	// Domain is the launchd domain used ("gui/501" or "user/501").
	Domain string
	// Foreign is the file the service is loaded from when cco did not
	// write it. systemd: a unit a package or an administrator installed
	// (/usr/lib/systemd/user, /etc/systemd/user, ~/.local/share/systemd/user),
	// which cco controls like its own but never writes or removes.
	// launchd: a job under cco's label from another plist (Homebrew's, a
	// system-wide one), which cco reports and leaves alone.
	Foreign string
	// ForeignContent is the content of systemd's Foreign unit file.
	ForeignContent []byte
	// Masked: systemd has the unit masked (linked to /dev/null): it starts
	// nothing, and cco neither writes over nor removes the mask.
	Masked bool
	// Health is cco's health drop-in over a Foreign unit (systemd); nil
	// when there is none.
	Health []byte
	// Status is the daemon's own word on its state, which it sends when it
	// fails to start (systemd's STATUS=, see daemon.NotifyFailure); "" when
	// it said nothing.
	Status string
	// LastExit is the manager's word on how the daemon last exited
	// (launchd's "last exit code"); empty when it does not say.
	LastExit string
	// Raw is the manager's answer State was read from (systemctl show,
	// launchctl print of the loaded job), for readers of what State does
	// not keep (history.ParseSystemdShow, ParseLaunchctlPrint); "" when it
	// was not asked.
	Raw string
}

// Installed reports whether cco's own service file is in place.
func (s State) Installed() bool { return s.Content != nil }

// Found reports whether there is a service to control: cco's own, one a
// package installed, or a masked one, whose refusals systemd words itself.
func (s State) Found() bool { return s.Installed() || s.Foreign != "" || s.Masked }

// Env is what a Manager may know of the user and the machine.
type Env struct {
	Runner Runner
	// Getenv reads HOME, XDG_CONFIG_HOME, XDG_RUNTIME_DIR,
	// DBUS_SESSION_BUS_ADDRESS, SSH_CONNECTION and SUDO_USER.
	Getenv   func(string) string
	UID      int
	Username string
	// LingerDir is where systemd-logind marks users whose services outlive
	// their sessions; empty means /var/lib/systemd/linger.
	LingerDir string
	// Sleep waits between retries; nil means time.Sleep.
	Sleep func(time.Duration)
	// ConsoleUID is the uid of the user at the screen (the owner of
	// /dev/console); nil means stat /dev/console.
	ConsoleUID func() (int, error)
	// SystemdBooted reports whether systemd runs this machine
	// (sd_booted(3): /run/systemd/system exists); nil means look.
	SystemdBooted func() bool
}

func (e Env) systemdBooted() bool {
	if e.SystemdBooted != nil {
		return e.SystemdBooted()
	}
	fi, err := os.Stat("/run/systemd/system")
	return err == nil && fi.IsDir()
}

func (e Env) consoleUID() (int, error) {
	if e.ConsoleUID != nil {
		return e.ConsoleUID()
	}
	fi, err := os.Stat("/dev/console")
	if err != nil {
		return -1, err
	}
	sys, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return -1, fmt.Errorf("no owner for /dev/console")
	}
	return int(sys.Uid), nil
}

func (e Env) sleep(d time.Duration) {
	if e.Sleep != nil {
		e.Sleep(d)
		return
	}
	time.Sleep(d)
}

func (e Env) home() (string, error) {
	h := e.Getenv("HOME")
	if h == "" {
		return "", fmt.Errorf("HOME is not set: cco installs the service under your home directory; set HOME")
	}
	return h, nil
}

// For returns the Manager of the platform goos ("linux" or "darwin"),
// whatever the platform cco runs on: a preview of another platform only
// plans, it never applies.
func For(goos string, env Env) (Manager, error) {
	switch goos {
	case "linux":
		return newSystemd(env)
	case "darwin":
		return newLaunchd(env)
	}
	return nil, unsupported(goos)
}

// ErrUnsupported is returned on platforms without a supported service manager.
type ErrUnsupported struct{ GOOS string }

func (e *ErrUnsupported) Error() string {
	return fmt.Sprintf("installing the daemon as a service is not supported on %s (only linux with systemd and darwin with launchd): run `cco daemon start` instead", e.GOOS)
}

func unsupported(goos string) error { return &ErrUnsupported{GOOS: goos} }

// Runner runs a command such as systemctl or launchctl.
type Runner interface {
	// Run returns the command's output and exit code; err is set only when
	// the command could not be run at all (not found, context ended).
	Run(ctx context.Context, name string, args ...string) (Output, error)
}

// Output is what a command printed and how it exited.
type Output struct {
	Stdout, Stderr string
	Code           int
}

// ExecRunner runs commands for real.
type ExecRunner struct {
	// Env is the commands' environment; nil means cco's own.
	Env []string
}

// Run implements Runner.
func (r ExecRunner) Run(ctx context.Context, name string, args ...string) (Output, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = r.Env
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	out := Output{Stdout: stdout.String(), Stderr: stderr.String()}
	if ee, ok := err.(*exec.ExitError); ok && ee.Exited() {
		out.Code = ee.ExitCode()
		return out, nil
	}
	if err != nil {
		return out, fmt.Errorf("running %s: %w", name, err)
	}
	return out, nil
}

// readFile returns the file's content, nil when it does not exist.
func readFile(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the installed service file: %w", err)
	}
	if b == nil {
		b = []byte{}
	}
	return b, nil
}
