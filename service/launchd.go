package service

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/anthropics/cco/service/identity"
)

// launchctl is run by its absolute path: a PATH that names another one
// (a wrapper, a shim) must not decide what loads the daemon.
const launchctl = "/bin/launchctl"

// launchctl exit codes cco acts on or explains. launchctl exits with an
// errno (BSD) or one of launchd's own codes; `launchctl error N` names any.
const (
	lcNotPermitted = 1   // EPERM
	lcNoSuchProc   = 3   // ESRCH: no such process — not loaded, or not running
	lcIOError      = 5   // EIO: bootstrap refused, or the job is going away
	lcExists       = 17  // EEXIST: already loaded
	lcInvalid      = 22  // EINVAL
	lcInProgress   = 36  // EINPROGRESS
	lcAlready      = 37  // EALREADY
	lcUsage        = 64  // EX_USAGE
	lcBadPlist     = 109 // invalid property list
	lcNoDomain     = 112 // could not find specified domain
	lcNoService    = 113 // could not find specified service
	lcDisabled     = 119 // service is disabled
	lcBadPerms     = 122 // path had bad ownership/permissions
	lcNotSupported = 125 // domain does not support specified action
)

// Deadlines of the launchd manager. launchd answers bootout before the job
// is gone: it sends SIGTERM, waits up to the plist's ExitTimeOut (20 s) and
// only then SIGKILLs, so the waits for a job to go away are longer.
const (
	// launchctlTimeout bounds one launchctl command: launchd can hang.
	launchctlTimeout = 15 * time.Second
	// goneWait bounds the wait for a booted-out job to leave its domain.
	goneWait = 30 * time.Second
	// bootstrapWait bounds the retries of a bootstrap that launchd refuses
	// with an "in progress" code while an old job is still going away.
	bootstrapWait = 30 * time.Second
	// stoppedWait bounds the wait for a signalled job to stop running.
	stoppedWait = 30 * time.Second
	// pollFirst and pollMax space the probes of those waits.
	pollFirst, pollMax = 50 * time.Millisecond, time.Second
)

// launchd manages the daemon as a LaunchAgent.
type launchd struct {
	env  Env
	path string
}

func newLaunchd(env Env) (*launchd, error) {
	home, err := env.home()
	if err != nil {
		return nil, err
	}
	return &launchd{env: env, path: identity.Path("darwin", home, "")}, nil
}

func (m *launchd) Name() string { return "LaunchAgent " + identity.LaunchdLabel }
func (m *launchd) Path() string { return m.path }

func (m *launchd) gui() string  { return "gui/" + strconv.Itoa(m.env.UID) }
func (m *launchd) user() string { return "user/" + strconv.Itoa(m.env.UID) }

// run runs launchctl with a deadline.
func (m *launchd) run(ctx context.Context, args ...string) (Output, error) {
	ctx, cancel := context.WithTimeout(ctx, launchctlTimeout)
	defer cancel()
	out, err := m.env.Runner.Run(ctx, launchctl, args...)
	if err != nil {
		return out, fmt.Errorf("%w: managing the %s needs macOS's %s", err, m.Name(), launchctl)
	}
	return out, nil
}

// domain picks the domain a new load goes to, by Homebrew's rule (`brew
// services`): gui/<uid> when the console belongs to this user and launchd
// has that session, even over SSH; otherwise user/<uid>, the domain that
// exists without a login at the screen.
func (m *launchd) domain(ctx context.Context) (string, error) {
	if owner, err := m.env.consoleUID(); err != nil || owner != m.env.UID {
		return m.user(), nil
	}
	out, err := m.run(ctx, "print", m.gui())
	if err != nil {
		return "", err
	}
	if out.Code != 0 {
		return m.user(), nil
	}
	return m.gui(), nil
}

// job is what `launchctl print <domain>/<label>` says at its top level.
type job struct {
	path, state, lastExit string
	pid, runs             int
	raw                   string // launchctl's whole answer
}

// parsePrint reads the top level of `launchctl print` output for a service:
// `key = value` lines directly inside the outer braces. Nested blocks
// (arguments, environment, endpoints, …) are skipped whole, so their
// `state =` or `pid =` lines are never taken for the job's.
func parsePrint(s string) job {
	var j job
	depth := 0
	for _, line := range strings.Split(s, "\n") {
		line = strings.TrimSpace(line)
		switch {
		case strings.HasSuffix(line, "{"):
			depth++
			continue
		case line == "}":
			depth--
			continue
		case depth != 1:
			continue
		}
		k, v, ok := strings.Cut(line, " = ")
		if !ok {
			continue
		}
		switch k {
		case "path":
			j.path = v
		case "state":
			j.state = v
		case "last exit code":
			j.lastExit = v
		case "pid":
			j.pid, _ = strconv.Atoi(v)
		case "runs":
			j.runs, _ = strconv.Atoi(v)
		}
	}
	return j
}

