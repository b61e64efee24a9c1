package docs

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"text/template"
	"time"

	"github.com/alecthomas/kingpin/v2"

	"github.com/anthropics/cco/config"
)

// manual is what the man page templates read.
type manual struct {
	App  *kingpin.ApplicationModel
	Keys []keyDoc
	Date string
}

// keyDoc is a config key with what its man page entry says beyond the key
// table: the flag that sets it and the commands that have that flag.
type keyDoc struct {
	config.Key
	Flag     string
	Commands []string // "cco daemon start", …
}

func newManual(app *kingpin.ApplicationModel, keys []config.Key) manual {
	m := manual{App: app, Date: Date}
	for _, k := range keys {
		d := keyDoc{Key: k, Flag: config.FlagName(k.Name)}
		for _, cmd := range visibleCommands(app.CmdGroupModel) {
			for _, f := range visibleFlags(cmd.FlagGroupModel) {
				if f.Name == d.Flag {
					d.Commands = append(d.Commands, app.Name+" "+cmd.FullCommand)
				}
			}
		}
		m.Keys = append(m.Keys, d)
	}
	return m
}

// Command returns the visible command with the given full name ("daemon").
func (m manual) Command(name string) (*kingpin.CmdModel, error) {
	var find func([]*kingpin.CmdModel) *kingpin.CmdModel
	find = func(cmds []*kingpin.CmdModel) *kingpin.CmdModel {
		for _, c := range cmds {
			if c.FullCommand == name && !c.Hidden {
				return c
			}
			if found := find(c.Commands); found != nil {
				return found
			}
		}
		return nil
	}
	if c := find(m.App.Commands); c != nil {
		return c, nil
	}
	return nil, fmt.Errorf("no command %q in the command tree", name)
}

var manFuncs = template.FuncMap{
	"roff":     roff,
	"summary":  Summary,
	"flag":     manFlag,
	"flags":    visibleFlags,
	"args":     visibleArgs,
	"commands": visibleCommands,
	"synopsis": synopsis,
	"arg":      manArg,
	"value":    manValue,
	"join":     strings.Join,
	"hyphens":  hyphens,
}

// optionWord is a word that names a command-line option: --dry-run, -n.
var optionWord = regexp.MustCompile(`(^|[\s(\[/"'=])(--?[A-Za-z0-9][-A-Za-z0-9_]*)`)

// hyphens escapes every hyphen of s as a roff minus sign, as options are
// written: it keeps them from breaking lines and lets them be copied.
func hyphens(s string) string { return strings.ReplaceAll(s, "-", `\-`) }

// roff escapes text written by a person (help texts, key docs) for the body
// of a man page: backslashes, a leading period or apostrophe that roff takes for a
// request, option hyphens and characters beyond ASCII. Paragraphs (split at
// blank lines) are joined into one line each and separated by .sp.
func roff(s string) string {
	var paras []string
	for _, p := range strings.Split(strings.ReplaceAll(s, "\r\n", "\n"), "\n\n") {
		p = strings.Join(strings.Fields(p), " ")
		if p == "" {
			continue
		}
		p = strings.ReplaceAll(p, `\`, `\e`)
		p = optionWord.ReplaceAllStringFunc(p, hyphens)
		var b strings.Builder
		for _, r := range p {
			if r < 0x80 {
				b.WriteRune(r)
			} else {
				fmt.Fprintf(&b, `\[u%04X]`, r)
			}
		}
		p = b.String()
		if p[0] == '.' || p[0] == '\'' {
			p = `\&` + p
		}
		paras = append(paras, p)
	}
	return strings.Join(paras, "\n.sp\n")
}

// placeholder is the word that stands for a flag's value: its own, else
// one that names the value's type, else the flag's name.
func placeholder(f *kingpin.FlagModel) string {
	if f.PlaceHolder != "" {
		return f.PlaceHolder
	}
	if g, ok := f.Value.(kingpin.Getter); ok {
		switch g.Get().(type) {
		case time.Duration:
			return "DURATION"
		case int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64:
			return "N"
		}
	}
	return strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
}

// manFlag is a flag as a man page shows it: \fB\-n\fR, \fB\-\-lines\fR \fIN\fR.
func manFlag(f *kingpin.FlagModel) string {
	var b strings.Builder
	if f.Short != 0 {
		fmt.Fprintf(&b, `\fB\-%s\fR, `, roff(string(f.Short)))
	}
	fmt.Fprintf(&b, `\fB\-\-%s\fR`, hyphens(f.Name))
	if !f.IsBoolFlag() {
		fmt.Fprintf(&b, ` \fI%s\fR`, roff(placeholder(f)))
	}
	return b.String()
}

// manArg is a positional argument: \fIkey\fR, [\fIfile\fR], \fIcommand\fR....
func manArg(a *kingpin.ArgModel) string {
	name := a.PlaceHolder
	if name == "" {
		name = a.Name
	}
	s := `\fI` + roff(name) + `\fR`
	if r, ok := a.Value.(interface{ IsCumulative() bool }); ok && r.IsCumulative() {
		s += "..."
	}
	if !a.Required {
		s = "[" + s + "]"
	}
	return s
}

// synopsis is one command's usage line: its name, its required flags, a
// mark for the optional ones, and its arguments.
func synopsis(app *kingpin.ApplicationModel, cmd *kingpin.CmdModel) string {
	parts := []string{`\fB` + hyphens(app.Name+" "+cmd.FullCommand) + `\fR`}
	optional := false
	for _, f := range visibleFlags(cmd.FlagGroupModel) {
		if f.Required {
			parts = append(parts, manFlag(f))
		} else {
			optional = true
		}
	}
	if optional {
		parts = append(parts, `[\fIflags\fR]`)
	}
	for _, a := range visibleArgs(cmd.ArgGroupModel) {
		parts = append(parts, manArg(a))
	}
	return strings.Join(parts, " ")
}

func visibleFlags(g *kingpin.FlagGroupModel) []*kingpin.FlagModel {
	return visible(g.Flags, func(f *kingpin.FlagModel) bool { return f.Hidden })
}

func visibleArgs(g *kingpin.ArgGroupModel) []*kingpin.ArgModel {
	return visible(g.Args, func(a *kingpin.ArgModel) bool { return a.Hidden })
}

// visible keeps the items that are not hidden, in order.
func visible[T any](items []T, hidden func(T) bool) []T {
	var out []T
	for _, it := range items {
		if !hidden(it) {
			out = append(out, it)
		}
	}
	return out
}

// visibleCommands lists the commands that run something (no groups) under
// g, depth first, in the order they were defined.
func visibleCommands(g *kingpin.CmdGroupModel) []*kingpin.CmdModel {
	return visible(g.FlattenedCommands(), func(c *kingpin.CmdModel) bool { return c.Hidden })
}

// manValue is a config value as config.toml writes it, with its size in
// binary units when it is a whole number of them.
func manValue(k config.Key, v any) string {
	s := config.FormatValue(v)
	if k.Kind == config.String {
		s = strconv.Quote(s)
	}
	if n, ok := v.(int64); ok && k.Unit == "bytes" {
		for _, u := range binaryUnits {
			if n >= u.size && n%u.size == 0 {
				s += fmt.Sprintf(" (%d %s)", n/u.size, u.name)
				break
			}
		}
	}
	return roff(s)
}

var binaryUnits = []struct {
	size int64
	name string
}{{1 << 40, "TiB"}, {1 << 30, "GiB"}, {1 << 20, "MiB"}, {1 << 10, "KiB"}}
