package cli

import (
	"github.com/alecthomas/kingpin/v2"
)

func configureCompletionCmd(app *kingpin.Application, e *Env) {
	c := &completionCmd{env: e}
	cc := app.Command("completion", "Print the completion script for a shell (see README for how to turn it on).").Action(action(c.run))
	cc.Arg("shell", "bash, zsh or fish.").Required().HintOptions("bash", "zsh", "fish").EnumVar(&c.shell, "bash", "zsh", "fish")
}

type completionCmd struct {
	env   *Env
	shell string
}

func (c *completionCmd) run() error { return errNotBuilt }
