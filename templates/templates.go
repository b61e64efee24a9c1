// Package templates embeds the text templates cco renders — the systemd
// unit, the launchd plist, config.toml and the generated documentation — and
// parses them the one way every renderer shares: sprig's hermetic functions
// (no clock, environment or randomness, so output is reproducible) plus the
// renderer's own, a missing key an error, parsed once on first use so that a
// Tab press, which renders nothing, never pays for them.
package templates

import (
	"bytes"
	"embed"
	"fmt"
	"maps"
	"sync"
	"text/template"

	"github.com/Masterminds/sprig/v3"
)

// FS holds every *.tmpl file of this directory.
//
//go:embed *.tmpl
var FS embed.FS

// Set is a group of templates of FS that share functions.
type Set struct {
	parse func() (*template.Template, error)
}

// NewSet returns the templates of FS matching patterns, with sprig's
// hermetic functions and funcs (which win over sprig's of the same name).
func NewSet(funcs template.FuncMap, patterns ...string) *Set {
	return &Set{parse: sync.OnceValues(func() (*template.Template, error) {
		m := sprig.HermeticTxtFuncMap()
		maps.Copy(m, funcs)
		return template.New("").Funcs(m).Option("missingkey=error").ParseFS(FS, patterns...)
	})}
}

// Parse parses the set (once); a test calls it so that a broken template
// never reaches a user.
func (s *Set) Parse() (*template.Template, error) { return s.parse() }

// Execute renders the template named name (its file name, such as
// "config.toml.tmpl") with data. An error a template function returns is
// wrapped, so errors.As finds it.
func (s *Set) Execute(name string, data any) ([]byte, error) {
	t, err := s.parse()
	if err != nil {
		return nil, fmt.Errorf("parsing templates: %w", err)
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, name, data); err != nil {
		return nil, fmt.Errorf("rendering %s: %w", name, err)
	}
	return buf.Bytes(), nil
}
