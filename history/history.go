// Package history is the daemon's crash history: every start and exit of
// the daemon, whoever started it, kept in CCO_HOME as JSON lines. It answers
// what `cco daemon status` says about restarts, the last exit and a crash
// loop, and what `cco daemon history` lists.
//
// The daemon records its own start once it serves and, when nobody waits on
// it, its own exit; the supervisor records the exits of the daemons it runs,
// since it alone sees a SIGKILL. A daemon killed where nobody waits on it
// (SIGKILL under systemd or launchd, or by hand) leaves a start without an
// exit: Summarize says so rather than invent a cause.
package history

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"time"

	"golang.org/x/sys/unix"

	"github.com/anthropics/cco/atomicfile"
	"github.com/anthropics/cco/config"
)

// The kinds of event.
const (
	KindStart     = "start"      // a daemon started (it serves, or it failed before it could)
	KindExit      = "exit"       // a daemon exited
	KindCrashLoop = "crash_loop" // the supervisor gave up restarting
)

// Who started a daemon (Event.By).
const (
	ByHand       = "hand"
	BySupervisor = "supervisor"
	BySystemd    = "systemd"
	ByLaunchd    = "launchd"
)

// Why a daemon exited, when someone knows (Event.Reason).
const (
	ReasonStop       = "stop"            // it was asked to stop (`cco daemon stop`)
	ReasonUnhealthy  = "unhealthy"       // the supervisor killed it: it did not answer GET /health
	ReasonParentGone = "supervisor gone" // its supervisor died, and it stopped with it
)

// Event is one line of the history. Its schema is stable: fields are added,
// never renamed or removed.
//
//	time            RFC 3339 time of the event
//	event           "start", "exit" or "crash_loop"
//	pid             the daemon's pid
//	proc_start      its kernel start time (see protocol.State), with pid one process
//	by              start: who started it: hand, supervisor, systemd, launchd
//	code            exit: its exit status; absent when a signal ended it
//	signal          exit: the signal that ended it, such as "SIGKILL"
//	uptime_seconds  exit: how long it ran
//	error           exit: the daemon's own fatal error, or why the supervisor killed it;
//	                crash_loop: what the supervisor saw
//	reason          exit: "stop", "unhealthy" or "supervisor gone", when known
//	recorded_by     "daemon" or "supervisor"
type Event struct {
	Time          time.Time `json:"time"`
	Kind          string    `json:"event"`
	PID           int       `json:"pid,omitempty"`
	ProcStart     uint64    `json:"proc_start,omitempty"`
	By            string    `json:"by,omitempty"`
	Code          *int      `json:"code,omitempty"`
	Signal        string    `json:"signal,omitempty"`
	UptimeSeconds float64   `json:"uptime_seconds,omitempty"`
	Error         string    `json:"error,omitempty"`
	Reason        string    `json:"reason,omitempty"`
	RecordedBy    string    `json:"recorded_by,omitempty"`
}

// Code returns a pointer to c, for Event.Code.
func Code(c int) *int { return &c }

// The bounds of the file: past MaxBytes it is compacted to its last Keep
// events, or fewer when those would fill more than half of MaxBytes, so that
// it never grows without end, status reads little, and compaction is rare.
const (
	Keep     = 200
	MaxBytes = 64 << 10
)

// lockWait bounds the wait for another writer: a writer holds the lock for
// one append, so a longer wait means a writer is stuck (stopped by SIGSTOP);
// the event is then not recorded and the caller hears why.
const lockWait = 2 * time.Second

// Log is the history of one CCO_HOME.
type Log struct {
	path, lock string
}

// Open returns the history of paths' CCO_HOME. It touches nothing.
func Open(p config.Paths) *Log { return &Log{path: p.History(), lock: p.HistoryLock()} }

// Path is the history file.
func (l *Log) Path() string { return l.path }

// Append adds e as one line, under the writers' lock, and compacts the file
// when it has grown past MaxBytes. A torn last line (a writer killed in the
// middle) is ended first, so that it never swallows e.
func (l *Log) Append(e Event) error {
	line, err := json.Marshal(e)
	if err != nil {
		return err
	}
	unlock, err := l.takeLock()
	if err != nil {
		return err
	}
	defer unlock()
	f, err := os.OpenFile(l.path, os.O_RDWR|os.O_APPEND|os.O_CREATE|unix.O_NOFOLLOW, 0o600)
	if err != nil {
		return fmt.Errorf("opening the history %s: %w", l.path, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("the history %s is not a regular file: remove it", l.path)
	}
	if fi.Size() > 0 {
		last := make([]byte, 1)
		if _, err := f.ReadAt(last, fi.Size()-1); err != nil {
			return fmt.Errorf("reading the history %s: %w", l.path, err)
		}
		if last[0] != '\n' {
			line = append([]byte{'\n'}, line...)
		}
	}
	// One write: a reader sees the line whole or not at all.
	if _, err := f.Write(append(line, '\n')); err != nil {
		return fmt.Errorf("writing the history %s: %w", l.path, err)
	}
	if fi.Size()+int64(len(line))+1 > MaxBytes {
		return l.compact(f)
	}
	return nil
}

// compact replaces the file, atomically, by its last events: at most Keep,
// in at most MaxBytes/2.
func (l *Log) compact(f *os.File) error {
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	events, err := parse(f)
	if err != nil {
		return err
	}
	var lines [][]byte
	size := 0
	for i := len(events) - 1; i >= 0 && len(lines) < Keep; i-- {
		line, err := json.Marshal(events[i])
		if err != nil {
			return err
		}
		if size += len(line) + 1; size > MaxBytes/2 {
			break
		}
		lines = append(lines, line)
	}
	var buf bytes.Buffer
	for i := len(lines) - 1; i >= 0; i-- {
		buf.Write(append(lines[i], '\n'))
	}
	if err := atomicfile.WriteFile(l.path, buf.Bytes(), 0o600); err != nil {
		return fmt.Errorf("compacting the history %s: %w", l.path, err)
	}
	return nil
}

// takeLock takes the writers' lock, waiting at most lockWait.
func (l *Log) takeLock() (func(), error) {
	f, err := os.OpenFile(l.lock, os.O_RDWR|os.O_CREATE|unix.O_NOFOLLOW, 0o600)
	if err != nil {
		return nil, fmt.Errorf("opening the history's lock: %w", err)
	}
	deadline := time.Now().Add(lockWait)
	for {
		err = unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		if err == nil {
			return func() { f.Close() }, nil
		}
		if !errors.Is(err, unix.EWOULDBLOCK) && !errors.Is(err, unix.EINTR) {
			break
		}
		if time.Now().After(deadline) {
			err = fmt.Errorf("another writer held it for %v", lockWait)
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	f.Close()
	return nil, fmt.Errorf("locking the history %s: %w", l.lock, err)
}

// Read returns every event, oldest first; none when there is no history
// yet. Lines that are not events (a torn last line) are skipped: readers
// take no lock, and a writer may be in the middle of its line.
func (l *Log) Read() ([]Event, error) {
	f, err := os.OpenFile(l.path, os.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the history: %w", err)
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil {
		return nil, err
	} else if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("the history %s is not a regular file: remove it", l.path)
	}
	return parse(f)
}

func parse(r io.Reader) ([]Event, error) {
	var events []Event
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), MaxBytes)
	for sc.Scan() {
		var e Event
		if json.Unmarshal(sc.Bytes(), &e) == nil && e.Kind != "" {
			events = append(events, e)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading the history: %w", err)
	}
	return events, nil
}
