package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/alecthomas/kingpin/v2"

	"github.com/anthropics/cco/config"
	"github.com/anthropics/cco/homefile"
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
	stc.Arg("value", "The new value.").HintAction(func() []string { return valueHints(set.key) }).StringVar(&set.value)

	unset := &configSetCmd{env: e, unset: true}
	uc := c.Command("unset", "Remove a key from config.toml, so that it takes its default again.").Action(action(e, unset.run))
	uc.Arg("key", "The key, such as port.").Required().HintOptions(config.KeyNames()...).StringVar(&unset.key)

	validate := &configValidateCmd{env: e}
	vc := c.Command("validate", "Check a config file and list every problem in it; exit 1 when there is any.").Action(action(e, validate.run))
	vc.Arg("file", "The file to check (default: $CCO_HOME/config.toml).").StringVar(&validate.file)

	edit := &configEditCmd{env: e}
	c.Command("edit", "Edit config.toml in $VISUAL or $EDITOR; it is installed only when it validates (as visudo does), else you may edit again.").Action(action(e, edit.run))

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

// configLockWait bounds how long a set or unset waits for another one to
// finish its change of config.toml (which takes milliseconds).
const configLockWait = 10 * time.Second

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
	if err != nil && !c.unset {
		return err
	}
	if err == nil && !c.unset {
		// A value bad by itself is refused before anything is touched.
		if _, err := (&config.File{Values: map[string]any{}}).With(k.Name, &c.value); err != nil {
			return err
		}
	}
	if _, known := config.Lookup(c.key); !known {
		// unset of a key cco does not know: the way out of a misspelt or
		// outdated key, which every other edit refuses.
		return c.removeUnknown(ctx)
	}
	var text *string
	if !c.unset {
		text = &c.value
	}
	paths, err := c.env.Paths()
	if err != nil {
		return err
	}
	pid, gen := runningReload(ctx, paths)
	next, paths, err := editConfig(ctx, c.env, k, text)
	if err != nil {
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

// removeUnknown removes the line of c.key, a key cco does not know, from
// config.toml, under the config lock.
func (c *configSetCmd) removeUnknown(ctx context.Context) error {
	return lockedConfig(ctx, c.env, c.key, func(paths config.Paths, f *config.File) error {
		if _, set := f.Lines[c.key]; !set {
			_, err := config.LookupKey(c.key)
			return err
		}
		data, err := config.RemoveLine(f, c.key)
		if err != nil {
			return err
		}
		if err := config.Save(paths.Config(), data); err != nil {
			return err
		}
		fmt.Fprintf(c.env.Stdout, "removed %s, which cco does not know, from %s (line %d)\n", c.key, paths.Config(), f.Lines[c.key])
		return nil
	})
}

// editConfig sets key k to text in config.toml (nil: back to its default),
// the one way commands change the file: only that key's line changes, and
// it is read, changed and written while holding config.lock, so that
// concurrent edits of different keys all land.
func editConfig(ctx context.Context, e *Env, k config.Key, text *string) (next *config.File, paths config.Paths, err error) {
	err = lockedConfig(ctx, e, k.Name, func(p config.Paths, f *config.File) error {
		paths = p
		if next, err = f.With(k.Name, text); err != nil {
			return err
		}
		data, err := config.Edit(f, next, k.Name)
		if err != nil {
			return err
		}
		return config.Save(p.Config(), data)
	})
	return next, paths, err
}

// lockedConfig reads config.toml under config.lock and hands it to change.
// Problems of key are change's to mend; the lines of any other problem stay
// as they are, and are listed after, on stderr.
func lockedConfig(ctx context.Context, e *Env, key string, change func(config.Paths, *config.File) error) error {
	paths, err := e.Paths()
	if err != nil {
		return err
	}
	if err := paths.Ensure(); err != nil {
		return err
	}
	unlock, err := homefile.Lock(ctx, paths.ConfigLockFile(), configLockWait)
	if err != nil {
		return err
	}
	defer unlock()
	f, err := config.ReadFile(paths.Config())
	if f == nil {
		return fmt.Errorf("%s: %w\nfix it with `cco daemon config edit`", paths.Config(), err)
	}
	if err := change(paths, f); err != nil {
		return err
	}
	if other := config.ProblemsBesides(err, key); other != nil {
		fmt.Fprintf(e.Stderr, "note: %s still has problems (`cco daemon config unset KEY` removes a key; `cco daemon config edit` opens the file):\n%v\n", paths.Config(), other)
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

// valueHints are the values Tab offers for key: an enum's values, true and
// false for a boolean, nothing where any value of a type goes.
func valueHints(key string) []string {
	k, ok := config.Lookup(key)
	switch {
	case !ok:
		return nil
	case k.Enum != nil:
		return k.Enum
	case k.Kind == config.Bool:
		return []string{"false", "true"}
	}
	return nil
}
