package cli

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/alecthomas/kingpin/v2"

	"github.com/anthropics/cco/version"
)

func configureVersionCmd(app *kingpin.Application, e *Env) {
	c := &versionCmd{env: e}
	vc := app.Command("version", "Print cco's version, the commit it was built from and the Go that built it.").Action(action(e, c.run))
	vc.Flag("json", "Print JSON: version, commit, modified, go, platform.").BoolVar(&c.json)
}

type versionCmd struct {
	env  *Env
	json bool
}

func (c *versionCmd) run(ctx context.Context) error {
	i := version.Read()
	if c.json {
		enc := json.NewEncoder(c.env.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(i)
	}
	commit := i.Commit
	switch {
	case commit == "":
		commit = "unknown"
	case i.Modified:
		commit += " (with uncommitted changes)"
	}
	_, err := fmt.Fprintf(c.env.Stdout, "cco %s\ncommit:   %s\ngo:       %s\nplatform: %s\n", i.Version, commit, i.Go, i.Platform)
	return err
}
