package service

import "github.com/anthropics/cco/service/identity"

// Reloader is a Manager that can ask the daemon it runs to read its
// configuration again, in place (`cco daemon reload`).
type Reloader interface {
	// Reload plans the request; an error when the service runs no daemon.
	Reload(cur State) (Plan, error)
}

// Reload runs the unit's ExecReload= (a SIGHUP to the main pid).
func (m *systemd) Reload(cur State) (Plan, error) {
	return m.one(cur, "asked the daemon to reload its configuration", "reload", identity.UnitName)
}

// Reload sends SIGHUP to the job's process: launchd has no reload of its
// own.
func (m *launchd) Reload(cur State) (Plan, error) {
	if err := m.usable(cur); err != nil {
		return Plan{}, err
	}
	return Plan{Steps: []Step{m.cmd("asked the daemon to reload its configuration", "kill", "SIGHUP", m.target(cur))}}, nil
}

var (
	_ Reloader = (*systemd)(nil)
	_ Reloader = (*launchd)(nil)
)
