package service

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/anthropics/cco/service/identity"
)

// launchctl exit codes cco acts on or explains. launchctl exits with an
// errno (BSD) or one of launchd's own codes; `launchctl error N` names any.
const (
	lcNotPermitted = 1   // EPERM
	lcNoSuchProc   = 3   // ESRCH: no such process — the job is not loaded
	lcIOError      = 5   // EIO: bootstrap refused
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

// bootstrapTries bounds the tries of a bootstrap that follows a bootout:
// launchd answers 5 until the old job is fully gone. The waits between
// them double from 50 ms: 1.55 s in all.
const bootstrapTries = 6

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

// domain picks the launchd domain: gui/<uid> in a desktop session,
// user/<uid> over SSH or wherever there is no GUI session, since the gui
// domain exists only for a user logged in at the screen.
func (m *launchd) domain(ctx context.Context) (string, error) {
	if m.env.Getenv("SSH_CONNECTION") != "" {
		return m.user(), nil
	}
	out, err := m.env.Runner.Run(ctx, "launchctl", "print", m.gui())
	if err != nil {
		return "", m.notFound(err)
	}
	if out.Code != 0 {
		return m.user(), nil
	}
	return m.gui(), nil
}

func (m *launchd) notFound(err error) error {
	return fmt.Errorf("%w: managing the %s needs macOS's launchctl", err, m.Name())
}

var (
	printState = regexp.MustCompile(`(?m)^\s*state = (.+)$`)
	printPID   = regexp.MustCompile(`(?m)^\s*pid = (\d+)$`)
	printRuns  = regexp.MustCompile(`(?m)^\s*runs = (\d+)$`)
	// print-disabled lists `"label" => disabled` (older: `=> true`).
	disabledLine = regexp.MustCompile(`"` + regexp.QuoteMeta(identity.LaunchdLabel) + `" => (\w+)`)
)

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
	out, err := m.env.Runner.Run(ctx, "launchctl", "print", m.target(st))
	if err != nil {
		return st, m.notFound(err)
	}
	switch out.Code {
	case 0:
		st.Loaded = true
		if s := printState.FindStringSubmatch(out.Stdout); s != nil {
			st.Detail = strings.TrimSpace(s[1])
			st.Active = st.Detail == "running"
		}
		if s := printPID.FindStringSubmatch(out.Stdout); s != nil {
			st.PID, _ = strconv.Atoi(s[1])
		}
		if s := printRuns.FindStringSubmatch(out.Stdout); s != nil {
			runs, _ := strconv.Atoi(s[1])
			st.Restarts = max(runs-1, 0)
		}
	case lcNoSuchProc, lcNoService:
		st.Detail = "not loaded"
	default:
		return st, m.explain([]string{"launchctl", "print", m.target(st)}, out)
	}
	out, err = m.env.Runner.Run(ctx, "launchctl", "print-disabled", st.Domain)
	if err != nil {
		return st, m.notFound(err)
	}
	if out.Code != 0 {
		return st, m.explain([]string{"launchctl", "print-disabled", st.Domain}, out)
	}
	st.Enabled = true
	if s := disabledLine.FindStringSubmatch(out.Stdout); s != nil {
		st.Enabled = s[1] != "disabled" && s[1] != "true"
	}
	return st, nil
}

// target is the job's service target: gui/501/com.anthropic.cco.daemon.
func (m *launchd) target(st State) string { return m.domainOf(st) + "/" + identity.LaunchdLabel }

// domainOf is the state's domain; a preview that probed nothing assumes
// the gui domain, or the user domain over SSH.
func (m *launchd) domainOf(st State) string {
	switch {
	case st.Domain != "":
		return st.Domain
	case m.env.Getenv("SSH_CONNECTION") != "":
		return m.user()
	}
	return m.gui()
}

func (m *launchd) Apply(ctx context.Context, p Plan, done func(Step)) error {
	return apply(ctx, p, done, m.runStep)
}

