package cli

import (
	"context"

	"github.com/alecthomas/kingpin/v2"

	"github.com/anthropics/cco/docs"
)

func configureCompletionCmd(app *kingpin.Application, e *Env) {
	c := &completionCmd{env: e, app: app}
	cc := app.Command("completion", "Print the completion script for a shell (see README for how to turn it on).").Action(action(e, c.run))
	cc.Arg("shell", "bash, zsh or fish.").Required().HintOptions(docs.Shells...).EnumVar(&c.shell, docs.Shells...)
}

type completionCmd struct {
	env   *Env
	app   *kingpin.Application
	shell string
}

// run prints the script that `make generate` commits to completions/.
func (c *completionCmd) run(ctx context.Context) error {
	script, err := docs.Completion(c.app.Model(), c.shell)
	if err != nil {
		return err
	}
	_, err = c.env.Stdout.Write(script)
	return err
}
