// Package docs generates cco's shell completions and man pages from the
// kingpin model of the command tree and the config key table, and lays out
// its --help. It reads the models at run time, so what it writes stays true
// as commands and keys change; `make generate` commits its output to
// completions/ and man/.
package docs

//go:generate go run github.com/anthropics/cco/internal/cmd/gen -root ..

import (
	"sort"

	"github.com/alecthomas/kingpin/v2"

	"github.com/anthropics/cco/config"
	"github.com/anthropics/cco/templates"
)

// Date is the date the man pages carry. It is a constant, updated by hand
// when the pages change, so that generating them is reproducible.
const Date = "2026-11-25"

// Shells are the shells cco has completion scripts for.
var Shells = []string{"bash", "zsh", "fish"}

// CompletionFile is where the completion script of shell is committed,
// relative to the repository root.
func CompletionFile(shell string) string {
	switch shell {
	case "bash":
		return "completions/cco.bash"
	case "zsh":
		return "completions/_cco"
	default:
		return "completions/cco.fish"
	}
}

// manPages maps each committed man page to its template.
var manPages = map[string]string{
	"man/cco.1":             "man-cco.1.tmpl",
	"man/cco-daemon.1":      "man-cco-daemon.1.tmpl",
	"man/cco-usage.1":       "man-cco-usage.1.tmpl",
	"man/cco-config.toml.5": "man-cco-config.toml.5.tmpl",
}

// docTemplates are this package's templates: the man pages and the
// completion scripts.
var docTemplates = templates.NewSet(manFuncs, "man-*.tmpl", "completion-*.tmpl")

func execute(name string, data any) ([]byte, error) { return docTemplates.Execute(name, data) }

// Completion returns the completion script of shell ("bash", "zsh" or
// "fish") for app: a shim that asks `cco --completion-bash …` for the
// candidates at each Tab.
func Completion(app *kingpin.ApplicationModel, shell string) ([]byte, error) {
	return execute("completion-"+shell+".tmpl", app)
}

// File is one generated file, its path relative to the repository root.
type File struct {
	Path string
	Data []byte
}

// Generate returns every generated file, sorted by path: the completion
// scripts and the man pages.
func Generate(app *kingpin.ApplicationModel, keys []config.Key) ([]File, error) {
	var files []File
	for _, shell := range Shells {
		data, err := Completion(app, shell)
		if err != nil {
			return nil, err
		}
		files = append(files, File{CompletionFile(shell), data})
	}
	m := newManual(app, keys)
	for path, tmpl := range manPages {
		data, err := execute(tmpl, m)
		if err != nil {
			return nil, err
		}
		files = append(files, File{path, data})
	}
	sort.Slice(files, func(i, j int) bool { return files[i].Path < files[j].Path })
	return files, nil
}
