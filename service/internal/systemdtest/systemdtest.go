//go:build linux

// Package systemdtest gives a test a private, real systemd user manager
// (internal/usermanager) run by a throw-away unprivileged user, as a real
// user's manager runs; stopped, and the user removed, when the test ends.
//
// Without root or one of its tools it skips, saying what is missing; with
// CI=true it fails instead, since CI must run these tests.
package systemdtest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/anthropics/cco/internal/tooltest"
	"github.com/anthropics/cco/internal/usermanager"
)

// Manager is a running private systemd --user, failing its test on errors.
type Manager struct {
	*usermanager.Manager
	t testing.TB
}

// Start starts a manager as a new user, and stops it and removes the user
// when the test ends.
func Start(t testing.TB) *Manager {
	t.Helper()
	return start(t, usermanager.Options{})
}

// StartNoUserNS is Start on a machine where user namespaces do not work:
// the manager runs under a seccomp filter that refuses them.
func StartNoUserNS(t testing.TB) *Manager {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "nouserns")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/anthropics/cco/internal/usermanager/nouserns").CombinedOutput(); err != nil {
		t.Fatalf("go build nouserns: %v\n%s", err, out)
	}
	// The user must be able to run it: it goes where only root can write
	// and everyone can read.
	wrapper := filepath.Join("/run", fmt.Sprintf("cco-nouserns-%d-%d", os.Getpid(), time.Now().UnixNano()))
	b, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(wrapper, b, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Remove(wrapper) })
	return start(t, usermanager.Options{Wrapper: []string{wrapper}})
}

func start(t testing.TB, o usermanager.Options) *Manager {
	t.Helper()
	if err := usermanager.Check(); errors.Is(err, usermanager.ErrMissing) {
		tooltest.Missing(t, "%v", err)
	} else if err != nil {
		t.Fatal(err)
	}
	log, err := os.Create(filepath.Join(t.TempDir(), "manager.log"))
	if err != nil {
		t.Fatal(err)
	}
	um, err := usermanager.NewUser(log, o)
	if errors.Is(err, usermanager.ErrMissing) {
		tooltest.Missing(t, "%v", err)
	} else if err != nil {
		t.Fatal(err)
	}
	m := &Manager{Manager: um, t: t}
	t.Cleanup(func() {
		m.Stop()
		if err := m.Close(); err != nil {
			t.Error(err)
		}
		log.Close()
		if t.Failed() {
			b, _ := os.ReadFile(log.Name())
			t.Logf("systemd --user said:\n%s", tail(b, 60))
		}
	})
	m.Boot()
	return m
}

// Run runs a client command as the manager's user and returns its
// combined output and exit code.
func (m *Manager) Run(name string, args ...string) (string, int) {
	m.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := m.Command(ctx, name, args...).CombinedOutput()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return string(out), ee.ExitCode()
	}
	if err != nil {
		m.t.Fatalf("%s: %v", name, err)
	}
	return string(out), 0
}

// WriteFile writes a file as the manager's user would, making its
// directories.
func (m *Manager) WriteFile(path, content string) {
	m.t.Helper()
	if err := m.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		m.t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		m.t.Fatal(err)
	}
	if err := m.Chown(path); err != nil {
		m.t.Fatal(err)
	}
}

func tail(b []byte, n int) string {
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// Boot starts the manager (again, after Stop: a reboot of the user's
// session keeps HOME and what is enabled in it) and waits until it answers.
func (m *Manager) Boot() {
	m.t.Helper()
	if err := m.Manager.Boot(); err != nil {
		m.t.Fatal(err)
	}
}

// Stop ends the manager as a logout would; a process that outlives it
// fails the test.
func (m *Manager) Stop() {
	m.t.Helper()
	if err := m.Manager.Stop(); err != nil {
		m.t.Error(err)
	}
}

// Show returns one property of a unit.
func (m *Manager) Show(unit, prop string) string {
	m.t.Helper()
	out, err := m.Systemctl("show", unit, "--property="+prop, "--value")
	if err != nil {
		m.t.Fatal(err)
	}
	return strings.TrimSpace(out)
}

// ShowInt returns a numeric property of a unit.
func (m *Manager) ShowInt(unit, prop string) int {
	m.t.Helper()
	n, err := strconv.Atoi(m.Show(unit, prop))
	if err != nil {
		m.t.Fatalf("%s %s: %v", unit, prop, err)
	}
	return n
}

// WaitFor polls cond every 10 ms until it holds, failing after d.
func (m *Manager) WaitFor(d time.Duration, what string, cond func() bool) {
	m.t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			m.t.Fatalf("after %v: still not %s", d, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
