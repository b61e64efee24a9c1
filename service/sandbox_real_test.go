//go:build linux

package service_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/anthropics/cco/service/internal/systemdtest"
)

// procStatus returns the fields of /proc/PID/status.
func procStatus(t *testing.T, pid int) map[string]string {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]string{}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok {
			m[k] = strings.TrimSpace(v)
		}
	}
	return m
}

func sameNS(t *testing.T, ns string, a, b int) bool {
	t.Helper()
	la, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/%s", a, ns))
	if err != nil {
		t.Fatal(err)
	}
	lb, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/%s", b, ns))
	if err != nil {
		t.Fatal(err)
	}
	return la == lb
}

// sandboxProbe runs a shell script as a copy of the installed unit, drop-ins
// included, and returns what it printed and its exit status: the script
// then meets every directive the daemon runs under.
func sandboxProbe(t *testing.T, sd *systemdtest.Manager, script string) (string, string) {
	t.Helper()
	dir := filepath.Join(sd.Home, ".config/systemd/user")
	unit, err := os.ReadFile(filepath.Join(dir, "cco-daemon.service"))
	if err != nil {
		t.Fatal(err)
	}
	sd.WriteFile(filepath.Join(dir, "ccoprobe.service"), string(unit))
	if b, err := os.ReadFile(filepath.Join(dir, "cco-daemon.service.d/sandbox.conf")); err == nil {
		sd.WriteFile(filepath.Join(dir, "ccoprobe.service.d/sandbox.conf"), string(b))
	}
	out := filepath.Join(sd.Runtime, "probe.out")
	// One line, and $ kept from systemd's expansion.
	script = strings.ReplaceAll(strings.Join(strings.Fields(strings.ReplaceAll(strings.TrimSpace(script), "\n", " ; ")), " "), "$", "$$")
	sd.WriteFile(filepath.Join(dir, "ccoprobe.service.d/zz-probe.conf"), fmt.Sprintf(
		"[Service]\nType=oneshot\nWatchdogSec=0\nRestart=no\nStandardOutput=truncate:%s\nStandardError=inherit\nExecStart=\nExecStart=/bin/sh -c '%s'\n", out, script))
	if _, err := sd.Systemctl("daemon-reload"); err != nil {
		t.Fatal(err)
	}
	sd.Systemctl("start", "ccoprobe.service")
	b, _ := os.ReadFile(out)
	return string(b), sd.Show("ccoprobe.service", "ExecMainStatus")
}