// lookup asks launchd about the job in one domain: nil when it is not
// loaded there.
func (m *launchd) lookup(ctx context.Context, domain string) (*job, error) {
	args := []string{"print", domain + "/" + identity.LaunchdLabel}
	out, err := m.run(ctx, args...)
	if err != nil {
		return nil, err
	}
	switch out.Code {
	case 0:
		j := parsePrint(out.Stdout)
		j.raw = out.Stdout
		return &j, nil
	case lcNoSuchProc, lcNoService, lcNoDomain:
		return nil, nil
	}
	return nil, m.explain(append([]string{launchctl}, args...), out)
}

// State reads the job from both domains: a job loaded from an SSH session
// (user/) is still found at the screen (gui/), and the other way round.
func (m *launchd) State(ctx context.Context) (State, error) {
	var st State
	content, err := readFile(m.path)
	if err != nil {
		return st, err
	}
	st.Content = content
	if st.Domain, err = m.domain(ctx); err != nil {
		return st, err
	}
	st.Detail = "not loaded"
	for _, d := range []string{m.gui(), m.user()} {
		j, err := m.lookup(ctx, d)
		if err != nil {
			return st, err
		}
		if j == nil {
			continue
		}
		st.Domain, st.Loaded = d, true
		if j.path != m.path {
			st.Foreign = j.path
		}
		st.Detail = j.state
		st.Active = j.state == "running"
		st.PID = j.pid
		st.Restarts = max(j.runs-1, 0)
		st.LastExit = j.lastExit
		st.Raw = j.raw
		break
	}
	args := []string{"print-disabled", st.Domain}
	out, err := m.run(ctx, args...)
	if err != nil {
		return st, err
	}
	if out.Code != 0 {
		return st, m.explain(append([]string{launchctl}, args...), out)
	}
	st.Enabled = !disabledIn(out.Stdout)
	return st, nil
}

// disabledIn reads cco's line of `launchctl print-disabled`:
// `"label" => disabled` (older macOS: `=> true`).
func disabledIn(s string) bool {
	for _, line := range strings.Split(s, "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), " => ")
		if ok && k == strconv.Quote(identity.LaunchdLabel) {
			return v == "disabled" || v == "true"
		}
	}
	return false
}

// target is the job's service target: gui/501/com.anthropic.cco.daemon.
func (m *launchd) target(st State) string { return m.domainOf(st) + "/" + identity.LaunchdLabel }

// domainOf is the state's domain; a preview that probed nothing assumes
// the gui domain.
func (m *launchd) domainOf(st State) string {
	if st.Domain != "" {
		return st.Domain
	}
	return m.gui()
}

// refuseRoot refuses to act as root on a user's files: `sudo cco daemon
// install` would write into the user's home a plist that root owns and
// load it into root's domains, not the user's.
func (m *launchd) refuseRoot() error {
	if m.env.UID != 0 {
		return nil
	}
	sudoUser := m.env.Getenv("SUDO_USER")
	home := m.env.Getenv("HOME")
	var notRoots bool
	if fi, err := os.Stat(home); err == nil {
		if sys, ok := fi.Sys().(*syscall.Stat_t); ok && sys.Uid != 0 {
			notRoots = true
		}
	}
	if sudoUser == "" && !notRoots {
		return nil
	}
	who := "the owner of " + home
	if sudoUser != "" {
		who = sudoUser
	}
	return fmt.Errorf("refusing to manage the %s as root: it belongs to %s, whose login session (launchd's gui or user domain) runs it. "+
		"Run the command as %s, without sudo", m.Name(), who, who)
}

// foreign refuses to touch a job with cco's label loaded from another
// plist (one made by Homebrew, or a system-wide one): cco reports it
// rather than fighting over the label.
func (m *launchd) foreign(st State) error {
	if st.Foreign == "" {
		return nil
	}
	return fmt.Errorf("launchd runs a job labelled %s from %s, not from cco's %s: cco leaves it alone. "+
		"If it is an older install, remove it with `launchctl bootout %s` (and delete that file), then run `cco daemon install`",
		identity.LaunchdLabel, st.Foreign, m.path, m.target(st))
}

