package cli

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/alecthomas/kingpin/v2"
	"golang.org/x/sys/unix"

	"github.com/anthropics/cco/lifecycle"
)

func configureLogsCmd(daemon *kingpin.CmdClause, e *Env) {
	logs := &logsCmd{env: e, lines: -1}
	lc := daemon.Command("logs", "Print the end of the daemon's log, or follow it.").Action(action(e, logs.run))
	lc.Flag("lines", "How many lines to print from the end: of the lines selected (default 50, all with --since or --until).").Short('n').PlaceHolder("N").SetValue(countValue{name: "-n", n: &logs.lines})
	lc.Flag("follow", "Keep printing new lines as they are written, across rotation, until interrupted; wait for the log when there is none yet.").Short('f').BoolVar(&logs.follow)
	lc.Flag("since", "Lines from this time on: a duration back from now (30m, 2h, 3d) or a time (2026-11-25 10:00, a date, RFC 3339).").PlaceHolder("WHEN").SetValue(whenValue{name: "--since", s: &logs.since})
	lc.Flag("until", "Lines up to this time, as --since.").PlaceHolder("WHEN").SetValue(whenValue{name: "--until", s: &logs.until})
	enumFlag(lc.Flag("level", "Only lines at this level or above (a crash dump's lines have the level of the line before them)."), "level", &logs.level, "debug", "info", "warn", "error")
}

type logsCmd struct {
	env          *Env
	lines        int // below 0: not given
	follow       bool
	since, until string // as given: a time relative to now is taken at run
	level        string
}

// followInterval is how often logs --follow looks for new lines where it
// is not told of them (no inotify) and while it passes from one file to
// the next.
const followInterval = 100 * time.Millisecond

// defaultLines is how many lines logs prints without -n, --since or
// --until.
const defaultLines = 50

func (c *logsCmd) run(ctx context.Context) error {
	now := c.env.Now()
	var since, until time.Time
	if c.since != "" {
		since, _ = parseWhen(c.since, now) // checked by whenValue.Set
	}
	if c.until != "" {
		until, _ = parseWhen(c.until, now)
	}
	if c.follow && !until.IsZero() {
		return &ExitError{Code: exitUsage, Err: errors.New("--until with --follow: following has no end; give one of them")}
	}
	if !since.IsZero() && !until.IsZero() && until.Before(since) {
		return &ExitError{Code: exitUsage, Err: fmt.Errorf("--until %s is before --since %s", until.Format(time.RFC3339), since.Format(time.RFC3339))}
	}
	paths, err := c.env.Paths()
	if err != nil {
		return err
	}
	sel := lifecycle.Selection{Since: since, Until: until, Lines: c.lines}
	if c.lines < 0 && since.IsZero() && until.IsZero() {
		sel.Lines = defaultLines
	}
	min := lifecycle.AllLevels
	if c.level != "" {
		min, _ = lifecycle.ParseLevel(c.level)
	}
	// The reader of a pipe may go away (`logs -f | head -2`): a write then
	// fails with EPIPE instead of killing cco, and an idle follower learns
	// of it from the pipe itself; either way cco ends quietly.
	sigpipe := make(chan os.Signal, 1)
	signal.Notify(sigpipe, syscall.SIGPIPE)
	defer signal.Stop(sigpipe)
	ctx, stop := untilReaderGone(ctx, c.env.Stdout)
	defer stop()
	lines := lifecycle.NewLines(c.env.Stdout, min, levelPaint(newStyle(c.env.Stdout, c.env.Getenv)))

	path := paths.LogFile()
	// Under launchd, what the daemon prints before it opens its log (a
	// configuration error, a port taken) goes to launchd.log.
	early := paths.LaunchdLog()
	log, _ := os.Stat(path)
	if fi, err := os.Stat(early); err == nil && fi.Size() > 0 && (log == nil || fi.ModTime().After(log.ModTime())) {
		if log == nil {
			fmt.Fprintf(c.env.Stderr, "cco: the daemon has not opened %s yet; what it printed under launchd:\n", path)
			_, err := lifecycle.Tail(c.env.Stdout, early, sel.Lines)
			return quiet(err)
		}
		defer fmt.Fprintf(c.env.Stderr, "cco: %s is newer than the log: the daemon printed there under launchd before its log opened\n", early)
	}
	end, err := lifecycle.Select(lines, path, sel)
	switch {
	case errors.Is(err, fs.ErrNotExist) && c.follow:
		// As tail -F: the log's first line will be followed from the start.
		fmt.Fprintf(c.env.Stderr, "cco: waiting for %s to appear (the daemon has not run with this CCO_HOME yet)\n", path)
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("%s does not exist: the daemon has not run with this CCO_HOME yet (start it with `cco daemon start`, or wait for it with --follow)", path)
	case err != nil:
		return quiet(err)
	case !c.follow:
		return quiet(lines.Flush())
	}
	return quiet(lifecycle.Follow(ctx, lines, path, end, followInterval))
}

