// Package supervisor keeps the daemon running where no service manager
// does: `cco daemon start`, when the service is not installed, starts
// `cco daemon supervise`, which runs `cco daemon run` as its child, relays
// its readiness to start, restarts it when it fails — with a growing delay,
// giving up on a crash loop — and restarts it when it stops answering
// GET /health. It never restarts a daemon that exited cleanly or that it was
// told to stop, nor one whose configuration is wrong (config.ExitConfig).
//
// One supervisor per CCO_HOME: it holds supervisor.lock for its whole life
// and writes supervisor.pid, the proofs Find checks before anyone signals
// it. When the supervisor dies, even by SIGKILL, its daemon sees the end of
// a pipe only the supervisor held and stops (see Child): nothing is left
// unsupervised, and the next start begins afresh.
package supervisor

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/anthropics/cco/config"
	"github.com/anthropics/cco/history"
	"github.com/anthropics/cco/internal/resident"
	"github.com/anthropics/cco/protocol"
	"github.com/anthropics/cco/version"
)

// Policy is when the supervisor restarts the daemon and when it gives up.
type Policy struct {
	// FirstDelay is the wait before the first restart; each failure
	// doubles it, up to MaxDelay.
	FirstDelay, MaxDelay time.Duration
	// ResetAfter: a daemon healthy this long starts the count afresh.
	ResetAfter time.Duration
	// LoopFailures failures within LoopWindow are a crash loop: the
	// supervisor records it and stops retrying.
	LoopFailures int
	LoopWindow   time.Duration
	// ProbeFailures failed GET /health in a row get the daemon restarted.
	ProbeFailures int
	// ReadyWithin bounds a restarted daemon's start: one that has not
	// announced it serves by then is restarted.
	ReadyWithin time.Duration
	// TermGrace is how long a daemon may take to exit after SIGTERM
	// before SIGKILL.
	TermGrace time.Duration
}

// DefaultPolicy is the policy of `cco daemon supervise`.
var DefaultPolicy = Policy{
	FirstDelay: 100 * time.Millisecond, MaxDelay: 15 * time.Second, ResetAfter: 30 * time.Second,
	LoopFailures: 5, LoopWindow: time.Minute, ProbeFailures: 3,
	ReadyWithin: 30 * time.Second, TermGrace: 10 * time.Second,
}

// Options is what Run needs.
type Options struct {
	Paths config.Paths
	// Executable is the cco binary the daemon runs as `daemon run`.
	Executable string
	// Env is the daemon's environment, less the variables the supervisor
	// sets itself.
	Env []string
	// Ready, when not nil, is the readiness pipe of `cco daemon start`:
	// the first daemon's readiness line (or error) is relayed on it, and
	// it is closed; later restarts relay nothing.
	Ready *os.File
	// HealthInterval is how often the daemon is probed; 0 for never
	// (health_checks = false).
	HealthInterval time.Duration
	Policy         Policy
}

// Run supervises the daemon until it is told to stop (SIGTERM, SIGINT, or
// ctx), the daemon exits cleanly, or a crash loop makes it give up (an
// error). Before the first daemon serves, any failure is relayed on the
// readiness pipe and returned, with no restart: start reports it.
func Run(ctx context.Context, o Options) error {
	s := &supervisor{o: o, hist: history.Open(o.Paths), log: newLog(o.Paths.LogFile())}
	if err := o.Paths.Ensure(); err != nil {
		return s.refuse(err)
	}
	lock, err := takeLock(ctx, o.Paths.SupervisorLockFile())
	var held *protocol.HeldError
	if errors.As(err, &held) {
		err = fmt.Errorf("a supervisor (pid %d) already runs for %s and restarts the daemon when it can: see `cco daemon status`; `cco daemon stop` stops both", held.PID, o.Paths.Home)
	}
	if err != nil {
		return s.refuse(err)
	}
	defer lock.Release()
	self, err := protocol.Self()
	if err != nil {
		return s.refuse(fmt.Errorf("reading this process's start time: %w", err))
	}
	exe, _ := os.Executable()
	me := &protocol.State{PID: os.Getpid(), StartedAt: time.Now().UTC().Truncate(time.Millisecond), Version: version.String(),
		Executable: exe, ProcStart: self.Start, ExecutableID: self.ExeID}
	if err := protocol.WriteState(o.Paths.SupervisorPIDFile(), me); err != nil {
		return s.refuse(err)
	}
	defer protocol.RemoveStateOf(o.Paths.SupervisorPIDFile(), me.PID)

	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	defer signal.Stop(sigs)
	b := &backoff{p: o.Policy}
	for {
		l := s.runOnce(ctx, sigs)
		s.record(l)
		switch {
		case l.stopping:
			s.log.Info("stopped with the daemon", "daemon_pid", l.pid)
			return nil
		case !s.served:
			// The first daemon never served: start hears why (the
			// daemon's own error when it gave one), and nothing is
			// restarted.
			why := fmt.Sprintf("the daemon %s before it served; see `cco daemon logs`", l.words())
			s.relay("error: " + why)
			return errors.New(why)
		case !l.failed():
			s.log.Info("the daemon exited cleanly; not restarting it", "daemon_pid", l.pid)
			return nil
		case l.exitCode() == config.ExitConfig:
			// Restarting cannot fix a configuration (as the systemd
			// unit's RestartPreventExitStatus= says).
			s.log.Error("the daemon's configuration is wrong; not restarting it: fix it, then `cco daemon start`", "how", l.words())
			return errors.New("the daemon's configuration is wrong: " + l.words())
		}
		delay, gaveUp := b.failed(time.Now(), l.healthy)
		if gaveUp {
			why := fmt.Sprintf("%d failures within %v; last: %s", len(b.failures), o.Policy.LoopWindow, l.words())
			s.append(history.Event{Time: time.Now().UTC(), Kind: history.KindCrashLoop, Error: why, RecordedBy: "supervisor"})
			s.log.Error("crash loop: not restarting the daemon any more; fix the cause, then `cco daemon start`", "why", why)
			return errors.New("crash loop: " + why)
		}
		s.log.Warn("the daemon failed; restarting it", "daemon_pid", l.pid, "how", l.words(), "in", delay)
		if stop := s.sleep(ctx, sigs, delay); stop {
			s.log.Info("stopped while waiting to restart the daemon")
			return nil
		}
	}
}