func (m *launchd) Apply(ctx context.Context, p Plan, done func(Step)) error {
	if len(p.Steps) > 0 {
		if err := m.refuseRoot(); err != nil {
			return err
		}
	}
	return apply(ctx, p, done, m.runStep)
}

// waits say what a step waits for after launchctl returned.
type wait int

const (
	waitNone    wait = iota
	waitGone         // the job has left its domain (after bootout)
	waitStopped      // the job is no longer running (after a SIGTERM)
)

func (m *launchd) runStep(ctx context.Context, s Step) error {
	var slept time.Duration
	for {
		out, err := m.env.Runner.Run(ctx, s.Args[0], s.Args[1:]...)
		if err != nil {
			return err
		}
		if s.okCode(out.Code) {
			break
		}
		if !s.bootstrap || !inProgress(out.Code) {
			return m.explain(s.Args, out)
		}
		// A bootstrap refused with 5, 17, 36 or 37: either the job is
		// loaded already (the goal holds: every bootout cco runs has
		// waited for the old job to be gone, so a loaded job is a new
		// one) or a job is still going away: try again for a while.
		j, err := m.lookup(ctx, argsDomain(s.Args))
		if err != nil {
			return err
		}
		if j != nil && j.path == m.path {
			break
		}
		if slept >= bootstrapWait {
			return m.explain(s.Args, out)
		}
		slept += m.pause(slept)
	}
	switch s.wait {
	case waitGone:
		return m.waitFor(ctx, s, goneWait, "to unload the job", func(j *job) bool { return j == nil })
	case waitStopped:
		return m.waitFor(ctx, s, stoppedWait, "to stop the daemon", func(j *job) bool { return j == nil || j.state != "running" })
	}
	return nil
}

// inProgress reports whether a bootstrap's exit code may mean "loaded
// already" or "the old job is still going away".
func inProgress(code int) bool {
	return code == lcIOError || code == lcExists || code == lcInProgress || code == lcAlready
}

// pause sleeps before the next probe: from pollFirst, doubling up to
// pollMax. It returns how long it slept.
func (m *launchd) pause(slept time.Duration) time.Duration {
	d := pollFirst
	for d < pollMax && d <= slept {
		d *= 2
	}
	d = min(d, pollMax)
	m.env.sleep(d)
	return d
}

// waitFor probes the step's job until done says so, up to limit.
func (m *launchd) waitFor(ctx context.Context, s Step, limit time.Duration, what string, done func(*job) bool) error {
	domain := argsDomain(s.Args)
	var slept time.Duration
	for {
		j, err := m.lookup(ctx, domain)
		if err != nil {
			return err
		}
		if done(j) {
			return nil
		}
		if slept >= limit {
			return fmt.Errorf("%s: launchd did not manage %s within %v (the job is %s); see `launchctl print %s/%s`",
				shellJoin(s.Args), what, limit, j.state, domain, identity.LaunchdLabel)
		}
		slept += m.pause(slept)
	}
}

// explain turns a failed launchctl command into an error that says what
// the exit code means and what to do.
func (m *launchd) explain(args []string, out Output) error {
	said := strings.TrimSpace(out.Stderr + out.Stdout)
	said = strings.ReplaceAll(said, "\n", " ")
	domain := argsDomain(args)
	var why string
	switch out.Code {
	case lcIOError:
		why = "5 is launchd's Input/output error: it refused to load the job. Usually a job booted out is not gone yet, " +
			"or the plist is invalid, or the job is disabled. " +
			"Check the plist with `plutil -lint " + m.path + "`, see `launchctl print " + domain + "/" + identity.LaunchdLabel + "`, " +
			"then run `cco daemon install` again"
	case lcNoSuchProc, lcNoService:
		why = "the job is not loaded, or not running, in this domain: run `cco daemon start` (or `cco daemon install` if it is not installed)"
	case lcExists:
		why = "the job is already loaded: run `cco daemon restart` to restart it"
	case lcAlready, lcInProgress:
		why = "launchd is still starting or stopping the job: try again in a moment"
	case lcNotPermitted:
		why = "launchd refused the operation: run cco as the user who owns the session, not through sudo or su"
	case lcNoDomain, lcNotSupported:
		why = "the domain " + domain + " is not available here: the gui domain exists only for the user logged in at the screen; " +
			"cco uses user/" + strconv.Itoa(m.env.UID) + " when someone else has the console — log in at the screen, or run cco there"
	case lcDisabled:
		why = "the job is disabled: run `cco daemon enable`"
	case lcBadPerms:
		why = "launchd ignores plists others can write: run `chmod 644 " + m.path + "` and make sure you own it"
	case lcBadPlist:
		why = "the plist is not valid: check it with `plutil -lint " + m.path + "`, then run `cco daemon install` again"
	case lcInvalid, lcUsage:
		why = "launchctl did not accept its arguments; this is a bug in cco, please report it with this message"
	default:
		why = "`launchctl error " + strconv.Itoa(out.Code) + "` names the code"
	}
	return fmt.Errorf("%s failed (exit %d: %s)\n%s", shellJoin(args), out.Code, said, why)
}

