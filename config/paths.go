package config

import (
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
)

// Paths are the files cco keeps under CCO_HOME. This is the one place
// that names them: every other package asks a Paths.
type Paths struct {
	Home string
}

// The names of CCO_HOME's files.
const (
	configName     = "config.toml"
	stateName      = "daemon.pid"
	lockName       = "daemon.lock"
	startLockName  = "daemon.start.lock"
	logName        = "daemon.log"
	launchdLogName = "launchd.log"
	failedName     = "failed-starts"
	historyName    = "daemon.history"
	historyLock    = "daemon.history.lock"
	supStateName   = "supervisor.pid"
	supLockName    = "supervisor.lock"
)

// HomeFrom returns the paths under $CCO_HOME, or ~/.cco when it is unset.
// A CCO_HOME of "~" or "~/…" (quoted in a shell or a unit file, so the
// shell did not expand it) is taken from HOME; any other relative CCO_HOME
// is refused, since it would name another directory in every working
// directory.
func HomeFrom(getenv func(string) string) (Paths, error) {
	if h := getenv("CCO_HOME"); h != "" {
		if h == "~" || strings.HasPrefix(h, "~/") {
			home := getenv("HOME")
			if home == "" || !filepath.IsAbs(home) {
				return Paths{}, fmt.Errorf("CCO_HOME=%s starts with ~, but HOME is not an absolute path to expand it with: set CCO_HOME to an absolute path", h)
			}
			return Paths{Home: filepath.Join(home, strings.TrimPrefix(h, "~"))}, nil
		}
		if !filepath.IsAbs(h) {
			return Paths{}, fmt.Errorf("CCO_HOME=%s is a relative path, which would be a different directory in every working directory: set it to an absolute path, such as $HOME/.cco", h)
		}
		return Paths{Home: filepath.Clean(h)}, nil
	}
	home := getenv("HOME")
	if home == "" {
		return Paths{}, fmt.Errorf("neither CCO_HOME nor HOME is set: set CCO_HOME to the directory cco should keep its files in")
	}
	return Paths{Home: filepath.Join(home, ".cco")}, nil
}

// Config is config.toml.
func (p Paths) Config() string { return filepath.Join(p.Home, configName) }

// PIDFile is the daemon's state file.
func (p Paths) PIDFile() string { return filepath.Join(p.Home, stateName) }

// LockFile is held by the running daemon for its whole life.
func (p Paths) LockFile() string { return filepath.Join(p.Home, lockName) }

// StartLockFile serializes `cco daemon start`s, so that concurrent starts
// yield one daemon.
func (p Paths) StartLockFile() string { return filepath.Join(p.Home, startLockName) }

// LogFile is the daemon's log.
func (p Paths) LogFile() string { return filepath.Join(p.Home, logName) }

// FailedStarts records the daemon's recent failed starts under launchd,
// which has no start limit of its own (package service/startlimit).
func (p Paths) FailedStarts() string { return filepath.Join(p.Home, failedName) }

// LaunchdLog is where launchd sends the daemon's output. It is not
// daemon.log: the daemon owns and rotates that file, and launchd would keep
// writing into a rotated one.
func (p Paths) LaunchdLog() string { return filepath.Join(p.Home, launchdLogName) }

// History is the daemon's crash history: one JSON line per start and exit.
func (p Paths) History() string { return filepath.Join(p.Home, historyName) }

// HistoryLock serializes writers of History. It is a file of its own
// because History is replaced by rename when it is compacted.
func (p Paths) HistoryLock() string { return filepath.Join(p.Home, historyLock) }

// SupervisorPIDFile is the supervisor's state file: its pid, start time and
// executable, the proofs that a process is the supervisor.
func (p Paths) SupervisorPIDFile() string { return filepath.Join(p.Home, supStateName) }

// SupervisorLockFile is held by the running supervisor for its whole life,
// so that one CCO_HOME has one supervisor.
func (p Paths) SupervisorLockFile() string { return filepath.Join(p.Home, supLockName) }

// Ensure creates CCO_HOME, mode 0700, when it is missing.
func (p Paths) Ensure() error {
	if err := os.MkdirAll(p.Home, 0o700); err != nil {
		return fmt.Errorf("creating CCO_HOME: %w", err)
	}
	return nil
}

// DatabaseFile is the file a sqlite:// database_url names: a relative path
// is taken from home (CCO_HOME). It is "" for a URL that names no file.
func DatabaseFile(home, databaseURL string) string {
	u, err := url.Parse(databaseURL)
	if err != nil || u.Scheme != "sqlite" {
		return ""
	}
	name := u.Host + u.Path
	if name == "" {
		name = u.Opaque
	}
	if name == "" {
		return ""
	}
	if !filepath.IsAbs(name) {
		name = filepath.Join(home, name)
	}
	return filepath.Clean(name)
}
