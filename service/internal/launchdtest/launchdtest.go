//go:build unix

// Package launchdtest is a launchd for tests on machines without one: a
// service.Runner that answers /bin/launchctl as launchd does, by what
// launchd.plist(5), launchctl(1) and field reports say, and runs the jobs'
// real processes from the plists it is given.
//
// What it does as launchd does:
//   - bootout returns at once; the job stays listed while its process stops
//     (SIGTERM, then SIGKILL after ExitTimeOut) and for a while after
//     (Window): a bootstrap of the same label then fails with 5, a
//     kickstart or a second bootout with 37, and print still shows the job;
//   - RunAtLoad starts a job when it is loaded; KeepAlive true, or a
//     KeepAlive dictionary with SuccessfulExit, implies it;
//   - a job whose exit KeepAlive covers is started again ThrottleInterval
//     after its last start;
//   - LimitLoadToSessionType: gui/<uid> loads Aqua agents (the default),
//     user/<uid> only agents that list Background; others fail with 5;
//   - bootstrap of a loaded or disabled label fails with 5 (a disabled
//     agent: NoeFabris/opencode-antigravity-auth issue #543), into a
//     missing gui domain with 125; a plist others can write fails with 122;
//   - Login loads the agents in ~/Library/LaunchAgents that are not
//     disabled, as a login at the screen does.
//
// Times taken from plists (ExitTimeOut, ThrottleInterval) are multiplied
// by Scale, so that tests need not wait for launchd's seconds.
package launchdtest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/anthropics/cco/service"
)

// Launchctl is the path the fake answers to: the real one's.
const Launchctl = "/bin/launchctl"

// Defaults of launchd for keys a plist leaves out (`launchctl print`
// shows "exit timeout = 5" and "minimum runtime = 10" for such jobs).
const (
	defaultExitTimeOut = 5
	defaultThrottle    = 10
)

// Launchd is one user's launchd: the gui/<uid> domain while someone is
// logged in at the screen, and user/<uid>, which always exists.
type Launchd struct {
	UID  int
	Home string // where Login finds Library/LaunchAgents
	// Scale multiplies ExitTimeOut and ThrottleInterval; 0 means 1.
	Scale float64
	// Window is how long a booted-out job stays listed after its process
	// exited, refusing a new bootstrap.
	Window time.Duration
	// Env is added to every job's environment (`launchctl setenv`).
	Env []string

	mu       sync.Mutex
	gui      bool
	jobs     map[string]*job            // by domain + "/" + label
	disabled map[string]map[string]bool // domain -> label -> disabled
	calls    []string
	procs    sync.WaitGroup
}

// New is a launchd for uid, with the gui session up when gui is true.
func New(uid int, home string, gui bool) *Launchd {
	return &Launchd{UID: uid, Home: home, gui: gui, Window: 200 * time.Millisecond,
		jobs: map[string]*job{}, disabled: map[string]map[string]bool{}}
}

type job struct {
	domain, label, path string
	plist               map[string]any
	cmd                 *exec.Cmd
	pid                 int
	runs                int
	lastExit            string // as print says it
	lastStart           time.Time
	removing            bool
	killTimer, respawn  *time.Timer
	exited              chan struct{} // closed when the current process is reaped
}

// Job is what a test may see of a loaded job.
type Job struct {
	Path     string
	PID      int // 0 when not running
	Runs     int
	LastExit string
	// Removing: booted out and going away.
	Removing bool
	// Respawn: a new start is scheduled (KeepAlive after an exit).
	Respawn bool
}

// Job returns the job of label in domain ("gui/501"), and whether it is
// loaded there.
func (l *Launchd) Job(domain, label string) (Job, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	j := l.jobs[domain+"/"+label]
	if j == nil {
		return Job{}, false
	}
	return Job{Path: j.path, PID: j.pid, Runs: j.runs, LastExit: j.lastExit, Removing: j.removing, Respawn: j.respawn != nil}, true
}

// Calls returns the launchctl command lines run so far, and forgets them.
func (l *Launchd) Calls() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	c := l.calls
	l.calls = nil
	return c
}

func (l *Launchd) scaled(seconds int64) time.Duration {
	s := l.Scale
	if s == 0 {
		s = 1
	}
	return time.Duration(float64(seconds) * s * float64(time.Second))
}

