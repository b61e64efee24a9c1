// Package cli is cco's command tree: one file per command group, each
// command a struct whose flags are bound by Var and whose run method
// returns an error. Main is the one place that turns errors into output and
// exit codes.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"os/user"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/alecthomas/kingpin/v2"

	"github.com/anthropics/cco/config"
	"github.com/anthropics/cco/docs"
	"github.com/anthropics/cco/service"
	"github.com/anthropics/cco/version"
)

// Env is everything a command may touch of the outside world — its
// streams, environment, user, working directory, clock and the programs of
// the service managers — so that tests can give a command its own. Commands
// reach the outside through it and nowhere else.
type Env struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	Getenv func(string) string
	// Environ is the whole environment, for the daemon a command starts.
	Environ func() []string
	// Executable is the path of the running cco, as the user ran it.
	Executable func() (string, error)
	// Args0 is argv[0] as cco was started, for the stable path a service
	// runs cco by (service.StableExecutable).
	Args0 string
	// Getwd is the working directory.
	Getwd func() (string, error)
	// User is the user cco runs as.
	User func() (User, error)
	// Runner runs systemctl and launchctl.
	Runner service.Runner
	// Now is the clock.
	Now func() time.Time

	// ctx is the context of the command line Main runs: Ctrl-C (SIGINT)
	// and SIGTERM cancel it.
	ctx context.Context
}

// User is who runs cco.
type User struct {
	UID  int
	Name string
}

// OSEnv is the real process environment.
func OSEnv() *Env {
	return &Env{
		Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr,
		Getenv: os.Getenv, Environ: os.Environ,
		Executable: os.Executable, Args0: os.Args[0], Getwd: os.Getwd,
		User: currentUser, Runner: service.ExecRunner{}, Now: time.Now,
	}
}

// currentUser asks the user database for this process's user, and falls
// back to $USER where it has no entry (a container's made-up uid).
func currentUser() (User, error) {
	u := User{UID: os.Getuid(), Name: os.Getenv("USER")}
	if pw, err := user.LookupId(strconv.Itoa(u.UID)); err == nil {
		u.Name = pw.Username
	}
	return u, nil
}

// Paths returns the files under CCO_HOME, once config.Paths.Check has
// found CCO_HOME to be this user's own: every command that touches CCO_HOME
// asks here first.
func (e *Env) Paths() (config.Paths, error) {
	p, err := config.HomeFrom(e.Getenv)
	if err != nil {
		return p, err
	}
	return p, p.Check()
}

// Exit codes shared by all commands.
const (
	exitOK    = 0
	exitError = 1
	exitUsage = 2
)

// ExitError carries a specific exit code out of a command; its message, if
// any, is printed like any other error.
type ExitError struct {
	Code int
	Err  error // nil: exit with Code and print nothing more
}

func (e *ExitError) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("exit status %d", e.Code)
	}
	return e.Err.Error()
}

func (e *ExitError) Unwrap() error { return e.Err }

// commandError marks an error returned by a command's own work, as opposed
// to kingpin's parse errors, which are usage errors.
type commandError struct{ err error }

func (c commandError) Error() string { return c.err.Error() }

// Unwrap lets Main find an *ExitError a command returned.
func (c commandError) Unwrap() error { return c.err }

// action adapts a command's run method to kingpin: it runs with the
// context Main made, which Ctrl-C and SIGTERM cancel.
func action(e *Env, run func(context.Context) error) kingpin.Action {
	return func(*kingpin.ParseContext) error {
		ctx := e.ctx
		if ctx == nil {
			ctx = context.Background()
		}
		if err := run(ctx); err != nil {
			return commandError{err}
		}
		return nil
	}
}

// terminated is how kingpin's --help, --version and completion paths end
// Main without calling os.Exit.
type terminated int

// New builds the whole command tree. It reads nothing from disk, so that
// every Tab press (`cco --completion-bash …`) stays fast.
func New(e *Env) *kingpin.Application {
	app := kingpin.New("cco", "Run and keep running the CCO daemon, the local background server of CCO (Claude Code Orchestra).")
	app.Version(version.String())
	app.HelpFlag.Short('h').Help("Show help for the command.")
	app.UsageTemplate(docs.UsageTemplate).UsageFuncs(docs.UsageFuncs())
	app.UsageWriter(e.Stdout)
	app.ErrorWriter(e.Stderr)
	app.Terminate(func(code int) { panic(terminated(code)) })

	daemon := app.Command("daemon", "Start, stop, watch, install and configure the CCO daemon.")
	configureLifecycleCmds(daemon, e)
	configureSupervisionCmds(daemon, e)
	configureReloadCmd(daemon, e)
	configureServiceCmds(daemon, e)
	configureRenderCmd(daemon, e)
	configureConfigCmd(daemon, e)
	configureUsageCmd(app, e)
	configureDashboardCmd(app, e)
	configureCompletionCmd(app, e)
	configureVersionCmd(app, e)
	return app
}

