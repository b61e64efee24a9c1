//go:build unix

package launchdtest

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"

	_ "github.com/anthropics/cco/internal/golden" // its -update flag: `go test ./... -update` works from the root

	"github.com/anthropics/cco/internal/testhost"
)

func TestParsePlistStrict(t *testing.T) {
	head := `<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0">`
	good := head + `<dict><key>Label</key><string>a &amp; b</string><key>N</key><integer>20</integer>
<key>L</key><array><string>x</string><true/></array><key>D</key><dict><key>K</key><false/></dict></dict></plist>`
	p, err := ParsePlist([]byte(good))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"Label": "a & b", "N": int64(20), "L": []any{"x", true}, "D": map[string]any{"K": false}}
	if !reflect.DeepEqual(p, want) {
		t.Errorf("read %#v", p)
	}
	for name, bad := range map[string]string{
		"key without value": head + `<dict><key>A</key></dict></plist>`,
		"unknown element":   head + `<dict><key>A</key><str>x</str></dict></plist>`,
		"duplicate key":     head + `<dict><key>A</key><true/><key>A</key><true/></dict></plist>`,
		"text in dict":      head + `<dict>oops<key>A</key><true/></dict></plist>`,
		"bad integer":       head + `<dict><key>A</key><integer>x</integer></dict></plist>`,
		"unclosed":          head + `<dict><key>A</key><true/>`,
		"not a dict":        head + `<array/></plist>`,
		"bad XML":           head + `<dict><key>A&</key><true/></dict></plist>`,
	} {
		if _, err := ParsePlist([]byte(bad)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// agent writes a plist running /bin/sh -c script and returns its path.
func agent(t *testing.T, home, label, script, extra string) string {
	t.Helper()
	dir := filepath.Join(home, "Library", "LaunchAgents")
	os.MkdirAll(dir, 0o755)
	path := filepath.Join(dir, label+".plist")
	body := `<?xml version="1.0" encoding="UTF-8"?>
<plist version="1.0"><dict><key>Label</key><string>` + label + `</string>
<key>ProgramArguments</key><array><string>/bin/sh</string><string>-c</string><string>` + script + `</string></array>
` + extra + `</dict></plist>`
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func run(t *testing.T, l *Launchd, args ...string) (int, string) {
	t.Helper()
	out, err := l.Run(context.Background(), Launchctl, args...)
	if err != nil {
		t.Fatal(err)
	}
	return out.Code, out.Stdout + out.Stderr
}

func waitJob(t *testing.T, l *Launchd, domain, label string, what string, cond func(Job, bool) bool) Job {
	t.Helper()
	var j Job
	testhost.Eventually(t, what, func() bool {
		var ok bool
		j, ok = l.Job(domain, label)
		return cond(j, ok)
	})
	return j
}

const both = `<key>LimitLoadToSessionType</key><array><string>Aqua</string><string>Background</string></array>`

func TestBootoutIsAsynchronous(t *testing.T) {
	home := t.TempDir()
	l := New(501, home, true)
	l.Scale = 0.02
	l.Window = 300 * time.Millisecond
	defer l.Close()
	// A job that ignores SIGTERM: launchd SIGKILLs it after ExitTimeOut.
	path := agent(t, home, "t.slow", `trap "" TERM; : > "$HOME/ready"; while :; do sleep 0.05; done`, `<key>RunAtLoad</key><true/><key>ExitTimeOut</key><integer>10</integer>`)
	if code, said := run(t, l, "bootstrap", "gui/501", path); code != 0 {
		t.Fatalf("bootstrap: %d %s", code, said)
	}
	j := waitJob(t, l, "gui/501", "t.slow", "the trap set", func(j Job, ok bool) bool {
		_, err := os.Stat(filepath.Join(home, "ready"))
		return j.PID != 0 && err == nil
	})
	begin := time.Now()
	if code, _ := run(t, l, "bootout", "gui/501/t.slow"); code != 0 {
		t.Fatalf("bootout: %d", code)
	}
	// Returned at once; the job is still listed and refuses a new load.
	if code, said := run(t, l, "print", "gui/501/t.slow"); code != 0 || !strings.Contains(said, "state = running") {
		t.Errorf("print during the bootout: %d %s", code, said)
	}
	if code, _ := run(t, l, "bootstrap", "gui/501", path); code != 5 {
		t.Errorf("bootstrap during the bootout: %d, want 5", code)
	}
	if code, _ := run(t, l, "bootout", "gui/501/t.slow"); code != 37 {
		t.Errorf("second bootout: %d, want 37", code)
	}
	last := waitJob(t, l, "gui/501", "t.slow", "the process gone", func(j Job, _ bool) bool { return j.PID == 0 })
	if last.LastExit != "(signal) killed" {
		t.Errorf("the job ended by %q, want SIGKILL", last.LastExit)
	}
	waitJob(t, l, "gui/501", "t.slow", "the job gone", func(_ Job, ok bool) bool { return !ok })
	if took := time.Since(begin); took < 200*time.Millisecond+l.Window {
		t.Errorf("gone after %v: before ExitTimeOut (200 ms) and the window", took)
	}
	if err := syscall.Kill(j.PID, 0); err == nil {
		t.Errorf("pid %d still exists", j.PID)
	}
	if code, _ := run(t, l, "bootstrap", "gui/501", path); code != 0 {
		t.Errorf("bootstrap after the job is gone: %d", code)
	}
}

func TestKeepAliveAndRunAtLoad(t *testing.T) {
	home := t.TempDir()
	l := New(501, home, true)
	l.Scale = 0.02
	defer l.Close()
	// A KeepAlive dictionary with SuccessfulExit implies RunAtLoad, and
	// a failing job is started again after ThrottleInterval.
	fails := agent(t, home, "t.fails", `exit 3`, `<key>KeepAlive</key><dict><key>SuccessfulExit</key><false/></dict>`)
	run(t, l, "bootstrap", "gui/501", fails)
	j := waitJob(t, l, "gui/501", "t.fails", "three runs", func(j Job, _ bool) bool { return j.Runs >= 3 })
	if j.LastExit != "3" {
		t.Errorf("last exit %q", j.LastExit)
	}
	// A clean exit is not restarted under SuccessfulExit=false.
	clean := agent(t, home, "t.clean", `exit 0`, `<key>KeepAlive</key><dict><key>SuccessfulExit</key><false/></dict>`)
	run(t, l, "bootstrap", "gui/501", clean)
	j = waitJob(t, l, "gui/501", "t.clean", "the exit", func(j Job, _ bool) bool { return j.LastExit == "0" })
	if j.Respawn || j.Runs != 1 {
		t.Errorf("a clean exit was scheduled again: %+v", j)
	}
	// Without RunAtLoad or KeepAlive, loading does not start.
	idle := agent(t, home, "t.idle", `exit 0`, ``)
	run(t, l, "bootstrap", "gui/501", idle)
	if j, _ := l.Job("gui/501", "t.idle"); j.Runs != 0 {
		t.Errorf("a job without RunAtLoad ran: %+v", j)
	}
}

func TestDomainsAndSessionTypes(t *testing.T) {
	home := t.TempDir()
	l := New(501, home, false)
	defer l.Close()
	aqua := agent(t, home, "t.aqua", `exit 0`, ``)
	withBackground := agent(t, home, "t.bg", `exit 0`, both)
	if code, _ := run(t, l, "bootstrap", "gui/501", withBackground); code != 125 {
		t.Errorf("bootstrap into a gui domain that does not exist: %d, want 125", code)
	}
	if code, _ := run(t, l, "print", "gui/501"); code == 0 {
		t.Error("print of a missing gui domain succeeded")
	}
	if code, _ := run(t, l, "bootstrap", "user/501", aqua); code != 5 {
		t.Errorf("an Aqua-only agent into user/: %d, want 5", code)
	}
	if code, _ := run(t, l, "bootstrap", "user/501", withBackground); code != 0 {
		t.Errorf("an agent allowing Background into user/: %d", code)
	}
	// A disabled agent is refused, and not loaded at login.
	run(t, l, "disable", "user/501/t.bg2")
	bg2 := agent(t, home, "t.bg2", `exit 0`, both)
	if code, _ := run(t, l, "bootstrap", "user/501", bg2); code != 5 {
		t.Errorf("a disabled agent: %d, want 5", code)
	}
	if _, said := run(t, l, "print-disabled", "user/501"); !strings.Contains(said, `"t.bg2" => disabled`) {
		t.Errorf("print-disabled: %s", said)
	}
	os.Chmod(bg2, 0o666)
	run(t, l, "enable", "user/501/t.bg2")
	if code, _ := run(t, l, "bootstrap", "user/501", bg2); code != 122 {
		t.Errorf("a plist others can write: %d, want 122", code)
	}
	if code, _ := run(t, l, "disable", "gui/501/t.aqua"); code != 112 {
		t.Errorf("disable in a missing gui domain: %d, want 112", code)
	}
	if err := l.Login(); err != nil {
		t.Fatal(err)
	}
	if _, ok := l.Job("gui/501", "t.aqua"); !ok {
		t.Error("an Aqua agent was not loaded at login")
	}
	run(t, l, "disable", "gui/501/t.aqua")
	if err := l.Login(); err != nil {
		t.Fatal(err)
	}
	if _, ok := l.Job("gui/501", "t.aqua"); ok {
		t.Error("a disabled agent was loaded at login")
	}
	if _, ok := l.Job("gui/501", "t.bg"); !ok {
		t.Error("an enabled agent was not loaded at login")
	}
	if _, err := l.Run(context.Background(), "launchctl", "print", "user/501"); err == nil {
		t.Error("launchctl found by a relative name")
	}
}
