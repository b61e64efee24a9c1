package config

import (
	"cmp"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
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

// Ensure creates CCO_HOME, mode 0700, when it is missing.
func (p Paths) Ensure() error {
	if err := os.MkdirAll(p.Home, 0o700); err != nil {
		return fmt.Errorf("creating CCO_HOME: %w", err)
	}
	return nil
}

// RotatedLog names the n-th file rotated out of the log at path:
// daemon.log.n. Numbers only grow, so a higher n is a newer file.
func RotatedLog(path string, n int64) string { return path + "." + strconv.FormatInt(n, 10) }

// NextLog is where the daemon makes the log's next file before it renames
// it over the log at path.
func NextLog(path string) string { return path + ".next" }

// A Rotated is a file rotated out of the daemon's log.
type Rotated struct {
	Path string
	N    int64
}

// RotatedLogs lists the files rotated out of the log at path, oldest
// first.
func RotatedLogs(path string) ([]Rotated, error) {
	entries, err := os.ReadDir(filepath.Dir(path))
	if err != nil {
		return nil, err
	}
	prefix := filepath.Base(path) + "."
	var rs []Rotated
	for _, e := range entries {
		num, ok := strings.CutPrefix(e.Name(), prefix)
		if !ok || num == "" || num[0] < '1' || num[0] > '9' {
			continue
		}
		if n, err := strconv.ParseInt(num, 10, 64); err == nil {
			rs = append(rs, Rotated{Path: filepath.Join(filepath.Dir(path), e.Name()), N: n})
		}
	}
	slices.SortFunc(rs, func(a, b Rotated) int { return cmp.Compare(a.N, b.N) })
	return rs, nil
}