// argsDomain finds the domain (gui/501) in a launchctl command line.
func argsDomain(args []string) string {
	for _, a := range args {
		if strings.HasPrefix(a, "gui/") || strings.HasPrefix(a, "user/") {
			parts := strings.SplitN(a, "/", 3)
			return parts[0] + "/" + parts[1]
		}
	}
	return ""
}

func (m *launchd) cmd(done string, args ...string) Step {
	return Step{Kind: Run, Args: append([]string{launchctl}, args...), Done: done}
}

// bootout unloads the job and waits until launchd says it is gone: the
// command itself returns while the job is still stopping.
func (m *launchd) bootout(st State) Step {
	s := m.cmd("unloaded the job", "bootout", m.target(st))
	// Not loaded: the goal holds. In progress: a bootout is under way
	// already, and the wait covers it.
	s.ok = []int{lcNoSuchProc, lcNoService, lcInProgress, lcAlready}
	s.wait = waitGone
	return s
}

func (m *launchd) bootstrap(st State) Step {
	s := m.cmd("loaded the job into "+m.domainOf(st), "bootstrap", m.domainOf(st), m.path)
	s.bootstrap = true
	return s
}

// kickstart starts the job if it is not running. Never with -k: that
// SIGKILLs a running daemon.
func (m *launchd) kickstart(st State) Step {
	return m.cmd("started", "kickstart", m.target(st))
}

// term sends SIGTERM through launchd. The daemon exits 0, and KeepAlive's
// SuccessfulExit=false keeps a job that exited cleanly down: it stays
// loaded, stopped. A job that stopped meanwhile is not an error. The step
// does not wait: cco waits for the daemon's lock, with its own timeout.
func (m *launchd) term(st State) Step {
	s := m.cmd("asked the daemon to stop (the job stays loaded)", "kill", "SIGTERM", m.target(st))
	s.ok = []int{lcNoSuchProc, lcNoService}
	return s
}

func (m *launchd) enable(st State) Step {
	return m.cmd("enabled: loads at login", "enable", m.target(st))
}

func (m *launchd) disable(st State) Step {
	return m.cmd("disabled: does not load at login", "disable", m.target(st))
}

// Install writes the plist and loads it. A changed plist is loaded anew
// (bootout, then bootstrap): launchd reads a plist only when it loads it.
// enable comes before bootstrap: launchd refuses to bootstrap a disabled
// job. Whether the daemon starts at login is the plist's RunAtLoad
// (auto_start); with NoStart the job is left for launchd to load at the
// next login.
func (m *launchd) Install(cur State, content []byte, o InstallOptions) Plan {
	if err := m.foreign(cur); err != nil {
		return Plan{Err: err}
	}
	var p Plan
	changed := !equalContent(cur.Content, content)
	if changed {
		if cur.Loaded {
			p.Steps = append(p.Steps, m.bootout(cur))
		}
		done := "installed " + m.path
		if cur.Installed() {
			done = "updated " + m.path
		}
		p.Steps = append(p.Steps, Step{Kind: Write, Path: m.path, Content: content, Old: cur.Content, Done: done})
	}
	if !cur.Enabled {
		p.Steps = append(p.Steps, m.enable(cur))
	}
	if !o.NoStart {
		if changed || !cur.Loaded {
			p.Steps = append(p.Steps, m.bootstrap(cur))
		}
		if changed || !cur.Active {
			p.Steps = append(p.Steps, m.kickstart(cur))
		}
	}
	if len(p.Steps) == 0 {
		p.Idle = identity.LaunchdLabel + " is up to date"
	}
	return p
}