// trimAfter is how long after its daemon serves the supervisor gives back
// the pages of the binary that only start-up touched (resident.Trim): the
// start it relayed the readiness to is long done by then, so that the work
// (a read of /proc/self/smaps, the page tables) never competes with it.
const trimAfter = time.Second

// predecessorWait bounds the wait for another supervisor's lock: start
// runs a supervisor only when no daemon runs, and a supervisor that has
// just stopped its daemon exits within moments; one still holding its lock
// after that is restarting its daemon, and this one is refused.
const predecessorWait = 2 * time.Second

// takeLock takes the supervisor's lock, waiting up to predecessorWait for
// a supervisor that is exiting to let go of it.
func takeLock(ctx context.Context, path string) (*protocol.Lock, error) {
	ctx, cancel := context.WithTimeout(ctx, predecessorWait)
	defer cancel()
	var lock *protocol.Lock
	err := protocol.Poll(ctx, func() (bool, error) {
		var err error
		lock, err = protocol.AcquireLock(path)
		var held *protocol.HeldError
		// EAGAIN without a holder: it let go between the two probes.
		if errors.As(err, &held) || errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EACCES) {
			return false, nil
		}
		return true, err
	})
	if ctx.Err() != nil {
		return protocol.AcquireLock(path) // the holder's error, naming it
	}
	return lock, err
}

// supervisor is one running supervisor.
type supervisor struct {
	o      Options
	hist   *history.Log
	log    *slog.Logger
	served bool // a daemon has served: failures from now on are restarted
}

// life is how one daemon ran and ended.
type life struct {
	pid       int
	procStart uint64
	started   time.Time
	state     *protocol.State // nil when it never served
	healthy   time.Duration   // from serving to its last sign of health
	stopping  bool            // the supervisor was told to stop
	reason    string          // history.Reason*, "" when none
	errText   string          // the daemon's fatal error, or why it was killed
	status    *os.ProcessState
	startErr  error // the daemon could not even be started
}

// failed reports whether the daemon's end calls for a restart: a non-zero
// status, a signal, a kill for not answering. A clean exit is the daemon's
// own decision (someone stopped it) and is respected.
func (l *life) failed() bool {
	if l.startErr != nil || l.reason == history.ReasonUnhealthy {
		return true
	}
	return l.status == nil || !l.status.Success()
}

// exitCode is the daemon's exit status; -1 when a signal ended it or it did
// not run.
func (l *life) exitCode() int {
	if l.status == nil {
		return -1
	}
	return l.status.ExitCode()
}

// words says how the daemon ended, for the log and start.
func (l *life) words() string {
	if l.startErr != nil {
		return l.startErr.Error()
	}
	x := &history.Exit{Event: l.exitEvent()}
	return x.How()
}

func (l *life) exitEvent() history.Event {
	e := history.Event{Time: time.Now().UTC(), Kind: history.KindExit, PID: l.pid, ProcStart: l.procStart,
		UptimeSeconds: time.Since(l.started).Seconds(), Error: l.errText, Reason: l.reason, RecordedBy: "supervisor"}
	if l.status != nil {
		ws, _ := l.status.Sys().(syscall.WaitStatus)
		if ws.Signaled() {
			e.Signal = unix.SignalName(ws.Signal())
		} else {
			e.Code = history.Code(ws.ExitStatus())
		}
	}
	return e
}