func (m *launchd) runStep(ctx context.Context, s Step) error {
	for attempt := 0; ; attempt++ {
		out, err := m.env.Runner.Run(ctx, s.Args[0], s.Args[1:]...)
		if err != nil {
			return m.notFound(err)
		}
		if s.okCode(out.Code) {
			return nil
		}
		if !s.bootstrap || (out.Code != lcIOError && out.Code != lcExists && out.Code != lcAlready) {
			return m.explain(s.Args, out)
		}
		// A bootstrap refused with 5, 17 or 37: either the job is loaded
		// already (the goal holds) or the job booted out just before is
		// still going away (try again shortly).
		if p, err := m.env.Runner.Run(ctx, "launchctl", "print", argsDomain(s.Args)+"/"+identity.LaunchdLabel); err == nil && p.Code == 0 {
			return nil
		}
		if attempt == bootstrapTries-1 {
			return m.explain(s.Args, out)
		}
		m.env.sleep(50 * time.Millisecond << attempt)
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
		why = "5 is launchd's Input/output error: it refused to load the job. Usually the job is already loaded, " +
			"or was booted out an instant ago and is not gone yet, or the plist is invalid, or the job is disabled. " +
			"Check the plist with `plutil -lint " + m.path + "`, see `launchctl print " + domain + "/" + identity.LaunchdLabel + "`, " +
			"then run `cco daemon install` again"
	case lcNoSuchProc, lcNoService:
		why = "the job is not loaded in this domain: run `cco daemon start` (or `cco daemon install` if it is not installed)"
	case lcExists:
		why = "the job is already loaded: run `cco daemon restart` to restart it"
	case lcAlready, lcInProgress:
		why = "launchd is still starting or stopping the job: try again in a moment"
	case lcNotPermitted:
		why = "launchd refused the operation: run cco as the user who owns the session, not through sudo or su"
	case lcNoDomain, lcNotSupported:
		why = "the domain " + domain + " is not available here: the gui domain exists only for a user logged in at the screen; " +
			"over SSH cco uses user/" + strconv.Itoa(m.env.UID) + " — log in at the screen, or unset a stale SSH_CONNECTION"
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
	return Step{Kind: Run, Args: append([]string{"launchctl"}, args...), Done: done}
}

func (m *launchd) bootout(st State) Step {
	s := m.cmd("unloaded the job", "bootout", m.target(st))
	s.ok = []int{lcNoSuchProc, lcNoService}
	return s
}

func (m *launchd) bootstrap(st State) Step {
	s := m.cmd("loaded the job into "+m.domainOf(st), "bootstrap", m.domainOf(st), m.path)
	s.bootstrap = true
	return s
}

func (m *launchd) kickstart(st State, restart bool) Step {
	if restart {
		return m.cmd("restarted", "kickstart", "-k", m.target(st))
	}
	return m.cmd("started", "kickstart", m.target(st))
}

func (m *launchd) enable(st State) Step {
	return m.cmd("enabled: loads at login", "enable", m.target(st))
}

// Install writes the plist and loads it. enable comes before bootstrap:
// launchd refuses to bootstrap a disabled job. Whether the daemon starts at
// login is the plist's RunAtLoad (auto_start); with NoStart the job is left
// for launchd to load at the next login.
func (m *launchd) Install(cur State, content []byte, o InstallOptions) Plan {
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
			p.Steps = append(p.Steps, m.kickstart(cur, false))
		}
	}
	if len(p.Steps) == 0 {
		p.Idle = identity.LaunchdLabel + " is up to date"
	}
	return p
}

func (m *launchd) Uninstall(cur State) Plan {
	if !cur.Installed() && !cur.Loaded {
		return Plan{Idle: identity.LaunchdLabel + " is not installed"}
	}
	var p Plan
	if cur.Loaded {
		p.Steps = append(p.Steps, m.bootout(cur))
	}
	p.Steps = append(p.Steps, Step{Kind: Remove, Path: m.path, Done: "removed " + m.path})
	return p
}

func (m *launchd) notInstalled() error {
	return fmt.Errorf("the %s is not installed (no %s): run `cco daemon install` first", m.Name(), m.path)
}

// start loads the job if needed and starts it.
func (m *launchd) start(cur State) []Step {
	var steps []Step
	if !cur.Loaded {
		steps = append(steps, m.bootstrap(cur))
	}
	return append(steps, m.kickstart(cur, false))
}

func (m *launchd) Enable(cur State, now bool) (Plan, error) {
	if !cur.Installed() {
		return Plan{}, m.notInstalled()
	}
	p := Plan{Steps: []Step{m.enable(cur)}}
	if now {
		p.Steps = append(p.Steps, m.start(cur)...)
	}
	return p, nil
}

func (m *launchd) Disable(cur State, now bool) (Plan, error) {
	if !cur.Installed() {
		return Plan{}, m.notInstalled()
	}
	p := Plan{Steps: []Step{m.cmd("disabled: does not load at login", "disable", m.target(cur))}}
	if now && cur.Loaded {
		p.Steps = append(p.Steps, m.bootout(cur))
	}
	return p, nil
}

func (m *launchd) Start(cur State) (Plan, error) {
	if !cur.Installed() {
		return Plan{}, m.notInstalled()
	}
	return Plan{Steps: m.start(cur)}, nil
}

// Stop unloads the job: with KeepAlive, launchd would restart a daemon that
// was only signalled.
func (m *launchd) Stop(cur State) (Plan, error) {
	if !cur.Installed() {
		return Plan{}, m.notInstalled()
	}
	if !cur.Loaded {
		return Plan{Idle: identity.LaunchdLabel + " is not loaded"}, nil
	}
	return Plan{Steps: []Step{m.bootout(cur)}}, nil
}

func (m *launchd) Restart(cur State) (Plan, error) {
	if !cur.Installed() {
		return Plan{}, m.notInstalled()
	}
	if !cur.Loaded {
		return Plan{Steps: m.start(cur)}, nil
	}
	return Plan{Steps: []Step{m.kickstart(cur, true)}}, nil
}