// TestSandboxReal: where user namespaces work, install adds the drop-in and
// the daemon runs under all of it: it serves, writes CCO_HOME, can read the
// transcript roots, and can write nowhere else in home.
func TestSandboxReal(t *testing.T) {
	sd := systemdtest.Start(t)
	c, port := newCCO(t, sd)
	for _, root := range []string{".claude/projects/p", ".config/claude/projects/p"} {
		sd.WriteFile(filepath.Join(sd.Home, root, "s.jsonl"), "{}\n")
	}
	out := c.run(0, "daemon", "install")
	dropIn := filepath.Join(sd.Home, ".config/systemd/user/cco-daemon.service.d/sandbox.conf")
	mustContain(t, out, "installed the sandbox drop-in "+dropIn, "serves on http://127.0.0.1:"+strconv.Itoa(port))
	pid := c.mainPID()
	st := procStatus(t, pid)
	// The unit: no new privileges, seccomp; the drop-in: no capabilities
	// even inside its user namespace, its own mounts.
	if st["NoNewPrivs"] != "1" || st["Seccomp"] != "2" || st["CapBnd"] != "0000000000000000" {
		t.Errorf("daemon's status: NoNewPrivs %s Seccomp %s CapBnd %s, want 1, 2 and none", st["NoNewPrivs"], st["Seccomp"], st["CapBnd"])
	}
	if sameNS(t, "user", pid, sd.PID()) || sameNS(t, "mnt", pid, sd.PID()) {
		t.Errorf("the daemon shares the manager's user or mount namespace: PrivateUsers= or the mount protections did not apply")
	}
	if fi, err := os.Stat(filepath.Join(c.home, "daemon.log")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("daemon.log in CCO_HOME: %v %v", fi, err)
	}
	c.run(0, "daemon", "status")

	// A directory of the user's outside home: ProtectSystem=strict makes it
	// read-only too.
	outside := filepath.Join("/srv", "cco-probe-"+sd.User())
	if err := sd.MkdirAll(outside, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(outside) })
	got, status := sandboxProbe(t, sd, `
echo x > `+outside+`/f 2>/dev/null && echo WROTE-OUTSIDE-HOME
cat ~/.claude/projects/p/s.jsonl ~/.config/claude/projects/p/s.jsonl >/dev/null && echo read-transcripts
echo x > ~/.cco/probe && echo wrote-cco-home
echo x > ~/elsewhere 2>/dev/null && echo WROTE-HOME
echo x > ~/.config/systemd/user/evil.service 2>/dev/null && echo WROTE-UNITS
unshare -U true 2>/dev/null && echo USERNS
true`)
	if status != "0" {
		t.Fatalf("the probe exited %s:\n%s", status, got)
	}
	for _, want := range []string{"read-transcripts", "wrote-cco-home"} {
		if !strings.Contains(got, want) {
			t.Errorf("under the sandbox the probe could not do %s:\n%s", want, got)
		}
	}
	for _, bad := range []string{"WROTE-HOME", "WROTE-UNITS", "WROTE-OUTSIDE-HOME", "USERNS"} {
		if strings.Contains(got, bad) {
			t.Errorf("under the sandbox the probe could %s:\n%s", bad, got)
		}
	}
	if _, err := os.Stat(filepath.Join(sd.Home, "elsewhere")); !os.IsNotExist(err) {
		t.Errorf("the sandboxed probe wrote ~/elsewhere")
	}

	// A database outside CCO_HOME: its directory is made at start, outside
	// the sandbox, and is writable inside it.
	data := filepath.Join(sd.Home, "data")
	c.run(0, "daemon", "config", "set", "database_url", "sqlite://"+data+"/analytics.db")
	mustContain(t, c.run(0, "daemon", "install"), "updated the sandbox drop-in", "restarted")
	if fi, err := os.Stat(data); err != nil || !fi.IsDir() || fi.Mode().Perm() != 0o700 {
		t.Fatalf("the database's directory after a start: %v %v", fi, err)
	}
	if got, status := sandboxProbe(t, sd, `echo x > `+data+`/probe && echo wrote-db-dir`); status != "0" || !strings.Contains(got, "wrote-db-dir") {
		t.Errorf("the sandbox keeps the database's directory read-only: exit %s:\n%s", status, got)
	}

	// sandbox = false and install: the drop-in goes, and the unit's sandbox.
	c.run(0, "daemon", "config", "set", "sandbox", "false")
	out = c.run(0, "daemon", "install")
	mustContain(t, out, "removed the sandbox drop-in", "restarted")
	if _, err := os.Stat(dropIn); !os.IsNotExist(err) {
		t.Errorf("drop-in still there with sandbox = false: %v", err)
	}
	if st := procStatus(t, c.mainPID()); st["NoNewPrivs"] != "0" || st["Seccomp"] != "0" {
		t.Errorf("with sandbox = false the daemon still has NoNewPrivs %s Seccomp %s", st["NoNewPrivs"], st["Seccomp"])
	}
	c.run(0, "daemon", "uninstall")
}

// TestNoUserNamespacesReal: where user namespaces are refused, install
// leaves the drop-in out, says so, and the unit's own sandbox still runs.
func TestNoUserNamespacesReal(t *testing.T) {
	sd := systemdtest.StartNoUserNS(t)
	if out, code := sd.Run("systemd-run", "--user", "--wait", "--quiet", "--collect", "-p", "PrivateUsers=yes", "/bin/true"); code == 0 {
		t.Fatalf("the manager under the seccomp wrapper still runs a service with PrivateUsers=: %s", out)
	}
	c, port := newCCO(t, sd)
	out := c.run(0, "daemon", "install")
	mustContain(t, out, "without the drop-in", "cannot run a service in a user namespace", "serves on http://127.0.0.1:"+strconv.Itoa(port))
	if _, err := os.Stat(filepath.Join(sd.Home, ".config/systemd/user/cco-daemon.service.d/sandbox.conf")); !os.IsNotExist(err) {
		t.Errorf("the drop-in was installed without user namespaces: %v", err)
	}
	pid := c.mainPID()
	if st := procStatus(t, pid); st["NoNewPrivs"] != "1" || st["Seccomp"] != "2" {
		t.Errorf("daemon's status: NoNewPrivs %s Seccomp %s, want 1 and 2", st["NoNewPrivs"], st["Seccomp"])
	}
	// A directory of the user's outside home: ProtectSystem=strict makes it
	// read-only too.
	outside := filepath.Join("/srv", "cco-probe-"+sd.User())
	if err := sd.MkdirAll(outside, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(outside) })
	got, status := sandboxProbe(t, sd, `
echo x > `+outside+`/f 2>/dev/null && echo WROTE-OUTSIDE-HOMEecho x > ~/.cco/probe && echo wrote-cco-home; true`)
	if status != "0" || !strings.Contains(got, "wrote-cco-home") {
		t.Errorf("probe under the unit alone: exit %s:\n%s", status, got)
	}
	c.run(0, "daemon", "status")
	c.run(0, "daemon", "uninstall")
}
