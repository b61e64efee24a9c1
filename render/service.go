package render

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/anthropics/cco/config"
	"github.com/anthropics/cco/service"
	"github.com/anthropics/cco/service/identity"
)

// Restart policy shared by the unit and the plist.
const (
	restartSec = 10 // RestartSec= and ThrottleInterval
	// exitTimeOut is launchd's wait between SIGTERM and SIGKILL (its
	// default, 5 s, equals the daemon's shutdown grace, daemon.ShutdownGrace):
	// well above it, so a daemon finishing its requests is not killed.
	exitTimeOut = 20
	// StartLimitBurst starts within StartLimitIntervalSec and systemd gives up.
	startLimitBurst       = 5
	startLimitIntervalSec = 300
)

// StopTimeout is the unit's TimeoutStopSec=: how long systemd waits after
// SIGTERM before SIGKILL. It is well above daemon.ShutdownGrace (a test in
// daemon holds it there, since render cannot import daemon), so that a slow
// stop still removes its state file and releases its lock.
const StopTimeout = 15 * time.Second

// Target says what to render a service file for.
type Target struct {
	// OS is "linux" (systemd user unit) or "darwin" (launchd agent).
	OS string
	// Packager renders for every user of a machine: no home directory
	// appears in the files (the unit uses %h; the plist leaves CCO_HOME,
	// the working directory and launchd's output to their defaults), and
	// File.Path is relative to the output directory. CCOHome, UserHome and
	// XDGConfigHome are then ignored.
	Packager bool
	// Exec is the absolute path of cco the service runs: the stable path
	// the user runs (see StableExecutable), not a versioned one a symlink
	// points to.
	Exec string
	// CCOHome is the absolute path of CCO_HOME.
	CCOHome string
	// UserHome is the absolute path of the user's home directory.
	UserHome string
	// XDGConfigHome is $XDG_CONFIG_HOME; empty or relative (which the XDG
	// specification says to ignore) means UserHome/.config. Linux only.
	XDGConfigHome string
	// Config is the daemon's effective configuration; the unit reads
	// health_checks and health_check_interval, the plist auto_start.
	Config config.DaemonConfig
}

// File is one file to install.
type File struct {
	// Path is absolute for a per-user install; for a packager render it is
	// relative to the output directory.
	Path string
	Data []byte
	Mode os.FileMode
}

// ServiceFile renders the systemd user unit (for a per-user install at
// $XDG_CONFIG_HOME/systemd/user/cco-daemon.service) or the launchd agent
// (at ~/Library/LaunchAgents/com.anthropic.cco.daemon.plist), mode 0644.
// For a per-user plist, CCO_HOME must exist before launchd loads it: it is
// the job's working directory and holds launchd.log. A value the format
// cannot carry (a control character, invalid UTF-8) is an
// *UnrepresentableError.
func ServiceFile(t Target) (File, error) {
	if err := t.check(); err != nil {
		return File{}, err
	}
	var (
		data []byte
		err  error
	)
	switch t.OS {
	case "linux":
		data, err = Render("cco-daemon.service.tmpl", t.unit())
	case "darwin":
		data, err = Render("com.anthropic.cco.daemon.plist.tmpl", t.plist())
	}
	if err != nil {
		return File{}, err
	}
	path := identity.Path(t.OS, t.UserHome, t.XDGConfigHome)
	if t.Packager {
		path = identity.FileName(t.OS)
	}
	return File{Path: path, Data: data, Mode: 0o644}, nil
}

// PackagerFiles renders what a package ships: the service file of
// ServiceFile and a documented default config.toml, with paths relative to
// the output directory. t.Packager is implied.
func PackagerFiles(t Target) ([]File, error) {
	t.Packager = true
	svc, err := ServiceFile(t)
	if err != nil {
		return nil, err
	}
	cfg, err := config.Template(&config.File{Values: map[string]any{}})
	if err != nil {
		return nil, err
	}
	return []File{svc, {Path: "config.toml", Data: cfg, Mode: 0o644}}, nil
}

func (t Target) check() error {
	if t.OS != "linux" && t.OS != "darwin" {
		return fmt.Errorf("unknown OS %q: want linux or darwin", t.OS)
	}
	if err := absolute("the path of cco", t.Exec); err != nil {
		return err
	}
	if t.Packager {
		return nil
	}
	if err := absolute("CCO_HOME", t.CCOHome); err != nil {
		return err
	}
	return absolute("the home directory", t.UserHome)
}

func absolute(what, path string) error {
	if !filepath.IsAbs(path) {
		return fmt.Errorf("%s must be an absolute path, not %q", what, path)
	}
	return nil
}

