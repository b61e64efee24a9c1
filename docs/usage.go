package docs

import (
	"fmt"
	"strings"
	"text/template"

	"github.com/alecthomas/kingpin/v2"
)

// UsageTemplate lays out cco's --help: kingpin's default layout, with flags
// written the way they are typed (--json, not --[no-]json). It needs
// UsageFuncs.
const UsageTemplate = `{{define "FormatCommand" -}}
{{with FlagSummary .FlagGroupModel}} {{.}}{{end -}}
{{range .Args}}{{if not .Hidden}} {{if not .Required}}[{{end}}{{if .PlaceHolder}}{{.PlaceHolder}}{{else}}<{{.Name}}>{{end}}{{if .Value|IsCumulative}}...{{end}}{{if not .Required}}]{{end}}{{end}}{{end -}}
{{end -}}

{{define "FormatCommands" -}}
{{range .FlattenedCommands -}}
{{if not .Hidden}}  {{.FullCommand}}{{if .Default}}*{{end}}{{template "FormatCommand" .}}
{{.Help|Summary|Wrap 6}}{{end -}}
{{end -}}
{{end -}}

{{define "FormatUsage" -}}
{{template "FormatCommand" .}}{{if .Commands}} <command> [<args> ...]{{end}}
{{if .Help}}
{{.Help|Wrap 0 -}}
{{end -}}
{{end -}}

{{if .Context.SelectedCommand -}}
usage: {{.App.Name}} {{.Context.SelectedCommand}}{{template "FormatUsage" .Context.SelectedCommand}}
{{- else -}}
usage: {{.App.Name}}{{template "FormatUsage" .App}}
{{- end}}
{{- if .Context.Flags}}
Flags:
{{.Context.Flags|FlagsToTwoColumns|FormatTwoColumns}}
{{- end}}
{{- if .Context.Args}}
Args:
{{.Context.Args|ArgsToTwoColumns|FormatTwoColumns}}
{{- end}}
{{- if .Context.SelectedCommand}}
{{- if len .Context.SelectedCommand.Commands}}
Subcommands:
{{template "FormatCommands" .Context.SelectedCommand}}
{{- end}}
{{- else if .App.Commands}}
Commands:
{{template "FormatCommands" .App}}
{{- end}}`

// UsageFuncs replaces the functions of kingpin's usage templates that
// write boolean flags as --[no-]name.
func UsageFuncs() template.FuncMap {
	return template.FuncMap{
		"FlagSummary":       flagSummary,
		"FlagsToTwoColumns": flagRows,
		"Summary":           Summary,
	}
}

// Summary is the first paragraph of a help text: what a list of commands
// shows, while the command's own --help shows it all.
func Summary(help string) string {
	first, _, _ := strings.Cut(help, "\n\n")
	return first
}

// usageFlag is a flag as --help shows it: -n, --lines=50.
func usageFlag(f *kingpin.FlagModel, haveShort bool) string {
	s := "--" + f.Name
	if !f.IsBoolFlag() {
		s += "=" + f.FormatPlaceHolder()
	}
	switch {
	case f.Short != 0:
		return fmt.Sprintf("-%c, %s", f.Short, s)
	case haveShort:
		return "    " + s
	}
	return s
}

// flagSummary is a command's flags in its usage line: the required ones,
// then [<flags>] when it has others.
func flagSummary(g *kingpin.FlagGroupModel) string {
	var out []string
	optional := false
	for _, f := range visibleFlags(g) {
		if f.Required {
			out = append(out, usageFlag(f, false))
		} else {
			optional = true
		}
	}
	if optional {
		out = append(out, "[<flags>]")
	}
	return strings.Join(out, " ")
}

// flagRows is the flags column and the help column of the Flags section.
func flagRows(flags []*kingpin.FlagModel) [][2]string {
	haveShort := false
	for _, f := range flags {
		haveShort = haveShort || f.Short != 0
	}
	var rows [][2]string
	for _, f := range visibleFlags(&kingpin.FlagGroupModel{Flags: flags}) {
		rows = append(rows, [2]string{usageFlag(f, haveShort), f.HelpWithEnvar()})
	}
	return rows
}
