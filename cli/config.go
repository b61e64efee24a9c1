package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/alecthomas/kingpin/v2"

	"github.com/anthropics/cco/atomicfile"
	"github.com/anthropics/cco/config"
)

func configureConfigCmd(daemon *kingpin.CmdClause, e *Env) {
	c := daemon.Command("config", "Show, change and check the daemon's configuration ($CCO_HOME/config.toml).")

	show := &configShowCmd{env: e}
	sc := c.Command("show", "Print the effective value of every key and where it came from (default, file, env or flag).").Action(action(e, show.run))
	sc.Flag("json", "Print JSON instead of a table.").BoolVar(&show.json)

	get := &configGetCmd{env: e}
	gc := c.Command("get", "Print the effective value of one key.").Action(action(e, get.run))
	gc.Arg("key", "The key, such as port.").Required().HintOptions(config.KeyNames()...).StringVar(&get.key)

	set := &configSetCmd{env: e}
	stc := c.Command("set", "Set a key in config.toml. The whole resulting configuration is validated first; on any problem the file is left as it was.").Action(action(e, set.run))
	stc.Arg("key", "The key, such as port (or key=value).").Required().HintOptions(config.KeyNames()...).StringVar(&set.key)
	stc.Arg("value", "The new value.").StringVar(&set.value)

	unset := &configSetCmd{env: e, unset: true}
	uc := c.Command("unset", "Remove a key from config.toml, so that it takes its default again.").Action(action(e, unset.run))
	uc.Arg("key", "The key, such as port.").Required().HintOptions(config.KeyNames()...).StringVar(&unset.key)

	validate := &configValidateCmd{env: e}
	vc := c.Command("validate", "Check a config file and list every problem in it; exit 1 when there is any.").Action(action(e, validate.run))
	vc.Arg("file", "The file to check (default: $CCO_HOME/config.toml).").StringVar(&validate.file)

	path := &configPathCmd{env: e}
	c.Command("path", "Print the path of config.toml.").Action(action(e, path.run))
}

// loadEffective reads config.toml and layers the environment and flags over
// it. It is the one way commands learn the configuration.
func loadEffective(e *Env, flags config.Overrides) (*config.Effective, config.Paths, error) {
	paths, err := e.Paths()
	if err != nil {
		return nil, paths, err
	}
	f, err := config.ReadFile(paths.Config())
	if err != nil {
		return nil, paths, fmt.Errorf("%s: %w", paths.Config(), err)
	}
	eff, err := config.Resolve(f, e.Getenv, flags)
	return eff, paths, err
}

type configShowCmd struct {
	env  *Env
	json bool
}

// configShowJSON is the stable shape of `config show --json`.
type configShowJSON struct {
	File   string                     `json:"file"`
	Values map[string]configValueJSON `json:"values"`
}

type configValueJSON struct {
	Value  any          `json:"value"`
	Source config.Layer `json:"source"`
}

func (c *configShowCmd) run(ctx context.Context) error {
	eff, paths, err := loadEffective(c.env, nil)
	if err != nil {
		return err
	}
	if c.json {
		out := configShowJSON{File: paths.Config(), Values: map[string]configValueJSON{}}
		for _, k := range config.Keys {
			out.Values[k.Name] = configValueJSON{Value: eff.Value(k), Source: eff.Source[k.Name]}
		}
		enc := json.NewEncoder(c.env.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	tw := tabwriter.NewWriter(c.env.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "KEY\tVALUE\tSOURCE")
	for _, k := range config.Keys {
		source := string(eff.Source[k.Name])
		if eff.Source[k.Name] == config.FromEnv {
			source += " (" + k.EnvVar() + ")"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", k.Name, config.FormatValue(eff.Value(k)), source)
	}
	return tw.Flush()
}

type configGetCmd struct {
	env *Env
	key string
}

func (c *configGetCmd) run(ctx context.Context) error {
	k, err := config.LookupKey(c.key)
	if err != nil {
		return err
	}
	eff, _, err := loadEffective(c.env, nil)
	if err != nil {
		return err
	}
	fmt.Fprintln(c.env.Stdout, config.FormatValue(eff.Value(k)))
	return nil
}

type configSetCmd struct {
	env   *Env
	key   string
	value string
	unset bool
}

func (c *configSetCmd) run(ctx context.Context) error {
	if !c.unset && c.value == "" {
		// `config set port=4000`, as people type it from env files.
		key, value, ok := strings.Cut(c.key, "=")
		if !ok {
			return &ExitError{Code: exitUsage, Err: fmt.Errorf("config set %s: give the value too: `cco daemon config set %s VALUE` (or %s=VALUE)", c.key, c.key, c.key)}
		}
		c.key, c.value = strings.TrimSpace(key), value
	}
	k, err := config.LookupKey(c.key)
	if err != nil {
		return err
	}
	paths, err := c.env.Paths()
	if err != nil {
		return err
	}
	f, err := config.ReadFile(paths.Config())
	if f == nil {
		return fmt.Errorf("%s: %w", paths.Config(), err)
	}
	// Problems of the key being changed are mended by the change; any other
	// problem must be fixed first, since rewriting would drop what it says.
	if other := config.ProblemsBesides(err, k.Name); other != nil {
		return fmt.Errorf("%s must be fixed before cco can edit it:\n%w", paths.Config(), other)
	}
	var text *string
	if !c.unset {
		text = &c.value
	}
	next, err := f.With(k.Name, text)
	if err != nil {
		return err
	}
	data, err := config.Edit(f, next, k.Name)
	if err != nil {
		return err
	}
	if err := paths.Ensure(); err != nil {
		return err
	}
	pid, gen := runningReload(ctx, paths)
	if err := atomicfile.WriteFile(paths.Config(), data, 0o600); err != nil {
		return err
	}
	daemonSays := appliedByDaemon(ctx, paths, k.Name, pid, gen)
	if c.unset {
		fmt.Fprintf(c.env.Stdout, "%s unset in %s; it takes its default, %s%s\n", k.Name, paths.Config(), config.FormatValue(k.Default), daemonSays)
	} else {
		fmt.Fprintf(c.env.Stdout, "%s = %s in %s%s\n", k.Name, config.FormatValue(next.Values[k.Name]), paths.Config(), daemonSays)
	}
	if v := c.env.Getenv(k.EnvVar()); v != "" {
		fmt.Fprintf(c.env.Stderr, "note: %s=%s in this environment overrides the file\n", k.EnvVar(), v)
	}
	return nil
}

type configValidateCmd struct {
	env  *Env
	file string
}

func (c *configValidateCmd) run(ctx context.Context) error {
	path := c.file
	if path == "" {
		paths, err := c.env.Paths()
		if err != nil {
			return err
		}
		path = paths.Config()
	} else if _, err := os.Stat(path); err != nil {
		// A file named on the command line must exist; only the user's own
		// config.toml may be missing (then every key takes its default).
		return err
	}
	if _, err := config.ReadFile(path); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	fmt.Fprintf(c.env.Stdout, "%s: ok\n", path)
	return nil
}

type configPathCmd struct{ env *Env }

func (c *configPathCmd) run(ctx context.Context) error {
	paths, err := c.env.Paths()
	if err != nil {
		return err
	}
	fmt.Fprintln(c.env.Stdout, paths.Config())
	return nil
}
