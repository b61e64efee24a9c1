package cli

import (
	"github.com/alecthomas/kingpin/v2"
)

func configureServiceCmds(daemon *kingpin.CmdClause, e *Env) {
	install := &installCmd{env: e}
	ic := daemon.Command("install", "Install the daemon as a per-user service: a systemd user unit on Linux, a LaunchAgent on macOS.").Action(action(install.run))
	ic.Flag("dry-run", "Print every file install would write and every command it would run, and a diff against what is installed; change nothing.").BoolVar(&install.dryRun)
	ic.Flag("os", "Preview the files of another platform (with --dry-run).").PlaceHolder("linux|darwin").EnumVar(&install.os, "linux", "darwin")
	ic.Flag("no-start", "Install and enable, but do not start the daemon now.").BoolVar(&install.noStart)

	uninstall := &uninstallCmd{env: e}
	uc := daemon.Command("uninstall", "Stop the service and remove it.").Action(action(uninstall.run))
	uc.Flag("dry-run", "Print what uninstall would remove and run; change nothing.").BoolVar(&uninstall.dryRun)

	enable := &enableCmd{env: e, enable: true}
	ec := daemon.Command("enable", "Start the installed service at login.").Action(action(enable.run))
	ec.Flag("now", "Also start it now.").BoolVar(&enable.now)

	disable := &enableCmd{env: e}
	dc := daemon.Command("disable", "Stop starting the installed service at login.").Action(action(disable.run))
	dc.Flag("now", "Also stop it now.").BoolVar(&disable.now)
}

type installCmd struct {
	env     *Env
	dryRun  bool
	os      string
	noStart bool
}

func (c *installCmd) run() error { return errNotBuilt }

type uninstallCmd struct {
	env    *Env
	dryRun bool
}

func (c *uninstallCmd) run() error { return errNotBuilt }

type enableCmd struct {
	env    *Env
	enable bool
	now    bool
}

func (c *enableCmd) run() error { return errNotBuilt }

// serviceControl is how start, stop, restart and status reach a daemon that
// is installed as a per-user service: through its manager, since a SIGTERM
// alone would be undone by Restart=always / KeepAlive.
type serviceControl interface {
	// Name says which service this is, for messages:
	// "systemd user unit cco-daemon.service".
	Name() string
	// Start asks the manager to start the daemon; it returns once the
	// manager accepted. Readiness is then seen in the state file.
	Start() error
	// Stop asks the manager to stop the daemon and keep it stopped.
	Stop() error
	// Restart asks the manager to restart the daemon.
	Restart() error
}

// installedService returns the service that owns the daemon, or nil when
// the daemon is not installed as a service on this machine.
func installedService(e *Env) (serviceControl, error) { return nil, nil }
