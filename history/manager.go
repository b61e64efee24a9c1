package history

import (
	"bufio"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/anthropics/cco/service/identity"
)

// StartedBy says who started this process, pid, from its environment: the
// supervisor sets StartedByEnv; systemd (248 and newer) sets
// SYSTEMD_EXEC_PID to the pid it executed, older ones only INVOCATION_ID;
// launchd sets XPC_SERVICE_NAME to the job's label. Anything else was
// started by hand. Inherited variables do not fool it: a shell started by a
// systemd service has INVOCATION_ID and SYSTEMD_EXEC_PID, but the latter
// names the shell's ancestor, not this process.
func StartedBy(getenv func(string) string, pid int) string {
	switch {
	case getenv(StartedByEnv) == BySupervisor:
		return BySupervisor
	case getenv("SYSTEMD_EXEC_PID") == strconv.Itoa(pid):
		return BySystemd
	case getenv("SYSTEMD_EXEC_PID") == "" && getenv("INVOCATION_ID") != "":
		return BySystemd
	case getenv("XPC_SERVICE_NAME") == identity.LaunchdLabel:
		return ByLaunchd
	}
	return ByHand
}

// StartedByEnv is the variable the supervisor sets in the daemon's
// environment, to BySupervisor.
const StartedByEnv = "CCO_STARTED_BY"

// ManagerView is what a service manager remembers of the daemon's last
// run, beside cco's own history.
type ManagerView struct {
	Manager string `json:"manager"` // "systemd" or "launchd"
	// Restarts: systemd's NRestarts (reset when the unit is stopped or
	// started by hand); under launchd, runs - 1.
	Restarts int `json:"restarts"`
	// Result is systemd's Result ("success", "exit-code", "signal",
	// "watchdog", ...); "" under launchd.
	Result string `json:"result"`
	// LastExit says how the last run ended, "killed by SIGKILL",
	// "exited 3"; "" when the manager knows of no exit.
	LastExit string `json:"last_exit"`
	// ExitTime is when, if the manager says.
	ExitTime *time.Time `json:"exit_time"`
}

// ParseSystemdShow reads `systemctl --user show` output with the
// properties NRestarts, Result, ExecMainStatus, ExecMainCode and
// ExecMainExitTimestamp (the service manager's State asks for them).
// ExecMainCode is a CLD_* code of waitid(2): 1 exited (ExecMainStatus is the
// exit status), 2 killed and 3 dumped (ExecMainStatus is the signal); 0 while
// the main process runs or never ran.
func ParseSystemdShow(out string) ManagerView {
	props := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), "="); ok {
			props[k] = v
		}
	}
	v := ManagerView{Manager: "systemd", Result: props["Result"]}
	v.Restarts, _ = strconv.Atoi(props["NRestarts"])
	status, _ := strconv.Atoi(props["ExecMainStatus"])
	switch props["ExecMainCode"] {
	case "1":
		v.LastExit = "exited " + strconv.Itoa(status)
	case "2":
		v.LastExit = "killed by " + signalName(status)
	case "3":
		v.LastExit = "killed by " + signalName(status) + " (core dumped)"
	}
	if t, err := time.Parse("Mon 2006-01-02 15:04:05 MST", props["ExecMainExitTimestamp"]); err == nil {
		v.ExitTime = &t
	}
	return v
}

// launchdPatterns are the lines ParseLaunchctlPrint reads, compiled on first
// use: only status on macOS reads launchctl's output, and every cco command
// would otherwise compile them at start-up.
var launchdPatterns = sync.OnceValue(func() (p struct{ runs, exitCode, signal *regexp.Regexp }) {
	p.runs = regexp.MustCompile(`(?m)^\s*runs = (\d+)\s*$`)
	p.exitCode = regexp.MustCompile(`(?m)^\s*last exit code = (-?\d+)`)
	// "last terminating signal = Killed: 9" (strsignal and number) or a
	// bare number, as launchd versions print it.
	p.signal = regexp.MustCompile(`(?m)^\s*last terminating signal = (?:[^:\n]*: )?(\d+)\s*$`)
	return p
})

// ParseLaunchctlPrint reads `launchctl print <domain>/<label>`: runs (how
// many times launchd started the job), last exit code ("(never exited)",
// "0", "78: EX_CONFIG") and last terminating signal ("Killed: 9"). launchd
// prints one of the last two for the last run, never both.
func ParseLaunchctlPrint(out string) ManagerView {
	v := ManagerView{Manager: "launchd"}
	p := launchdPatterns()
	if m := p.runs.FindStringSubmatch(out); m != nil {
		runs, _ := strconv.Atoi(m[1])
		v.Restarts = max(runs-1, 0)
	}
	if m := p.signal.FindStringSubmatch(out); m != nil {
		n, _ := strconv.Atoi(m[1])
		v.LastExit = "killed by " + signalName(n)
	} else if m := p.exitCode.FindStringSubmatch(out); m != nil {
		v.LastExit = "exited " + m[1]
	}
	return v
}

// signalName is "SIGKILL" for 9; a number unknown here stays a number.
func signalName(n int) string {
	if name := unix.SignalName(syscall.Signal(n)); name != "" {
		return name
	}
	return "signal " + strconv.Itoa(n)
}