// SandboxDropIn renders the rest of the unit's sandbox (t.Config.Sandbox),
// for a per-user install only: the drop-in cco-daemon.service.d/sandbox.conf
// beside the unit, mode 0644. It needs unprivileged user namespaces
// (PrivateUsers=): where the user's manager cannot make one, systemd refuses
// to start the daemon with it, so install writes it only where a probe
// started a service under it.
func SandboxDropIn(t Target) (File, error) {
	if err := t.check(); err != nil {
		return File{}, err
	}
	if t.OS != "linux" || t.Packager {
		return File{}, fmt.Errorf("the sandbox drop-in is for a per-user systemd unit, not for %s", t.describe())
	}
	rw := []string{t.CCOHome}
	if db := config.DatabaseFile(t.CCOHome, t.Config.DatabaseURL); db != "" && !within(db, t.CCOHome) {
		rw = append(rw, filepath.Dir(db))
	}
	data, err := Render("cco-daemon-sandbox.conf.tmpl", struct{ ReadWrite []string }{rw})
	if err != nil {
		return File{}, err
	}
	return File{Path: identity.DropInPath(identity.Path(t.OS, t.UserHome, t.XDGConfigHome)), Data: data, Mode: 0o644}, nil
}

// HealthDropIn renders how the daemon is watched (t.Config's health_checks
// and health_check_interval, as the unit ServiceFile renders has them), as
// a drop-in over a unit a package installed, which cannot know the user's
// config. It is the service.Health install hands the systemd manager.
func HealthDropIn(c config.DaemonConfig) (service.Health, error) {
	u := Target{Config: c}.unit()
	data, err := Render("cco-daemon-health.conf.tmpl", u)
	return service.Health{Notify: u.HealthChecks, WatchdogSec: u.WatchdogSec, DropIn: data}, err
}

func (t Target) describe() string {
	if t.Packager {
		return "a package"
	}
	return t.OS
}

// within reports whether path is dir or below it.
func within(path, dir string) bool {
	rel, err := filepath.Rel(dir, path)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, "../")
}

// unitData is what the unit template shows.
type unitData struct {
	Packager                               bool
	Exec, CCOHome                          string
	HealthChecks                           bool
	WatchdogSec                            int64
	RestartSec                             int
	StartLimitBurst, StartLimitIntervalSec int
	ExitConfig, TimeoutStopSec             int
	Sandbox                                bool
}

func (t Target) unit() unitData {
	return unitData{
		Packager: t.Packager, Exec: t.Exec, CCOHome: t.CCOHome,
		HealthChecks: t.Config.HealthChecks, WatchdogSec: 2 * t.Config.HealthCheckInterval,
		RestartSec: restartSec, StartLimitBurst: startLimitBurst, StartLimitIntervalSec: startLimitIntervalSec,
		ExitConfig: config.ExitConfig, TimeoutStopSec: int(StopTimeout / time.Second),
		Sandbox: t.Config.Sandbox,
	}
}

// plistData is what the plist template shows.
type plistData struct {
	Packager                         bool
	Label, Exec, CCOHome, LaunchdLog string
	Path                             string
	// RunAtLoad is auto_start; it also decides KeepAlive, since a KeepAlive
	// dictionary implies RunAtLoad (launchd.plist(5), SuccessfulExit).
	RunAtLoad                     bool
	ThrottleInterval, ExitTimeOut int
}

func (t Target) plist() plistData {
	dirs := []string{filepath.Dir(t.Exec), "/opt/homebrew/bin", "/usr/local/bin"}
	if !t.Packager {
		dirs = append(dirs, filepath.Join(t.UserHome, ".local", "bin"))
	}
	dirs = append(dirs, "/usr/bin", "/bin", "/usr/sbin", "/sbin")
	return plistData{
		Packager: t.Packager, Label: identity.LaunchdLabel, Exec: t.Exec, CCOHome: t.CCOHome,
		LaunchdLog: config.Paths{Home: t.CCOHome}.LaunchdLog(), Path: searchPath(dirs),
		RunAtLoad: t.Config.AutoStart, ThrottleInterval: restartSec, ExitTimeOut: exitTimeOut,
	}
}

// searchPath joins dirs into a PATH, each once, leaving out any that holds
// a colon (which PATH cannot carry; cco itself runs by its absolute path).
func searchPath(dirs []string) string {
	var keep []string
	seen := map[string]bool{}
	for _, d := range dirs {
		if seen[d] || strings.Contains(d, ":") {
			continue
		}
		seen[d] = true
		keep = append(keep, d)
	}
	return strings.Join(keep, ":")
}
