package config

import (
	"fmt"
	"os"
	"path/filepath"
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
	historyName    = "daemon.history"
	historyLock    = "daemon.history.lock"
	supStateName   = "supervisor.pid"
	supLockName    = "supervisor.lock"
)

// HomeFrom returns the paths under $CCO_HOME, or ~/.cco when it is unset.
func HomeFrom(getenv func(string) string) (Paths, error) {
	if h := getenv("CCO_HOME"); h != "" {
		abs, err := filepath.Abs(h)
		if err != nil {
			return Paths{}, fmt.Errorf("CCO_HOME: %w", err)
		}
		return Paths{Home: abs}, nil
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
