package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"strconv"
	"syscall"
	"time"

	"github.com/alecthomas/kingpin/v2"

	"github.com/anthropics/cco/config"
	"github.com/anthropics/cco/daemon"
	"github.com/anthropics/cco/history"
	"github.com/anthropics/cco/lifecycle"
	"github.com/anthropics/cco/protocol"
	"github.com/anthropics/cco/supervisor"
)

// supervisorCommand is what start runs when no service manager supervises
// the daemon: a hidden command of its own rather than a mode of `daemon
// run`, so that what systemd and launchd execute stays the daemon alone, and
// so that the supervisor initialises nothing of the daemon's.
var supervisorCommand = []string{"daemon", "supervise"}

func configureSupervisionCmds(daemon *kingpin.CmdClause, e *Env) {
	sup := &superviseCmd{env: e}
	daemon.Command("supervise", "Run the daemon and restart it when it fails: what start runs when no service is installed.").Hidden().Action(action(e, sup.run))

	hist := &historyCmd{env: e}
	hc := daemon.Command("history", "List the daemon's starts and exits, oldest first: who started it, how it ended.").Action(action(e, hist.run))
	hc.Flag("lines", "How many events to list, from the newest.").Short('n').Default("20").IntVar(&hist.n)
	hc.Flag("json", "Print one JSON object per event (schema in cco-daemon(1)).").BoolVar(&hist.json)
}

type superviseCmd struct{ env *Env }

func (c *superviseCmd) run(ctx context.Context) error {
	var ready *os.File
	if fd := c.env.Getenv(protocol.ReadyFDEnv); fd != "" {
		n, err := strconv.Atoi(fd)
		if err != nil || n < 3 {
			return fmt.Errorf("%s=%q does not name an inherited file descriptor", protocol.ReadyFDEnv, fd)
		}
		ready = os.NewFile(uintptr(n), "readiness pipe")
	}
	fail := func(err error) error {
		if ready != nil {
			fmt.Fprintln(ready, "error: "+err.Error())
			ready.Close()
		}
		return err
	}
	eff, paths, err := loadEffective(c.env, nil)
	if err != nil {
		return fail(err)
	}
	exe, err := c.env.Executable()
	if err != nil {
		return fail(fmt.Errorf("finding the cco binary to run the daemon: %w", err))
	}
	var interval time.Duration
	if eff.HealthChecks {
		interval = time.Duration(eff.HealthCheckInterval) * time.Second
	}
	return supervisor.Run(ctx, supervisor.Options{
		Paths: paths, Executable: exe, Env: c.env.Environ(), Ready: ready,
		HealthInterval: interval, Policy: supervisor.DefaultPolicy,
	})
}

// recordLife records the daemon's life in the crash history and, under a
// supervisor, ties the daemon to it: the returned context ends when the
// supervisor dies. Under a supervisor, which records the starts and exits it
// sees, the daemon only hands it its fatal error, and records its own exit
// when the supervisor is gone. done takes daemon.Run's result and returns
// it.
func recordLife(ctx context.Context, e *Env, paths config.Paths, o *daemon.Options) (_ context.Context, done func(error) error, _ error) {
	hist := history.Open(paths)
	pid := os.Getpid()
	by := history.StartedBy(e.Getenv, pid)
	began := e.Now()
	child, err := supervisor.Attach(e.Getenv)
	if err != nil {
		return nil, nil, err
	}
	if child != nil {
		ctx = child.Context(ctx)
	}
	warn := func(what string, err error) {
		if err != nil {
			fmt.Fprintf(e.Stderr, "cco: recording the daemon's %s in %s: %v\n", what, hist.Path(), err)
		}
	}
	var served *protocol.State
	o.Serving = func(st *protocol.State) error {
		served = st
		if child != nil {
			return nil // the supervisor recorded the start when it started it
		}
		return hist.Append(history.Event{Time: st.StartedAt, Kind: history.KindStart, PID: pid, ProcStart: st.ProcStart, By: by, RecordedBy: "daemon"})
	}
	return ctx, func(runErr error) error {
		var held *protocol.HeldError
		if errors.As(runErr, &held) {
			// Another daemon runs; this one never started.
			if child != nil {
				child.Report(runErr)
			}
			return runErr
		}
		self, _ := protocol.Self()
		procStart := self.Start
		switch {
		case served != nil:
			began = served.StartedAt
		case child == nil:
			warn("start", hist.Append(history.Event{Time: began.UTC(), Kind: history.KindStart, PID: pid, ProcStart: procStart, By: by, RecordedBy: "daemon"}))
		}
		if child != nil && !child.Gone() {
			child.Report(runErr) // the supervisor records the exit it sees
			return runErr
		}
		exit := history.Event{Time: e.Now().UTC(), Kind: history.KindExit, PID: pid, ProcStart: procStart,
			Code: history.Code(0), UptimeSeconds: e.Now().Sub(began).Seconds(), RecordedBy: "daemon"}
		if runErr != nil {
			exit.Code, exit.Error = history.Code(exitError), runErr.Error()
		}
		if child != nil {
			exit.Reason = history.ReasonParentGone
		}
		warn("exit", hist.Append(exit))
		return runErr
	}, nil
}

