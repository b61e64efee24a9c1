package cli

import (
	"github.com/alecthomas/kingpin/v2"
)

func configureRenderCmd(daemon *kingpin.CmdClause, e *Env) {
	r := &renderCmd{env: e}
	rc := daemon.Command("render", "Write the service file and a documented default config.toml for packagers: byte-identical across runs, users and machines.").Action(action(r.run))
	rc.Flag("os", "The platform to render for.").Required().PlaceHolder("linux|darwin").EnumVar(&r.os, "linux", "darwin")
	rc.Flag("output", "The directory to write into (created if missing).").Required().PlaceHolder("DIR").StringVar(&r.output)
	rc.Flag("exec", "The absolute path of cco that the service runs (default: the running cco as invoked).").PlaceHolder("PATH").StringVar(&r.exec)
}

type renderCmd struct {
	env    *Env
	os     string
	output string
	exec   string
}

func (c *renderCmd) run() error { return errNotBuilt }