func (l *Launchd) guiDomain() string  { return "gui/" + strconv.Itoa(l.UID) }
func (l *Launchd) userDomain() string { return "user/" + strconv.Itoa(l.UID) }

func (l *Launchd) domainExists(d string) bool {
	return d == l.userDomain() || (d == l.guiDomain() && l.gui)
}

// sessionType is the session type of a domain's agents.
func (l *Launchd) sessionType(d string) string {
	if d == l.guiDomain() {
		return "Aqua"
	}
	return "Background"
}

func out(code int, stderr string) service.Output {
	return service.Output{Code: code, Stderr: stderr}
}

// Run implements service.Runner for /bin/launchctl.
func (l *Launchd) Run(ctx context.Context, name string, args ...string) (service.Output, error) {
	if name != Launchctl {
		return service.Output{}, &exec.Error{Name: name, Err: exec.ErrNotFound}
	}
	if err := ctx.Err(); err != nil {
		return service.Output{}, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.calls = append(l.calls, strings.Join(append([]string{"launchctl"}, args...), " "))
	if len(args) == 0 {
		return out(64, "Usage: launchctl <subcommand> ... | help [subcommand]\n"), nil
	}
	switch {
	case args[0] == "bootstrap" && len(args) == 3:
		return l.bootstrap(args[1], args[2]), nil
	case args[0] == "bootout" && len(args) == 2:
		return l.bootout(args[1]), nil
	case args[0] == "kickstart" && len(args) == 2:
		return l.kickstart(args[1], false), nil
	case args[0] == "kickstart" && len(args) == 3 && args[1] == "-k":
		return l.kickstart(args[2], true), nil
	case args[0] == "kill" && len(args) == 3:
		return l.kill(args[1], args[2]), nil
	case args[0] == "print" && len(args) == 2:
		return l.print(args[1]), nil
	case (args[0] == "enable" || args[0] == "disable") && len(args) == 2:
		return l.setDisabled(args[1], args[0] == "disable"), nil
	case args[0] == "print-disabled" && len(args) == 2:
		return l.printDisabled(args[1]), nil
	}
	return out(64, "Unrecognized subcommand or usage: "+strings.Join(args, " ")+"\n"), nil
}

// split cuts a service target "gui/501/label" into domain and label.
func split(target string) (domain, label string) {
	parts := strings.SplitN(target, "/", 3)
	if len(parts) < 2 {
		return target, ""
	}
	domain = parts[0] + "/" + parts[1]
	if len(parts) == 3 {
		label = parts[2]
	}
	return domain, label
}

func (l *Launchd) bootstrap(domain, path string) service.Output {
	const failed = "Bootstrap failed: "
	if !l.domainExists(domain) {
		return out(125, failed+"125: Domain does not support specified action\n")
	}
	ioError := out(5, failed+"5: Input/output error\nTry re-running the command as root for richer errors.\n")
	fi, err := os.Stat(path)
	if err != nil {
		return out(2, failed+"2: No such file or directory\n")
	}
	if fi.Mode().Perm()&0o022 != 0 {
		return out(122, failed+"122: Path had bad ownership/permissions\n")
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return ioError
	}
	p, err := ParsePlist(b)
	if err != nil {
		return ioError
	}
	label, _ := p["Label"].(string)
	if label == "" {
		return ioError
	}
	if _, ok := l.jobs[domain+"/"+label]; ok {
		return ioError // loaded already, or still going away
	}
	if l.disabled[domain][label] {
		return ioError
	}
	if !sessionAllowed(p, l.sessionType(domain)) {
		return ioError
	}
	l.load(domain, path, p)
	return service.Output{}
}

// sessionAllowed applies LimitLoadToSessionType (a string or an array;
// agents default to Aqua).
func sessionAllowed(p map[string]any, session string) bool {
	switch v := p["LimitLoadToSessionType"].(type) {
	case nil:
		return session == "Aqua"
	case string:
		return v == session
	case []any:
		for _, s := range v {
			if s == session {
				return true
			}
		}
	}
	return false
}

// load adds the job to its domain and starts it if RunAtLoad, or a
// KeepAlive that implies it, says so.
func (l *Launchd) load(domain, path string, p map[string]any) {
	label := p["Label"].(string)
	j := &job{domain: domain, label: label, path: path, plist: p, lastExit: "(never exited)"}
	l.jobs[domain+"/"+label] = j
	if runAtLoad(p) {
		l.spawn(j)
	}
}

func runAtLoad(p map[string]any) bool {
	if b, _ := p["RunAtLoad"].(bool); b {
		return true
	}
	switch k := p["KeepAlive"].(type) {
	case bool:
		return k
	case map[string]any:
		_, ok := k["SuccessfulExit"]
		return ok
	}
	return false
}

// keepAlive says whether launchd starts the job again after an exit with
// status code (or death by signal sig, when sig != 0).
func keepAlive(p map[string]any, code int, sig syscall.Signal) bool {
	switch k := p["KeepAlive"].(type) {
	case bool:
		return k
	case map[string]any:
		clean := sig == 0 && code == 0
		if v, ok := k["SuccessfulExit"].(bool); ok && v == clean {
			return true
		}
		crash := sig == syscall.SIGSEGV || sig == syscall.SIGBUS || sig == syscall.SIGILL || sig == syscall.SIGABRT || sig == syscall.SIGFPE
		if v, ok := k["Crashed"].(bool); ok && v == crash {
			return true
		}
	}
	return false
}

func intKey(p map[string]any, key string, def int64) int64 {
	if v, ok := p[key].(int64); ok {
		return v
	}
	return def
}

func (l *Launchd) jobEnv(j *job) []string {
	env := map[string]string{
		"PATH": "/usr/bin:/bin:/usr/sbin:/sbin", "HOME": l.Home, "XPC_SERVICE_NAME": j.label, "XPC_FLAGS": "0x0",
		"TMPDIR": os.TempDir(),
	}
	for _, kv := range l.Env {
		if k, v, ok := strings.Cut(kv, "="); ok {
			env[k] = v
		}
	}
	if vars, ok := j.plist["EnvironmentVariables"].(map[string]any); ok {
		for k, v := range vars {
			if s, ok := v.(string); ok {
				env[k] = s
			}
		}
	}
	var list []string
	for k, v := range env {
		list = append(list, k+"="+v)
	}
	sort.Strings(list)
	return list
}

// spawn starts the job's process, as launchd would: its ProgramArguments,
// environment, working directory and output files.
func (l *Launchd) spawn(j *job) {
	if j.respawn != nil {
		j.respawn.Stop()
		j.respawn = nil
	}
	j.runs++
	j.lastStart = time.Now()
	fail := func(code int) { j.lastExit = strconv.Itoa(code) }
	args, _ := j.plist["ProgramArguments"].([]any)
	if len(args) == 0 {
		fail(78) // EX_CONFIG, as launchd reports a job it cannot run
		return
	}
	argv := make([]string, len(args))
	for i, a := range args {
		argv[i], _ = a.(string)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = l.jobEnv(j)
	cmd.Dir = "/"
	if wd, ok := j.plist["WorkingDirectory"].(string); ok {
		cmd.Dir = wd
	}
	var files []*os.File
	for _, k := range []string{"StandardOutPath", "StandardErrorPath"} {
		p, ok := j.plist[k].(string)
		if !ok {
			continue
		}
		f, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
		if err != nil {
			fail(78)
			return
		}
		files = append(files, f)
		if k == "StandardOutPath" {
			cmd.Stdout = f
		} else {
			cmd.Stderr = f
		}
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	err := cmd.Start()
	for _, f := range files {
		f.Close()
	}
	if err != nil {
		fail(78)
		return
	}
	j.cmd, j.pid = cmd, cmd.Process.Pid
	exited := make(chan struct{})
	j.exited = exited
	l.procs.Add(1)
	go func() {
		defer l.procs.Done()
		cmd.Wait()
		l.mu.Lock()
		defer l.mu.Unlock()
		close(exited)
		l.reaped(j, cmd)
	}()
}

// reaped handles the exit of the job's process: it records how it ended,
// finishes a bootout, or starts the job again if KeepAlive says so.
func (l *Launchd) reaped(j *job, cmd *exec.Cmd) {
	if j.cmd != cmd {
		return
	}
	j.cmd, j.pid = nil, 0
	if j.killTimer != nil {
		j.killTimer.Stop()
		j.killTimer = nil
	}
	ws := cmd.ProcessState.Sys().(syscall.WaitStatus)
	var sig syscall.Signal
	code := ws.ExitStatus()
	if ws.Signaled() {
		sig = ws.Signal()
		j.lastExit = "(signal) " + sig.String()
	} else {
		j.lastExit = strconv.Itoa(code)
	}
	if j.removing {
		l.forget(j)
		return
	}
	if !keepAlive(j.plist, code, sig) {
		return
	}
	throttle := l.scaled(intKey(j.plist, "ThrottleInterval", defaultThrottle))
	delay := max(time.Until(j.lastStart.Add(throttle)), 0)
	j.respawn = time.AfterFunc(delay, func() {
		l.mu.Lock()
		defer l.mu.Unlock()
		if l.jobs[j.domain+"/"+j.label] == j && !j.removing && j.pid == 0 && j.respawn != nil {
			j.respawn = nil
			l.spawn(j)
		}
	})
}

// forget removes a booted-out job from its domain after Window.
func (l *Launchd) forget(j *job) {
	time.AfterFunc(l.Window, func() {
		l.mu.Lock()
		defer l.mu.Unlock()
		if l.jobs[j.domain+"/"+j.label] == j {
			delete(l.jobs, j.domain+"/"+j.label)
		}
	})
}

func (l *Launchd) notFound(label string) service.Output {
	return out(113, fmt.Sprintf("Could not find service %q in domain for port\n", label))
}

// bootout starts unloading the job and returns at once: SIGTERM now,
// SIGKILL after ExitTimeOut; the job leaves the domain Window after its
// process is gone.
func (l *Launchd) bootout(target string) service.Output {
	domain, label := split(target)
	j := l.jobs[domain+"/"+label]
	if j == nil {
		return out(113, "Boot-out failed: 113: Could not find specified service\n")
	}
	if j.removing {
		return out(37, "Boot-out failed: 37: Operation already in progress\n")
	}
	j.removing = true
	if j.respawn != nil {
		j.respawn.Stop()
		j.respawn = nil
	}
	if j.pid == 0 {
		l.forget(j)
		return service.Output{}
	}
	l.stop(j)
	return service.Output{}
}

// stop sends SIGTERM, and SIGKILL ExitTimeOut later if the process is
// still there.
func (l *Launchd) stop(j *job) {
	cmd := j.cmd
	syscall.Kill(j.pid, syscall.SIGTERM)
	j.killTimer = time.AfterFunc(l.scaled(intKey(j.plist, "ExitTimeOut", defaultExitTimeOut)), func() {
		l.mu.Lock()
		defer l.mu.Unlock()
		if j.cmd == cmd && j.pid != 0 {
			syscall.Kill(j.pid, syscall.SIGKILL)
		}
	})
}

func (l *Launchd) kickstart(target string, kill bool) service.Output {
	domain, label := split(target)
	j := l.jobs[domain+"/"+label]
	if j == nil {
		return l.notFound(label)
	}
	if j.removing {
		return out(37, "Could not kickstart service: 37: Operation already in progress\n")
	}
	if j.pid != 0 {
		if !kill {
			return service.Output{}
		}
		// -k: SIGKILL, then a start as soon as it is reaped.
		cmd, exited := j.cmd, j.exited
		syscall.Kill(j.pid, syscall.SIGKILL)
		go func() {
			<-exited
			l.mu.Lock()
			defer l.mu.Unlock()
			if l.jobs[domain+"/"+label] == j && !j.removing && j.pid == 0 && j.cmd != cmd {
				l.spawn(j)
			}
		}()
		return service.Output{}
	}
	l.spawn(j)
	return service.Output{}
}

func (l *Launchd) kill(sig, target string) service.Output {
	s, ok := signals[strings.TrimPrefix(strings.ToUpper(sig), "SIG")]
	if !ok {
		if n, err := strconv.Atoi(sig); err == nil {
			s, ok = syscall.Signal(n), true
		}
	}
	if !ok {
		return out(22, "Invalid signal: "+sig+"\n")
	}
	domain, label := split(target)
	j := l.jobs[domain+"/"+label]
	if j == nil {
		return l.notFound(label)
	}
	if j.pid == 0 {
		return out(3, "Could not kill service: 3: No such process\n")
	}
	syscall.Kill(j.pid, s)
	return service.Output{}
}

var signals = map[string]syscall.Signal{
	"TERM": syscall.SIGTERM, "KILL": syscall.SIGKILL, "HUP": syscall.SIGHUP, "INT": syscall.SIGINT,
	"STOP": syscall.SIGSTOP, "CONT": syscall.SIGCONT,
}

func (l *Launchd) setDisabled(target string, disabled bool) service.Output {
	domain, label := split(target)
	if !l.domainExists(domain) {
		return out(112, "Could not find domain for port identifier: "+domain+"\n")
	}
	if l.disabled[domain] == nil {
		l.disabled[domain] = map[string]bool{}
	}
	l.disabled[domain][label] = disabled
	return service.Output{}
}

// printDisabled prints the override database of a domain, shaped like
// macOS 13's:
//
//	disabled services = {
//		"com.apple.ScreenReaderUIServer" => disabled
//		"com.example.agent" => enabled
//	}
func (l *Launchd) printDisabled(domain string) service.Output {
	if !l.domainExists(domain) {
		return out(112, "Could not find domain for port identifier: "+domain+"\n")
	}
	var b strings.Builder
	b.WriteString("disabled services = {\n")
	labels := make([]string, 0, len(l.disabled[domain]))
	for label := range l.disabled[domain] {
		labels = append(labels, label)
	}
	sort.Strings(labels)
	for _, label := range labels {
		word := "enabled"
		if l.disabled[domain][label] {
			word = "disabled"
		}
		fmt.Fprintf(&b, "\t%q => %s\n", label, word)
	}
	b.WriteString("}\n")
	return service.Output{Stdout: b.String()}
}

func (l *Launchd) print(target string) service.Output {
	domain, label := split(target)
	if !l.domainExists(domain) {
		return out(112, "Could not find domain for port identifier: "+domain+"\n")
	}
	if label == "" {
		return service.Output{Stdout: domain + " = {\n\ttype = " + map[bool]string{true: "login", false: "user"}[domain == l.guiDomain()] + "\n\thandle = " + strconv.Itoa(l.UID) + "\n}\n"}
	}
	j := l.jobs[domain+"/"+label]
	if j == nil {
		return l.notFound(label)
	}
	return service.Output{Stdout: j.describe(l.scaled)}
}

// describe prints a job the way `launchctl print gui/501/<label>` does.
// The shape follows published captures: macOS 13's
// `launchctl print user/501/com.apple.iCloudHelper` (glowinthedark/pylaunchd
// pull request #1), `launchctl print system/com.wazuh.agent` on macOS 13
// (wazuh/wazuh-packages issue #1917) and `launchctl print system/dev.mysql`
// (boxen/puppet-boxen issue #104): `key = value` lines at the top level,
// nested `name = { … }`
// blocks (arguments, environment, endpoints) with their own `key = value`
// and `KEY => value` lines, a blank line between groups.
func (j *job) describe(scaled func(int64) time.Duration) string {
	var b strings.Builder
	active := 0
	state := "not running"
	switch {
	case j.pid != 0:
		active, state = 1, "running"
	case j.respawn != nil:
		state = "spawn scheduled"
	}
	fmt.Fprintf(&b, "%s/%s = {\n", j.domain, j.label)
	fmt.Fprintf(&b, "\tactive count = %d\n\tpath = %s\n\ttype = LaunchAgent\n\tstate = %s\n\n", active, j.path, state)
	args, _ := j.plist["ProgramArguments"].([]any)
	if len(args) > 0 {
		fmt.Fprintf(&b, "\tprogram = %v\n\targuments = {\n", args[0])
		for _, a := range args {
			fmt.Fprintf(&b, "\t\t%v\n", a)
		}
		b.WriteString("\t}\n\n")
	}
	if wd, ok := j.plist["WorkingDirectory"].(string); ok {
		fmt.Fprintf(&b, "\tworking directory = %s\n\n", wd)
	}
	if p, ok := j.plist["StandardOutPath"].(string); ok {
		fmt.Fprintf(&b, "\tstdout path = %s\n", p)
	}
	if p, ok := j.plist["StandardErrorPath"].(string); ok {
		fmt.Fprintf(&b, "\tstderr path = %s\n", p)
	}
	b.WriteString("\tdefault environment = {\n\t\tPATH => /usr/bin:/bin:/usr/sbin:/sbin\n\t}\n\n\tenvironment = {\n")
	if vars, ok := j.plist["EnvironmentVariables"].(map[string]any); ok {
		keys := make([]string, 0, len(vars))
		for k := range vars {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			fmt.Fprintf(&b, "\t\t%s => %v\n", k, vars[k])
		}
	}
	fmt.Fprintf(&b, "\t\tXPC_SERVICE_NAME => %s\n\t}\n\n", j.label)
	fmt.Fprintf(&b, "\tdomain = %s\n\tminimum runtime = %d\n\texit timeout = %d\n\truns = %d\n",
		j.domain, intKey(j.plist, "ThrottleInterval", defaultThrottle), intKey(j.plist, "ExitTimeOut", defaultExitTimeOut), j.runs)
	if j.pid != 0 {
		fmt.Fprintf(&b, "\tpid = %d\n", j.pid)
	}
	fmt.Fprintf(&b, "\tlast exit code = %s\n\n", j.lastExit)
	// An endpoint block carries its own state- and pid-like lines: a
	// reader must take only the top level.
	fmt.Fprintf(&b, "\tendpoints = {\n\t\t\"%s.xpc\" = {\n\t\t\tport = 0x1a03\n\t\t\tactive = 0\n\t\t\tmanaged = 1\n\t\t\tstate = waiting\n\t\t\tpid = 1\n\t\t}\n\t}\n\n", j.label)
	b.WriteString("\tproperties = ")
	var props []string
	if k, ok := j.plist["KeepAlive"]; ok && k != false {
		props = append(props, "keepalive")
	}
	if runAtLoad(j.plist) {
		props = append(props, "runatload")
	}
	props = append(props, "inferred program")
	b.WriteString(strings.Join(props, " | ") + "\n}\n")
	return b.String()
}

// Login is a login at the screen: a gui domain that exists, into which
// launchd loads the agents of ~/Library/LaunchAgents that allow Aqua and
// are not disabled there. A gui session that was up is logged out first.
func (l *Launchd) Login() error {
	l.Logout()
	l.mu.Lock()
	defer l.mu.Unlock()
	l.gui = true
	dir := filepath.Join(l.Home, "Library", "LaunchAgents")
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	d := l.guiDomain()
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".plist") {
			continue
		}
		path := filepath.Join(dir, e.Name())
		b, err := os.ReadFile(path)
		if err != nil {
			continue
		}
		p, err := ParsePlist(b)
		if err != nil {
			continue
		}
		label, _ := p["Label"].(string)
		if label == "" || l.disabled[d][label] || !sessionAllowed(p, "Aqua") || l.jobs[d+"/"+label] != nil {
			continue
		}
		l.load(d, path, p)
	}
	return nil
}

// Logout ends the gui session: its jobs are stopped (SIGTERM, SIGKILL
// after ExitTimeOut) and the domain goes away once they are gone.
func (l *Launchd) Logout() {
	l.mu.Lock()
	var wait []chan struct{}
	for _, j := range l.jobs {
		if j.domain != l.guiDomain() {
			continue
		}
		if j.pid != 0 && !j.removing {
			j.removing = true
			l.stop(j)
		}
		if j.pid != 0 {
			wait = append(wait, j.exited)
		}
	}
	l.mu.Unlock()
	for _, ch := range wait {
		<-ch
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	for k, j := range l.jobs {
		if j.domain == l.guiDomain() {
			if j.respawn != nil {
				j.respawn.Stop()
			}
			delete(l.jobs, k)
		}
	}
	l.gui = false
}

// Close kills every process the fake started and waits for them.
func (l *Launchd) Close() {
	l.mu.Lock()
	for _, j := range l.jobs {
		j.removing = true
		if j.respawn != nil {
			j.respawn.Stop()
			j.respawn = nil
		}
		if j.pid != 0 {
			syscall.Kill(j.pid, syscall.SIGKILL)
		}
	}
	l.mu.Unlock()
	l.procs.Wait()
}
