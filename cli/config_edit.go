package cli

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"strings"

	"github.com/anthropics/cco/atomicfile"
	"github.com/anthropics/cco/config"
	"github.com/anthropics/cco/homefile"
)

type configEditCmd struct{ env *Env }

// run opens a copy of config.toml in the user's editor and installs it only
// when it validates, as visudo and crontab -e do: on problems it lists them
// and offers to edit again; the file is never left half-edited or invalid.
func (c *configEditCmd) run(ctx context.Context) error {
	paths, err := c.env.Paths()
	if err != nil {
		return err
	}
	if err := paths.Ensure(); err != nil {
		return err
	}
	orig, err := config.ReadText(paths.Config())
	switch {
	case errors.Is(err, fs.ErrNotExist):
		// A new file starts as the documented template.
		if orig, err = config.Template(&config.File{Values: map[string]any{}}); err != nil {
			return err
		}
	case err != nil:
		return err
	}
	copyPath := paths.ConfigEditCopy()
	if err := atomicfile.WriteFile(copyPath, orig, 0o600); err != nil {
		return err
	}
	defer os.Remove(copyPath)
	in := bufio.NewReader(c.env.Stdin)
	for {
		if err := c.editor(ctx, copyPath); err != nil {
			return fmt.Errorf("%w; %s is left as it was", err, paths.Config())
		}
		edited, err := os.ReadFile(copyPath)
		if err != nil {
			return err
		}
		if bytes.Equal(edited, orig) {
			fmt.Fprintf(c.env.Stdout, "no changes: %s is left as it was\n", paths.Config())
			return nil
		}
		if _, err := config.Parse(paths.Config(), edited); err != nil {
			fmt.Fprintf(c.env.Stderr, "%s has problems:\n%v\nEdit again? [Y/n] ", paths.Config(), err)
			answer, rerr := in.ReadString('\n')
			// No answer at all (the end of its input) is no: a script
			// never loops on an editor that writes the same mistake.
			if a := strings.ToLower(strings.TrimSpace(answer)); a == "n" || a == "no" || rerr != nil && a == "" {
				return fmt.Errorf("%s is left as it was; your edit was dropped", paths.Config())
			}
			continue
		}
		return c.install(ctx, paths, orig, edited)
	}
}

// install puts the edited text in place under the config lock, unless the
// file changed meanwhile (another `config set`, another editor).
func (c *configEditCmd) install(ctx context.Context, paths config.Paths, orig, edited []byte) error {
	unlock, err := homefile.Lock(ctx, paths.ConfigLockFile(), configLockWait)
	if err != nil {
		return err
	}
	defer unlock()
	now, err := config.ReadText(paths.Config())
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if err == nil && !bytes.Equal(now, orig) {
		return fmt.Errorf("%s changed while you edited it: your edit was not installed; run `cco daemon config edit` again", paths.Config())
	}
	if err := config.Save(paths.Config(), edited); err != nil {
		return err
	}
	fmt.Fprintf(c.env.Stdout, "%s updated\n", paths.Config())
	return nil
}

// editor runs $VISUAL, else $EDITOR, else vi, on path, on this terminal.
// The variable may hold arguments ("code --wait"), so a shell runs it.
func (c *configEditCmd) editor(ctx context.Context, path string) error {
	ed := c.env.Getenv("VISUAL")
	if ed == "" {
		ed = c.env.Getenv("EDITOR")
	}
	if ed == "" {
		ed = "vi"
	}
	cmd := exec.CommandContext(ctx, "/bin/sh", "-c", ed+` "$1"`, "sh", path)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = c.env.Stdin, c.env.Stdout, c.env.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("the editor (%s) failed: %v", ed, err)
	}
	return nil
}
