package service

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/anthropics/cco/atomicfile"
)

// Plan is what an operation will do, in order.
type Plan struct {
	Steps []Step
	// Idle says why there is nothing to do, when Steps is empty:
	// "cco-daemon.service is up to date".
	Idle string
	// Notes are things the user should know afterwards, one line each.
	Notes []string
	// Err, when set, says why the operation must not be done: Apply
	// returns it and Describe prints it.
	Err error
}

// StepKind is what a step does.
type StepKind int

// The kinds of step.
const (
	Run    StepKind = iota // run a command (Args)
	Write                  // write Content to Path, atomically
	Remove                 // remove Path
)

// Step is one thing a plan does.
type Step struct {
	Kind StepKind
	Args []string // Run: the command and its arguments
	Path string   // Write, Remove
	// Content is what Write writes; Old is what it replaces (nil: a new file).
	Content, Old []byte
	// Done tells the user what the step did, in the past tense.
	Done string

	// ok lists exit codes, besides 0, that mean the step's goal already
	// holds (launchctl bootout of a job that is not loaded).
	ok []int
	// bootstrap marks a launchctl bootstrap, which is retried while the
	// job booted out just before is still going away.
	bootstrap bool
	// wait is what the step waits for once its command returned.
	wait wait
}

// Mode of the installed service file: the managers refuse files others
// can write.
const fileMode = 0o644

// Command is the step's command line as a user would type it.
func (s Step) Command() string { return shellJoin(s.Args) }

// Describe prints what the plan would do, for --dry-run: the full content
// of each file and a diff against what is there, then every command.
func (p Plan) Describe(w io.Writer) {
	if p.Err != nil {
		fmt.Fprintf(w, "would refuse: %v\n", p.Err)
		return
	}
	if len(p.Steps) == 0 {
		fmt.Fprintf(w, "%s: nothing to do\n", p.Idle)
	}
	for _, s := range p.Steps {
		switch s.Kind {
		case Write:
			fmt.Fprintf(w, "would write %s (mode %04o):\n", s.Path, fileMode)
			writeIndented(w, s.Content)
			if s.Old == nil {
				fmt.Fprintf(w, "diff: %s is not installed yet\n", s.Path)
			} else {
				fmt.Fprintf(w, "diff against the installed file:\n")
				io.WriteString(w, Diff(s.Path+" (installed)", s.Path+" (new)", s.Old, s.Content))
			}
		case Remove:
			fmt.Fprintf(w, "would remove %s\n", s.Path)
		case Run:
			fmt.Fprintf(w, "would run: %s\n", s.Command())
		}
	}
	for _, n := range p.Notes {
		fmt.Fprintf(w, "note: %s\n", n)
	}
}

func writeIndented(w io.Writer, b []byte) {
	for _, line := range strings.SplitAfter(string(b), "\n") {
		if line != "" {
			io.WriteString(w, "    "+line)
		}
	}
	if len(b) > 0 && b[len(b)-1] != '\n' {
		io.WriteString(w, "\n    \\ No newline at end of file\n")
	}
}

// apply runs p's steps in order; run executes the Run steps.
func apply(ctx context.Context, p Plan, done func(Step), run func(context.Context, Step) error) error {
	if p.Err != nil {
		return p.Err
	}
	for _, s := range p.Steps {
		var err error
		switch s.Kind {
		case Write:
			err = atomicfile.WriteFile(s.Path, s.Content, fileMode)
		case Remove:
			if err = os.Remove(s.Path); os.IsNotExist(err) {
				err = nil
			}
		case Run:
			err = run(ctx, s)
		}
		if err != nil {
			return err
		}
		if done != nil {
			done(s)
		}
	}
	return nil
}

// okCode reports whether a step's exit code means success.
func (s Step) okCode(code int) bool {
	if code == 0 {
		return true
	}
	for _, c := range s.ok {
		if c == code {
			return true
		}
	}
	return false
}

// shellJoin quotes args the way a POSIX shell would need them.
func shellJoin(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		if a != "" && strings.Trim(a, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./=:@%+,") == "" {
			q[i] = a
		} else {
			q[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
	}
	return strings.Join(q, " ")
}
