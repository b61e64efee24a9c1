package cli

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/alecthomas/kingpin/v2"

	"github.com/anthropics/cco/atomicfile"
	"github.com/anthropics/cco/config"
	"github.com/anthropics/cco/render"
	"github.com/anthropics/cco/service"
)

func configureRenderCmd(daemon *kingpin.CmdClause, e *Env) {
	r := &renderCmd{env: e}
	rc := daemon.Command("render", "Write the service file and a documented default config.toml for packagers: byte-identical across runs, users and machines.").Action(action(e, r.run))
	enumFlag(rc.Flag("os", "The platform to render for.").Required().PlaceHolder("linux|darwin"), "os", &r.os, "linux", "darwin")
	rc.Flag("output", "The directory to write into (created if missing).").Required().PlaceHolder("DIR").StringVar(&r.output)
	rc.Flag("exec", "The absolute path of cco that the service runs (default: the running cco as invoked).").PlaceHolder("PATH").StringVar(&r.exec)
}

type renderCmd struct {
	env    *Env
	os     string
	output string
	exec   string
}

func (c *renderCmd) run(ctx context.Context) error {
	exe, err := c.env.servicePath(c.exec)
	if err != nil {
		return err
	}
	// The defaults, not this machine's configuration: the files are the
	// same for every user of every machine.
	files, err := render.PackagerFiles(render.Target{OS: c.os, Exec: exe, Config: config.Defaults()})
	if err != nil {
		return err
	}
	for _, f := range files {
		path := filepath.Join(c.output, f.Path)
		if err := atomicfile.WriteFile(path, f.Data, f.Mode, atomicfile.DirMode(0o755)); err != nil {
			return err
		}
		fmt.Fprintln(c.env.Stdout, path)
	}
	return nil
}

// servicePath is the path of cco a service runs: flag, the value of
// --exec, when given (it must be absolute), else the stable path cco was
// started by.
func (e *Env) servicePath(flag string) (string, error) {
	if flag != "" {
		if !filepath.IsAbs(flag) {
			return "", fmt.Errorf("--exec %s: give an absolute path, such as /usr/bin/cco", flag)
		}
		return filepath.Clean(flag), nil
	}
	cwd, err := e.Getwd()
	if err != nil {
		return "", fmt.Errorf("cannot tell where cco is (%v): give its absolute path with --exec", err)
	}
	exe, err := service.StableExecutable(e.Args0, e.Getenv("PATH"), cwd, e.Executable)
	if err != nil {
		return "", err
	}
	tmp := e.Getenv("TMPDIR")
	if tmp == "" {
		tmp = "/tmp"
	}
	if why := service.TransientExecutable(exe, tmp); why != "" {
		return "", fmt.Errorf("%s: a service must run a cco that stays: install one first (`make install PREFIX=~/.local` in the source checkout) and run its `cco daemon install`, or give the path of one with --exec", why)
	}
	return exe, nil
}
