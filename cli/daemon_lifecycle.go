package cli

import (
	"errors"
	"time"

	"github.com/alecthomas/kingpin/v2"

	"github.com/anthropics/cco/config"
)

var errNotBuilt = errors.New("not built yet")

func configureLifecycleCmds(daemon *kingpin.CmdClause, e *Env) {
	start := &startCmd{env: e, overrides: config.Overrides{}}
	sc := daemon.Command("start", "Start the daemon in the background and wait until it serves.").Action(action(start.run))
	configFlags(sc, start.overrides)
	sc.Flag("wait", "How long to wait for the daemon to serve before giving up.").Default("10s").DurationVar(&start.wait)

	stop := &stopCmd{env: e}
	stc := daemon.Command("stop", "Stop the daemon: SIGTERM, then SIGKILL after the timeout.").Action(action(stop.run))
	stc.Flag("timeout", "How long to wait for a graceful exit before SIGKILL.").Default("10s").DurationVar(&stop.timeout)

	restart := &restartCmd{startCmd: startCmd{env: e, overrides: config.Overrides{}}}
	rc := daemon.Command("restart", "Stop the daemon if it runs, then start it with the given flags.").Action(action(restart.run))
	configFlags(rc, restart.overrides)
	rc.Flag("wait", "How long to wait for the daemon to serve before giving up.").Default("10s").DurationVar(&restart.wait)
	rc.Flag("timeout", "How long to wait for a graceful exit before SIGKILL.").Default("10s").DurationVar(&restart.timeout)

	status := &statusCmd{env: e}
	stsc := daemon.Command("status", "Say whether the daemon runs and answers. Exit 0 running and healthy, 1 running but not answering, 3 not running.").Action(action(status.run))
	stsc.Flag("json", "Print JSON (schema in cco-daemon(1)).").BoolVar(&status.json)

	logs := &logsCmd{env: e}
	lc := daemon.Command("logs", "Print the end of the daemon's log, or follow it.").Action(action(logs.run))
	lc.Flag("lines", "How many lines to print from the end.").Short('n').Default("50").IntVar(&logs.lines)
	lc.Flag("follow", "Keep printing new lines as they are written, across rotation, until interrupted.").Short('f').BoolVar(&logs.follow)

	run := &runCmd{env: e}
	daemon.Command("run", "Run the daemon in the foreground: what start, systemd and launchd execute.").Action(action(run.run))
}

type startCmd struct {
	env       *Env
	overrides config.Overrides
	wait      time.Duration
}

func (c *startCmd) run() error { return errNotBuilt }

type stopCmd struct {
	env     *Env
	timeout time.Duration
}

func (c *stopCmd) run() error { return errNotBuilt }

type restartCmd struct {
	startCmd
	timeout time.Duration
}

func (c *restartCmd) run() error { return errNotBuilt }

type statusCmd struct {
	env  *Env
	json bool
}

func (c *statusCmd) run() error { return errNotBuilt }

type logsCmd struct {
	env    *Env
	lines  int
	follow bool
}

func (c *logsCmd) run() error { return errNotBuilt }

type runCmd struct{ env *Env }

func (c *runCmd) run() error { return errNotBuilt }
