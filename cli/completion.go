package cli

import (
	"context"

	"github.com/alecthomas/kingpin/v2"

	"github.com/anthropics/cco/docs"
)

func configureCompletionCmd(app *kingpin.Application, e *Env) {
	c := &completionCmd{env: e, app: app}
	cc := app.Command("completion", `Print the completion script for a shell.

Packages install it where each shell finds it. To turn it on by hand: for bash (with bash-completion), add eval "$(cco completion bash)" to ~/.bashrc. For zsh, write it to a directory of $fpath as _cco before compinit runs (cco completion zsh > ~/.zfunc/_cco, with fpath=(~/.zfunc $fpath) in ~/.zshrc), or add source <(cco completion zsh) to ~/.zshrc after compinit. For fish, cco completion fish > ~/.config/fish/completions/cco.fish. Each Tab then asks cco itself for the candidates.`).Action(action(e, c.run))
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