// supervisorWait bounds the wait for the supervisor to exit once its
// daemon has: it exits right after.
const supervisorWait = 5 * time.Second

// stopSupervised stops the supervisor, when one runs, and the daemon: the
// supervisor is told first (proof of identity, SIGTERM), so that it
// restarts nothing; the daemon is then stopped as always, escalating to
// SIGKILL after timeout. It returns the supervisor's pid, 0 when none ran.
func stopSupervised(ctx context.Context, ctl *lifecycle.Controller, timeout time.Duration) (*lifecycle.Stopped, int, error) {
	sup, err := supervisor.Find(ctl.Paths)
	if err != nil || sup == nil {
		s, err := ctl.Stop(ctx, timeout)
		return s, 0, err
	}
	in, err := ctl.Inspect()
	var s *lifecycle.Stopped
	if err != nil {
		// The daemon's proofs disagree, for a moment (it holds its lock
		// before it writes its state file) or for good: ctl.Stop judges,
		// and the supervisor is not told to stop a daemon that cco could
		// not prove; once ctl.Stop stopped it, the supervisor follows.
		if s, err = ctl.Stop(ctx, timeout); err != nil {
			return nil, 0, err
		}
		if err := sup.Signal(syscall.SIGTERM); err != nil {
			return nil, 0, err
		}
	} else {
		// The supervisor first, so that it restarts nothing.
		if err := sup.Signal(syscall.SIGTERM); err != nil {
			return nil, 0, err
		}
		if s, err = ctl.Stop(ctx, timeout); err != nil {
			return nil, 0, err
		}
	}
	if s.PID == 0 && in != nil && in.Running != nil {
		s.PID = in.Running.PID // the supervisor's SIGTERM stopped it first
	}
	err = sup.WaitGone(ctx, supervisorWait)
	if errors.Is(err, context.DeadlineExceeded) {
		if err := sup.Signal(syscall.SIGKILL); err != nil {
			return nil, 0, err
		}
		err = sup.WaitGone(ctx, supervisorWait)
		if errors.Is(err, context.DeadlineExceeded) {
			return nil, 0, fmt.Errorf("the supervisor (pid %d) still holds %s %v after SIGKILL: look at /proc/%d/status", sup.PID, ctl.Paths.SupervisorLockFile(), supervisorWait, sup.PID)
		}
	}
	if err != nil {
		return nil, 0, err
	}
	return s, sup.PID, nil
}

// supervision is what status says of the daemon's supervision and past;
// `status --json` prints it as "supervision" (schema in cco-daemon(1)).
type supervision struct {
	SupervisorPID   int                  `json:"supervisor_pid"`
	SupervisorError string               `json:"supervisor_error"`
	Restarts24h     int                  `json:"restarts_24h"`
	LastExit        *lastExit            `json:"last_exit"`
	CrashLoop       bool                 `json:"crash_loop"`
	CrashLoopAt     *time.Time           `json:"crash_loop_at"`
	CrashLoopWhy    string               `json:"crash_loop_why"`
	Manager         *history.ManagerView `json:"manager"`
	HistoryFile     string               `json:"history_file"`
	HistoryError    string               `json:"history_error"`
}

// lastExit is the last exit event, with its words.
type lastExit struct {
	history.Event
	Unrecorded bool   `json:"unrecorded"`
	Words      string `json:"words"`
}

// supervisionStatus reads the supervisor, the history and, for an
// installed service, what its manager remembers.
func supervisionStatus(ctx context.Context, e *Env, paths config.Paths, svc *serviceState) *supervision {
	s := &supervision{HistoryFile: paths.History()}
	if sup, err := supervisor.Find(paths); err != nil {
		s.SupervisorError = err.Error()
	} else if sup != nil {
		s.SupervisorPID = sup.PID
	}
	events, err := history.Open(paths).Read()
	if err != nil {
		s.HistoryError = err.Error()
	}
	now := e.Now()
	sum := history.Summarize(events, now, func(pid int, start uint64) bool {
		p, err := protocol.ProcInfo(pid)
		return err == nil && !p.Exiting && (start == 0 || p.Start == start)
	})
	s.Restarts24h = sum.Restarts24h
	if x := sum.LastExit; x != nil {
		s.LastExit = &lastExit{Event: x.Event, Unrecorded: x.Unrecorded, Words: x.Words(now)}
	}
	if c := sum.CrashLoop; c != nil {
		t := c.Time
		s.CrashLoop, s.CrashLoopAt, s.CrashLoopWhy = true, &t, c.Error
	}
	if svc != nil && svc.raw != "" {
		s.Manager = managerView(svc.raw)
	}
	return s
}