// Uninstall unloads the job and removes the plist. It first clears a
// `disable` from launchd's overrides: launchd keeps that mark after the
// plist is gone, and a later install would find the job disabled.
func (m *launchd) Uninstall(cur State) Plan {
	if !cur.Installed() && !cur.Loaded {
		return Plan{Idle: identity.LaunchdLabel + " is not installed"}
	}
	var p Plan
	if cur.Foreign != "" {
		p.Notes = append(p.Notes, m.foreign(cur).Error())
	} else {
		if !cur.Enabled {
			p.Steps = append(p.Steps, m.cmd("cleared launchd's disabled mark", "enable", m.target(cur)))
		}
		if cur.Loaded {
			p.Steps = append(p.Steps, m.bootout(cur))
		}
	}
	if cur.Installed() {
		p.Steps = append(p.Steps, Step{Kind: Remove, Path: m.path, Done: "removed " + m.path})
	}
	if len(p.Steps) == 0 {
		p.Idle = identity.LaunchdLabel + " is not installed by cco"
	}
	return p
}

func (m *launchd) notInstalled() error {
	return fmt.Errorf("the %s is not installed (no %s): run `cco daemon install` first", m.Name(), m.path)
}

// usable is the check before start, stop, restart, enable and disable.
func (m *launchd) usable(cur State) error {
	if err := m.foreign(cur); err != nil {
		return err
	}
	if !cur.Installed() {
		return m.notInstalled()
	}
	return nil
}

// start loads the job if needed and starts it. A disabled job is loaded
// for this session only: enabled to be bootstrapped, then disabled again,
// so that it still does not load at login.
func (m *launchd) start(cur State) []Step {
	var steps []Step
	if !cur.Loaded {
		if !cur.Enabled {
			steps = append(steps, m.cmd("enabled for this session", "enable", m.target(cur)))
		}
		steps = append(steps, m.bootstrap(cur))
		if !cur.Enabled {
			steps = append(steps, m.cmd("disabled again: does not load at login", "disable", m.target(cur)))
		}
	}
	return append(steps, m.kickstart(cur))
}

func (m *launchd) Enable(cur State, now bool) (Plan, error) {
	if err := m.usable(cur); err != nil {
		return Plan{}, err
	}
	p := Plan{Steps: []Step{m.enable(cur)}}
	if now {
		cur.Enabled = true
		p.Steps = append(p.Steps, m.start(cur)...)
	}
	return p, nil
}

// Disable marks the job disabled, so that launchd does not load it at the
// next login; it stays loaded now. With now it also stops the daemon.
func (m *launchd) Disable(cur State, now bool) (Plan, error) {
	if err := m.usable(cur); err != nil {
		return Plan{}, err
	}
	p := Plan{Steps: []Step{m.disable(cur)}}
	if now && cur.Active {
		p.Steps = append(p.Steps, m.term(cur))
	}
	return p, nil
}

func (m *launchd) Start(cur State) (Plan, error) {
	if err := m.usable(cur); err != nil {
		return Plan{}, err
	}
	return Plan{Steps: m.start(cur)}, nil
}

// Stop signals the daemon through launchd and leaves the job loaded:
// unloading it would also undo the login item until the next login.
func (m *launchd) Stop(cur State) (Plan, error) {
	if err := m.usable(cur); err != nil {
		return Plan{}, err
	}
	if !cur.Active {
		return Plan{Idle: identity.LaunchdLabel + " is not running"}, nil
	}
	return Plan{Steps: []Step{m.term(cur)}}, nil
}

// Restart stops the daemon, waits until launchd says it is no longer
// running, then starts it: a kickstart while the old daemon still runs
// would do nothing, and the old one's clean exit would then keep the job
// down.
func (m *launchd) Restart(cur State) (Plan, error) {
	if err := m.usable(cur); err != nil {
		return Plan{}, err
	}
	if !cur.Active {
		return Plan{Steps: m.start(cur)}, nil
	}
	stop := m.term(cur)
	stop.wait = waitStopped
	return Plan{Steps: []Step{stop, m.kickstart(cur)}}, nil
}

// Kill unloads a job whose daemon ignored SIGTERM, without waiting: launchd
// must not restart the daemon that cco then kills (a death by signal is not
// a successful exit). The job is loaded again by `cco daemon start`.
func (m *launchd) Kill(cur State) (Plan, error) {
	if err := m.usable(cur); err != nil {
		return Plan{}, err
	}
	if !cur.Loaded {
		return Plan{Idle: identity.LaunchdLabel + " is not loaded"}, nil
	}
	s := m.cmd("unloaded the job: `cco daemon start` loads it again", "bootout", m.target(cur))
	s.ok = []int{lcNoSuchProc, lcNoService, lcInProgress, lcAlready}
	return Plan{Steps: []Step{s}}, nil
}

var _ Killer = (*launchd)(nil)
