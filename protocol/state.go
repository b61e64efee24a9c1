// Package protocol is what the daemon and the commands that control it share:
// the state file, the lock, the proof that a process is the daemon, the
// readiness line, and the health document. The daemon (package daemon) writes
// and holds them; the clients (package lifecycle) read and probe them.
package protocol

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"strconv"
	"time"

	"github.com/anthropics/cco/atomicfile"
	"github.com/anthropics/cco/homefile"
)

// State is the daemon's state file, $CCO_HOME/daemon.pid: JSON, mode 0600,
// written atomically by the daemon once it listens and removed by it when it
// stops. The schema is stable:
//
//	pid          int     the daemon's process id
//	started_at   string  RFC 3339 time the daemon started serving
//	host, port           the address it listens on
//	version      string  cco version of the daemon
//	executable   string  absolute path of the daemon's binary
//	proc_start   int     the kernel's start time of that process: on Linux
//	                     clock ticks since boot (/proc/<pid>/stat field 22),
//	                     on macOS microseconds since the epoch (kern.proc.pid);
//	                     with pid it names one process, whatever pid reuse does
//	executable_id string "<device>:<inode>" of the daemon's binary (Linux; ""
//	                     elsewhere): a binary replaced or moved keeps it
//	log_file     string  the daemon's log
type State struct {
	PID        int       `json:"pid"`
	StartedAt  time.Time `json:"started_at"`
	Host       string    `json:"host"`
	Port       int       `json:"port"`
	Version    string    `json:"version"`
	Executable string    `json:"executable"`
	ProcStart  uint64    `json:"proc_start"`
	// ExecutableID: see Proc.ExeID.
	ExecutableID string `json:"executable_id"`
	LogFile      string `json:"log_file"`
}

// Addr is host:port.
func (s *State) Addr() string { return net.JoinHostPort(s.Host, strconv.Itoa(s.Port)) }

// URL is the daemon's base URL.
func (s *State) URL() string { return "http://" + s.Addr() }

// ReadState reads a state file. A missing file is an error that matches
// fs.ErrNotExist.
func ReadState(path string) (*State, error) {
	s, _, err := ReadStateFile(path)
	return s, err
}

// ReadStateFile reads a state file and says which file it read (the daemon
// replaces it by rename, so a new state file is a new file).
func ReadStateFile(path string) (*State, os.FileInfo, error) {
	f, err := homefile.Open(path, os.O_RDONLY)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, nil, err
	}
	data, err := io.ReadAll(f)
	if err != nil {
		return nil, fi, err
	}
	var s State
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, fi, &BadStateError{Path: path, Why: fmt.Sprintf("not a cco state file (%v)", err)}
	}
	if s.PID <= 0 {
		return nil, fi, &BadStateError{Path: path, Why: "it names no pid"}
	}
	return &s, fi, nil
}

// BadStateError says a state file cannot be read as one.
type BadStateError struct{ Path, Why string }

func (e *BadStateError) Error() string { return e.Path + ": " + e.Why }

// WriteState replaces the state file atomically, mode 0600. It describes a
// running process, which a crash of the whole system ends, so it is not
// flushed to disk (atomicfile.Volatile): after such a crash nobody holds the
// lock, and its readers take the file for stale whatever it holds.
func WriteState(path string, s *State) error {
	data, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(path, append(data, '\n'), 0o600, atomicfile.Volatile())
}

// RemoveStateOf removes the state file if it still names pid, so that a
// daemon never removes the file of its successor.
func RemoveStateOf(path string, pid int) error {
	s, err := ReadState(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err == nil && s.PID != pid {
		return nil
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// Health is the daemon's answer to GET /health.
type Health struct {
	Status        string    `json:"status"`
	Version       string    `json:"version"`
	PID           int       `json:"pid"`
	UptimeSeconds int64     `json:"uptime_seconds"`
	StartedAt     time.Time `json:"started_at"`
	Host          string    `json:"host"`
	Port          int       `json:"port"`
	// Ledger is the usage ledger's state (files, calls, malformed lines,
	// ingest lag, …; see cco-daemon(1)), or {"status": "opening"|"error"}.
	Ledger any `json:"ledger,omitempty"`
	// Connections is how many client connections the daemon holds open,
	// the one asking included.
	Connections int64 `json:"connections"`
	// Probe is the daemon's probe of its own /health; Reload its last
	// reload of config.toml. Absent from daemons before they existed.
	Probe  *ProbeState  `json:"probe,omitempty"`
	Reload *ReloadState `json:"reload,omitempty"`
}