// managerView reads how the daemon's last run ended from what systemd or
// launchd answered status (no second call); nil where neither runs it.
func managerView(raw string) *history.ManagerView {
	var v history.ManagerView
	switch runtime.GOOS {
	case "linux":
		v = history.ParseSystemdShow(raw)
	case "darwin":
		v = history.ParseLaunchctlPrint(raw)
	default:
		return nil
	}
	return &v
}

// print writes status's lines about supervision and the past.
func (s *supervision) print(w io.Writer) {
	if s.SupervisorPID != 0 {
		fmt.Fprintf(w, "  supervisor: pid %d (restarts the daemon when it fails; `cco daemon stop` stops both)\n", s.SupervisorPID)
	}
	if s.SupervisorError != "" {
		fmt.Fprintf(w, "  supervisor: %s\n", s.SupervisorError)
	}
	if s.LastExit != nil || s.Restarts24h > 0 {
		fmt.Fprintf(w, "  restarts:   %d in the last 24 h\n", s.Restarts24h)
	}
	if s.LastExit != nil {
		fmt.Fprintf(w, "  last exit:  %s\n", s.LastExit.Words)
	}
	if s.CrashLoop {
		fmt.Fprintf(w, "  crash loop: the supervisor gave up restarting it %s (%s); fix the cause (`cco daemon history`, `cco daemon logs`), then `cco daemon start`\n",
			history.Ago(time.Now(), *s.CrashLoopAt), s.CrashLoopWhy)
	}
	if m := s.Manager; m != nil && (m.Restarts > 0 || m.LastExit != "") {
		line := fmt.Sprintf("  %s:    restarted it %d %s", m.Manager, m.Restarts, map[bool]string{true: "time", false: "times"}[m.Restarts == 1])
		if m.LastExit != "" {
			line += "; its last run " + m.LastExit
		}
		if m.Result != "" && m.Result != "success" {
			line += " (result: " + m.Result + ")"
		}
		fmt.Fprintln(w, line)
	}
	if s.HistoryError != "" {
		fmt.Fprintf(w, "  history:    %s\n", s.HistoryError)
	}
}

type historyCmd struct {
	env  *Env
	n    int
	json bool
}

func (c *historyCmd) run(ctx context.Context) error {
	if c.n < 0 {
		return fmt.Errorf("--lines %d: want 0 or more", c.n)
	}
	paths, err := c.env.Paths()
	if err != nil {
		return err
	}
	events, err := history.Open(paths).Read()
	if err != nil {
		return err
	}
	if len(events) > c.n {
		events = events[len(events)-c.n:]
	}
	w := c.env.Stdout
	if c.json {
		enc := json.NewEncoder(w)
		for _, e := range events {
			if err := enc.Encode(e); err != nil {
				return err
			}
		}
		return nil
	}
	if len(events) == 0 {
		fmt.Fprintf(w, "no history yet in %s: the daemon has not run with this CCO_HOME\n", paths.History())
		return nil
	}
	for _, e := range events {
		fmt.Fprintf(w, "%s  %s\n", e.Time.Local().Format("2006-01-02 15:04:05"), describeEvent(e))
	}
	return nil
}

// describeEvent is one event in words, for `cco daemon history`.
func describeEvent(e history.Event) string {
	switch e.Kind {
	case history.KindStart:
		return fmt.Sprintf("started  pid %d by %s", e.PID, e.By)
	case history.KindExit:
		x := &history.Exit{Event: e}
		return fmt.Sprintf("ended    pid %d after %s: %s", e.PID, (time.Duration(e.UptimeSeconds * float64(time.Second))).Round(time.Millisecond), x.How())
	case history.KindCrashLoop:
		return "gave up  the supervisor stopped restarting the daemon: " + e.Error
	}
	return e.Kind
}

// awaitSupervised waits, up to wait, while a supervisor runs whose daemon
// does not serve (it is between two restarts), so that start then finds the
// daemon running rather than start a second supervisor or fail. It returns
// at once when no supervisor runs, or its daemon serves.
func awaitSupervised(ctx context.Context, ctl *lifecycle.Controller, wait time.Duration) error {
	sup, err := supervisor.Find(ctl.Paths)
	if err != nil || sup == nil {
		return err
	}
	deadline := time.Now().Add(wait)
	for {
		// The proofs disagree for a moment while a daemon starts or
		// stops (it holds its lock without a state file): look again.
		in, err := ctl.Inspect()
		if err == nil && in.Running != nil && in.Running.State != nil {
			return nil
		}
		if holder, err := protocol.LockHolder(ctl.Paths.SupervisorLockFile()); err != nil || holder != sup.PID {
			return err
		}
		if time.Now().After(deadline) {
			if err != nil {
				return err
			}
			return fmt.Errorf("the supervisor (pid %d) is restarting the daemon, which did not serve within %v: see `cco daemon status` and `cco daemon logs`", sup.PID, wait)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
}
