//go:build linux

// Package systemdtest gives a test a private, real systemd user manager
// (internal/usermanager), stopped when the test ends.
//
// Without root or one of its tools it skips, saying what is missing; with
// CI=true it fails instead, since CI must run these tests.
package systemdtest

import (
	"errors"
	"os"
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

// Start starts a manager with a new HOME and runtime directory under a
// temporary directory, and stops it when the test ends.
func Start(t testing.TB) *Manager {
	t.Helper()
	if err := usermanager.Check(); errors.Is(err, usermanager.ErrMissing) {
		tooltest.Missing(t, "%v", err)
	} else if err != nil {
		t.Fatal(err)
	}
	base := t.TempDir()
	log, err := os.Create(filepath.Join(base, "manager.log"))
	if err != nil {
		t.Fatal(err)
	}
	um, err := usermanager.New(base, log)
	if err != nil {
		t.Fatal(err)
	}
	m := &Manager{Manager: um, t: t}
	t.Cleanup(func() {
		m.Stop()
		log.Close()
		if t.Failed() {
			b, _ := os.ReadFile(log.Name())
			t.Logf("systemd --user said:\n%s", tail(b, 60))
		}
	})
	m.Boot()
	return m
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
