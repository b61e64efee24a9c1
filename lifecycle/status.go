package lifecycle

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/anthropics/cco/protocol"
)

// The states Status reports.
const (
	StateRunning   = "running"   // the daemon runs and answers GET /health
	StateUnhealthy = "unhealthy" // the daemon runs but does not answer
	StateStopped   = "stopped"   // no daemon runs
)

// Status is what `cco daemon status --json` prints. Its schema is stable:
// fields are added, never renamed or removed.
//
//	state           "running", "unhealthy" or "stopped"
//	pid             the daemon's pid; 0 when stopped
//	address         host:port it listens on; "" when unknown
//	url             http://host:port; "" when unknown
//	started_at      RFC 3339; null when unknown
//	uptime_seconds  whole seconds since started_at; 0 when unknown
//	version         cco version of the daemon; "" when unknown
//	log_file        the daemon's log
//	state_file      the daemon's state file
//	health          the daemon's GET /health answer; null when none
//	health_error    why GET /health failed; "" when it did not
//	stale           a stale state file was removed, and why; "" when not
type Status struct {
	State         string           `json:"state"`
	PID           int              `json:"pid"`
	Address       string           `json:"address"`
	URL           string           `json:"url"`
	StartedAt     *time.Time       `json:"started_at"`
	UptimeSeconds int64            `json:"uptime_seconds"`
	Version       string           `json:"version"`
	LogFile       string           `json:"log_file"`
	StateFile     string           `json:"state_file"`
	Health        *protocol.Health `json:"health"`
	HealthError   string           `json:"health_error"`
	Stale         string           `json:"stale"`
	// Of the running daemon, as ps and systemctl status show them; 0 when
	// unknown (not running, or no /proc). Connections are the clients the
	// daemon holds open besides status's own request; -1 when unknown.
	MemoryBytes uint64  `json:"memory_bytes"`
	CPUSeconds  float64 `json:"cpu_seconds"`
	Connections int     `json:"connections"`
	// RecentProblems are the last lines of the log at warning or above
	// since the daemon started (at most recentProblems).
	RecentProblems []string `json:"recent_problems"`
}

// recentProblems is how many of the log's last problems status shows.
const recentProblems = 5

// Status inspects the daemon and asks it GET /health. It waits at most
// healthTimeout for a lock holder without proof to prove itself (a daemon
// starting or exiting), and as long for the answer.
func (c *Controller) Status(ctx context.Context, healthTimeout time.Duration) (*Status, error) {
	proofCtx, cancel := context.WithTimeout(ctx, healthTimeout)
	in, err := c.inspectProven(proofCtx)
	cancel()
	if err != nil {
		return nil, err
	}
	s := &Status{State: StateStopped, LogFile: c.Paths.LogFile(), StateFile: c.Paths.PIDFile(), Stale: in.Stale, Connections: -1}

	r := in.Running
	if r == nil {
		return s, nil
	}
	s.PID = r.PID
	s.State = StateUnhealthy
	if r.State == nil {
		s.HealthError = "its files were removed from CCO_HOME; it makes them anew within a second"
		return s, nil
	}
	st := r.State
	s.Address, s.URL, s.Version = st.Addr(), st.URL(), st.Version
	s.RecentProblems = recentProblemLines(c.Paths.LogFile(), st.StartedAt)
	if ps, err := Stats(r.PID); err == nil {
		s.MemoryBytes, s.CPUSeconds = ps.RSS, ps.CPU.Seconds()
	}
	started := st.StartedAt
	s.StartedAt = &started
	s.UptimeSeconds = int64(c.Now().Sub(started) / time.Second)
	h, err := fetchHealth(ctx, st.URL()+"/health", healthTimeout)
	if err != nil {
		s.HealthError = err.Error()
		return s, nil
	}
	s.Health = h
	s.Connections = int(h.Connections) - 1 // not status's own
	if h.Status == "ok" && h.PID == r.PID {
		s.State = StateRunning
	} else {
		s.HealthError = fmt.Sprintf("GET /health answered status %q from pid %d", h.Status, h.PID)
	}
	return s, nil
}

// healthClient keeps no connections: status is one request per process.
var healthClient = &http.Client{Transport: &http.Transport{DisableKeepAlives: true, Proxy: nil}}

func fetchHealth(ctx context.Context, url string, timeout time.Duration) (*protocol.Health, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := healthClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	var h protocol.Health
	if err := json.NewDecoder(resp.Body).Decode(&h); err != nil {
		return nil, fmt.Errorf("GET %s: %w", url, err)
	}
	return &h, nil
}

// WaitRunning waits up to wait for a daemon proven to run (see Inspect):
// how start and restart see a daemon that a service manager starts, since
// no readiness pipe reaches it. It probes with protocol.Poll.
func (c *Controller) WaitRunning(ctx context.Context, wait time.Duration) (*Running, error) {
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	var r *Running
	var unproven *UnprovenError
	err := protocol.Poll(ctx, func() (bool, error) {
		in, err := c.Inspect()
		if errors.As(err, &unproven) {
			return false, nil // starting: it holds the lock, its state file is not written yet
		}
		if err != nil {
			return false, err
		}
		r = in.Running
		return r != nil && r.State != nil, nil
	})
	if ctx.Err() != nil {
		return nil, fmt.Errorf("the daemon did not start serving within %v; see `cco daemon logs`", wait)
	}
	return r, err
}

// recentProblemLines returns the last lines at level WARN or above that
// the log holds since the daemon started: what a person looks at first.
func recentProblemLines(path string, since time.Time) []string {
	var buf bytes.Buffer
	if _, err := Select(NewLines(&buf, slog.LevelWarn, nil), path, Selection{Since: since.Truncate(time.Second), Lines: recentProblems}); err != nil {
		return nil
	}
	text := strings.TrimRight(buf.String(), "\n")
	if text == "" {
		return nil
	}
	return strings.Split(text, "\n")
}