// record writes the daemon's exit into the history.
func (s *supervisor) record(l *life) {
	if l.startErr != nil {
		s.log.Error("cannot start the daemon", "err", l.startErr)
		return
	}
	s.append(l.exitEvent())
}

func (s *supervisor) append(e history.Event) {
	if err := s.hist.Append(e); err != nil {
		s.log.Warn("recording in the history", "err", err)
	}
}

// refuse tells start why the supervisor cannot run, and returns it.
func (s *supervisor) refuse(err error) error {
	s.relay("error: " + err.Error())
	return err
}

// relay writes line on the readiness pipe, once.
func (s *supervisor) relay(line string) {
	if s.o.Ready == nil {
		return
	}
	fmt.Fprintln(s.o.Ready, line)
	s.o.Ready.Close()
	s.o.Ready = nil
}

// sleep waits d before a restart; it reports true when told to stop
// meanwhile.
func (s *supervisor) sleep(ctx context.Context, sigs <-chan os.Signal, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			return false
		case <-ctx.Done():
			return true
		case sig := <-sigs:
			if sig != syscall.SIGHUP {
				return true
			}
		}
	}
}

// runOnce starts one daemon and watches it until it exits.
func (s *supervisor) runOnce(ctx context.Context, sigs <-chan os.Signal) *life {
	l := &life{started: time.Now()}
	cmd, pipes, err := s.spawn()
	if err != nil {
		l.startErr = err
		return l
	}
	defer pipes.watch.Close() // the daemon's sign that the supervisor lives
	l.pid = cmd.Process.Pid
	if p, err := protocol.ProcInfo(l.pid); err == nil {
		l.procStart = p.Start
	}
	s.append(history.Event{Time: l.started.UTC(), Kind: history.KindStart, PID: l.pid, ProcStart: l.procStart, By: history.BySupervisor, RecordedBy: "supervisor"})
	readyLine := readAll(pipes.ready)
	report := readAll(pipes.report)
	early := firstLine(pipes.stderr, s.o.Paths.LogFile())
	exited := make(chan *os.ProcessState, 1)
	go func() {
		cmd.Wait()
		exited <- cmd.ProcessState
	}()

	var probe <-chan time.Time
	var readyAt time.Time
	var deadline <-chan time.Time // a restarted daemon must serve by then
	if s.o.Ready == nil {
		t := time.NewTimer(s.o.Policy.ReadyWithin)
		defer t.Stop()
		deadline = t.C
	}
	var kill <-chan time.Time // SIGKILL once TermGrace has passed
	var trim <-chan time.Time // trimAfter the daemon served
	fails := 0
	terminate := func(reason, why string) {
		if l.reason == "" {
			l.reason, l.errText = reason, why
		}
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Process.Signal(syscall.SIGCONT) // a stopped daemon must see its SIGTERM
		if kill == nil {
			kill = time.After(s.o.Policy.TermGrace)
		}
	}
	// stop ends the daemon for good; during the first start it waits for
	// the daemon's word, which start is waiting for (a stop never makes a
	// start fail that would otherwise have served, as without a
	// supervisor).
	stop := func() {
		l.stopping = true
		if s.served || readyLine == nil {
			terminate(history.ReasonStop, "")
		}
	}
	for {
		select {
		case line := <-readyLine:
			readyLine = nil
			if st, ok := protocol.ParseReady(line); ok {
				l.state, readyAt, deadline = st, time.Now(), nil
				s.served = true
				s.relay(line)
				if l.stopping {
					terminate(history.ReasonStop, "") // the stop that came during the start
				}
				trim = time.After(trimAfter)
				if s.o.HealthInterval > 0 {
					t := time.NewTicker(s.o.HealthInterval)
					defer t.Stop()
					probe = t.C
				}
			} else if msg, ok := strings.CutPrefix(line, "error: "); ok {
				l.errText = msg
				s.relay(line) // start reports the daemon's own words
			}
		case <-probe:
			if err := checkHealth(ctx, l.state, s.o.HealthInterval); err != nil {
				fails++
				s.log.Warn("the daemon did not answer GET /health", "daemon_pid", l.pid, "failures", fails, "err", err)
				if fails >= s.o.Policy.ProbeFailures {
					terminate(history.ReasonUnhealthy, fmt.Sprintf("did not answer GET /health %d times in a row (every %v): %v", fails, s.o.HealthInterval, err))
				}
			} else {
				fails = 0
				l.healthy = time.Since(readyAt)
			}
		case <-deadline:
			terminate(history.ReasonUnhealthy, fmt.Sprintf("did not serve within %v of its start", s.o.Policy.ReadyWithin))
		case <-trim:
			resident.Trim()
		case <-kill:
			cmd.Process.Signal(syscall.SIGKILL)
		case <-ctx.Done():
			stop()
			ctx = context.Background()
		case sig := <-sigs:
			if sig == syscall.SIGHUP {
				cmd.Process.Signal(syscall.SIGHUP) // reload, for the daemon
				continue
			}
			stop()
		case st := <-exited:
			l.status = st
			if msg := <-report; msg != "" && l.errText == "" {
				l.errText = msg
			}
			if msg, ok := strings.CutPrefix(<-early, "cco: "); ok && l.errText == "" {
				l.errText = msg // an error before it opened its log: a bad config.toml
			}
			if !readyAt.IsZero() && l.reason != history.ReasonUnhealthy {
				l.healthy = time.Since(readyAt)
			}
			return l
		}
	}
}

