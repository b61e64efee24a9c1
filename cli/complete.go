package cli

import (
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/alecthomas/kingpin/v2"

	"github.com/anthropics/cco/docs"
)

// describedFlag is the hidden flag of the zsh and fish completion scripts:
// `cco --completion-described WORDS…` prints kingpin's candidates for WORDS
// (what --completion-bash prints), each followed by a tab and what it is:
// a command's or a flag's help, for the shells that show it.
const describedFlag = "--completion-described"

// completeDescribed prints the described candidates for words.
func completeDescribed(app *kingpin.Application, words []string, w io.Writer) error {
	cands, err := kingpinCandidates(app, words)
	if err != nil {
		return err
	}
	descs := map[string]string{}
	cmds, flags := app.Model().Commands, app.Model().Flags
	if pc, _ := app.ParseContext(words); pc != nil && pc.SelectedCommand != nil {
		m := pc.SelectedCommand.Model()
		cmds, flags = m.Commands, append(m.Flags, flags...)
	}
	for _, c := range cmds {
		descs[c.Name] = firstSentence(c.Help)
	}
	for _, f := range flags {
		descs["--"+f.Name] = firstSentence(f.Help)
	}
	for _, c := range cands {
		if d := descs[c]; d != "" {
			fmt.Fprintf(w, "%s\t%s\n", c, d)
		} else {
			fmt.Fprintln(w, c)
		}
	}
	return nil
}

// kingpinCandidates runs kingpin's own completion (--completion-bash) for
// words and returns what it offers. kingpin prints them on os.Stdout, so
// os.Stdout is a pipe meanwhile: completion runs in a process of its own,
// with nothing else writing.
func kingpinCandidates(app *kingpin.Application, words []string) ([]string, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	read := make(chan []byte)
	go func() {
		b, _ := io.ReadAll(r)
		r.Close()
		read <- b
	}()
	saved := os.Stdout
	os.Stdout = w
	func() {
		defer func() {
			if p := recover(); p != nil {
				if _, ok := p.(terminated); !ok {
					os.Stdout = saved
					panic(p)
				}
			}
		}()
		_, _ = app.Parse(append([]string{"--completion-bash"}, words...))
	}()
	os.Stdout = saved
	w.Close()
	var out []string
	for _, l := range strings.Split(string(<-read), "\n") {
		if l != "" {
			out = append(out, l)
		}
	}
	return out, nil
}

// firstSentence is a help text's first sentence, for a shell's menu.
func firstSentence(help string) string {
	s := docs.Summary(help)
	if i := strings.Index(s, ". "); i > 0 {
		s = s[:i]
	}
	return strings.TrimSuffix(strings.Join(strings.Fields(s), " "), ".")
}