// kingpinScriptFlags are kingpin's own hidden flags that print its stock
// completion scripts, which offer less than ours (docs/): they print ours.
var kingpinScriptFlags = map[string]string{
	"--completion-script-bash": "bash",
	"--completion-script-zsh":  "zsh",
}

// Main runs cco with args and returns the process exit code.
func Main(args []string, e *Env) (code int) {
	defer func() {
		if r := recover(); r != nil {
			t, ok := r.(terminated)
			if !ok {
				panic(r)
			}
			code = int(t)
		}
	}()
	if len(args) == 1 {
		if shell, ok := kingpinScriptFlags[args[0]]; ok {
			args = []string{"completion", shell}
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	withCtx := *e
	withCtx.ctx = ctx
	app := New(&withCtx)
	if len(args) > 0 && (args[0] == "--completion-bash" || args[0] == describedFlag) {
		completeHelp(app, args) // only a Tab asks for help's candidates
	}
	if len(args) > 0 && args[0] == describedFlag {
		if err := completeDescribed(app, args[1:], e.Stdout); err != nil {
			fmt.Fprintf(e.Stderr, "cco: %v\n", err)
			return exitError
		}
		return exitOK
	}
	_, err := app.Parse(args)
	if err == nil {
		return exitOK
	}
	var exit *ExitError
	var cmdErr commandError
	switch {
	case errors.As(err, &exit):
		if exit.Err != nil {
			fmt.Fprintf(e.Stderr, "cco: %v\n", exit.Err)
		}
		return exit.Code
	case errors.As(err, &cmdErr):
		fmt.Fprintf(e.Stderr, "cco: %v\n", cmdErr.err)
		return exitError
	default:
		fmt.Fprintf(e.Stderr, "cco: %s\n", usageMessage(app, args, err))
		return exitUsage
	}
}

// usageMessage says what kingpin found wrong with args, with the command
// it was parsing, the nearest known command or flag when a word looks like
// a typo of one, and where to read more.
func usageMessage(app *kingpin.Application, args []string, err error) string {
	path, cmds, flags := "cco", app.Model().Commands, app.Model().Flags
	if pc, _ := app.ParseContext(args); pc != nil && pc.SelectedCommand != nil {
		m := pc.SelectedCommand.Model()
		path, cmds, flags = "cco "+m.FullCommand, m.Commands, append(m.Flags, flags...)
	}
	msg := err.Error()
	var word, kind string
	var known []string
	if _, err := fmt.Sscanf(msg, "expected command but got %q", &word); err == nil {
		kind = "command"
		for _, c := range cmds {
			if !c.Hidden {
				known = append(known, c.Name)
			}
		}
	} else if w, ok := strings.CutPrefix(msg, "unknown long flag '"); ok {
		word, kind = strings.TrimSuffix(w, "'"), "flag"
		for _, f := range flags {
			if !f.Hidden {
				known = append(known, "--"+f.Name)
			}
		}
	}
	if kind != "" {
		msg = fmt.Sprintf("unknown %s %q for %s", kind, word, path)
		if near := config.Nearest(word, known); near != "" {
			msg += fmt.Sprintf("; did you mean %q?", near)
		}
	}
	return msg + " (see `" + path + " --help`)"
}

// completeHelp lets Tab complete `cco help` with the commands under the
// words typed after it.
func completeHelp(app *kingpin.Application, args []string) {
	_, _ = app.ParseContext(nil) // kingpin adds its help command on first use
	if app.HelpCommand == nil {
		return
	}
	arg := app.HelpCommand.GetArg("command")
	if arg == nil {
		return
	}
	arg.HintAction(func() []string {
		var words []string
		for i, a := range args {
			if a == "help" {
				words = args[i+1:]
				break
			}
		}
		if len(words) > 0 {
			words = words[:len(words)-1] // the word being completed
		}
		cmds := app.Model().Commands
		for _, w := range words {
			var next []*kingpin.CmdModel
			for _, c := range cmds {
				if c.Name == w {
					next = c.Commands
				}
			}
			cmds = next
		}
		var names []string
		for _, c := range cmds {
			if !c.Hidden {
				names = append(names, c.Name)
			}
		}
		return names
	})
}