// quiet drops the error of a write to a pipe whose reader went away: the
// reader had all it wanted.
func quiet(err error) error {
	if errors.Is(err, syscall.EPIPE) {
		return nil
	}
	return err
}

// levelPaint colours a log line by its level on a terminal: warnings
// yellow, errors red.
func levelPaint(s style) func(slog.Level, []byte) []byte {
	if !s.on {
		return nil
	}
	return func(lvl slog.Level, b []byte) []byte {
		text, nl := strings.CutSuffix(string(b), "\n")
		switch {
		case lvl >= slog.LevelError:
			text = s.red(text)
		case lvl >= slog.LevelWarn:
			text = s.yellow(text)
		default:
			return b
		}
		if nl {
			text += "\n"
		}
		return []byte(text)
	}
}

// untilReaderGone returns a context that is also cancelled when w is a pipe
// or socket whose reader has gone away, as poll(2) reports it on the
// writing end (an error or hang-up; Linux does for a pipe) without anything
// being written. Where it does not, the next write ends logs.
func untilReaderGone(ctx context.Context, w any) (context.Context, func()) {
	ctx, cancel := context.WithCancel(ctx)
	f, ok := w.(*os.File)
	if !ok {
		return ctx, cancel
	}
	fi, err := f.Stat()
	if err != nil || fi.Mode()&(os.ModeNamedPipe|os.ModeSocket) == 0 {
		return ctx, cancel
	}
	raw, err := f.SyscallConn()
	if err != nil {
		return ctx, cancel
	}
	var fd int
	raw.Control(func(u uintptr) { fd = int(u) })
	// The poll also watches wake, which stop closes to end it.
	wake, woken, err := os.Pipe()
	if err != nil {
		return ctx, cancel
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		fds := []unix.PollFd{{Fd: int32(fd)}, {Fd: int32(wake.Fd()), Events: unix.POLLIN}}
		for {
			_, err := unix.Poll(fds, -1)
			if errors.Is(err, unix.EINTR) {
				continue
			}
			if err == nil && fds[0].Revents&(unix.POLLERR|unix.POLLHUP) != 0 {
				cancel()
			}
			return
		}
	}()
	return ctx, func() {
		woken.Close()
		<-done
		wake.Close()
		cancel()
	}
}

// whenValue is a flag that takes a time: a duration back from now (Go's,
// or whole days: 3d, 1d12h), now, today or yesterday, a date and time of
// day in the local zone, a date, or RFC 3339.
type whenValue struct {
	name string
	s    *string
}

// whenLayouts are the times whenValue reads in the local zone.
var whenLayouts = []string{"2006-01-02 15:04:05", "2006-01-02 15:04", "2006-01-02T15:04:05", "2006-01-02T15:04", "2006-01-02"}

func (v whenValue) Set(s string) error {
	s = strings.TrimSpace(s)
	if _, err := parseWhen(s, time.Now()); err != nil {
		return fmt.Errorf("%s %s: want a duration back from now (30m, 2h, 3d) or a time (2026-11-25 10:00, 2026-11-25, 2026-11-25T10:00:00Z)", v.name, s)
	}
	*v.s = s
	return nil
}

func (v whenValue) String() string { return *v.s }

func parseWhen(s string, now time.Time) (time.Time, error) {
	switch strings.ToLower(s) {
	case "now":
		return now, nil
	case "today":
		y, m, d := now.Date()
		return time.Date(y, m, d, 0, 0, 0, 0, now.Location()), nil
	case "yesterday":
		y, m, d := now.Date()
		return time.Date(y, m, d-1, 0, 0, 0, 0, now.Location()), nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	for _, l := range whenLayouts {
		if t, err := time.ParseInLocation(l, s, now.Location()); err == nil {
			return t, nil
		}
	}
	d, err := parseAgo(strings.TrimPrefix(s, "-"))
	if err != nil {
		return time.Time{}, err
	}
	return now.Add(-d), nil
}

// parseAgo reads a duration of Go's or with whole days first: 3d, 1d12h.
func parseAgo(s string) (time.Duration, error) {
	var days time.Duration
	if i := strings.IndexByte(s, 'd'); i > 0 {
		n, err := strconv.Atoi(s[:i])
		if err != nil || n > 100000 {
			return 0, fmt.Errorf("bad days %q", s[:i])
		}
		days, s = time.Duration(n)*24*time.Hour, s[i+1:]
		if s == "" {
			return days, nil
		}
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("bad duration %q", s)
	}
	return days + d, nil
}