// pipes are the supervisor's ends of the daemon's pipes.
type pipes struct {
	ready  *os.File // the daemon's readiness line
	watch  *os.File // held open while the supervisor lives
	report *os.File // the daemon's fatal error
	stderr *os.File // what the daemon writes on stderr before it opens its log
}

// spawn starts `cco daemon run` with its readiness pipe on fd 3 and the
// supervisor's pipes (ChildEnv) on fds 4 and 5. Its output goes to the log,
// opened anew for each daemon, so that what a restarted daemon prints
// before it opens its own log lands in today's file, not in a rotated one.
func (s *supervisor) spawn() (*exec.Cmd, *pipes, error) {
	var made []*os.File
	pipe := func() (r, w *os.File, err error) {
		if r, w, err = os.Pipe(); err == nil {
			made = append(made, r, w)
		}
		return r, w, err
	}
	readyR, readyW, err1 := pipe()
	watchR, watchW, err2 := pipe()
	reportR, reportW, err3 := pipe()
	stderrR, stderrW, err4 := pipe()
	if err := errors.Join(err1, err2, err3, err4); err != nil {
		for _, f := range made {
			f.Close()
		}
		return nil, nil, err
	}
	p := &pipes{ready: readyR, watch: watchW, report: reportR, stderr: stderrR}
	theirs := []*os.File{readyW, watchR, reportW} // fds 3, 4, 5 of the daemon
	defer func() {
		for _, f := range append(theirs, stderrW) {
			f.Close()
		}
	}()

	cmd := exec.Command(s.o.Executable, "daemon", "run")
	cmd.Env = append(childEnv(s.o.Env), protocol.ReadyFDEnv+"=3", ChildEnv+"=4,5", history.StartedByEnv+"="+history.BySupervisor, "CCO_HOME="+s.o.Paths.Home)
	if logf, err := os.OpenFile(s.o.Paths.LogFile(), os.O_WRONLY|os.O_APPEND|os.O_CREATE|unix.O_NOFOLLOW, 0o600); err == nil {
		defer logf.Close()
		cmd.Stdout = logf
	}
	cmd.Stderr = stderrW
	cmd.ExtraFiles = theirs
	if err := cmd.Start(); err != nil {
		p.ready.Close()
		p.watch.Close()
		p.report.Close()
		p.stderr.Close()
		return nil, nil, fmt.Errorf("starting %s daemon run: %w", s.o.Executable, err)
	}
	return cmd, p, nil
}

// childEnv is env less what the supervisor sets for each daemon.
func childEnv(env []string) []string {
	out := make([]string, 0, len(env))
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		switch k {
		case protocol.ReadyFDEnv, ChildEnv, history.StartedByEnv, "CCO_HOME":
			continue
		}
		out = append(out, kv)
	}
	return out
}

// firstLine copies what r yields into the log at logPath until r ends (the
// daemon points its stderr at its own log once it has opened it, or exits)
// and yields the first line of it, at most 1 KiB.
func firstLine(r *os.File, logPath string) chan string {
	ch := make(chan string, 1)
	go func() {
		defer r.Close()
		var first []byte
		buf := make([]byte, 4096)
		for {
			n, err := r.Read(buf)
			if n > 0 {
				appendFile(logPath).Write(buf[:n])
				if len(first) < 1024 {
					first = append(first, buf[:min(n, 1024-len(first))]...)
				}
			}
			if err != nil {
				break
			}
		}
		line, _, _ := strings.Cut(string(first), "\n")
		ch <- line
	}()
	return ch
}

// readAll reads r to its end in the background, closes it, and yields what
// it read, without a trailing newline.
func readAll(r *os.File) chan string {
	ch := make(chan string, 1)
	go func() {
		data, _ := io.ReadAll(r)
		r.Close()
		ch <- strings.TrimSuffix(string(data), "\n")
	}()
	return ch
}
