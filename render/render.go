// Package render turns cco's embedded templates into file contents and
// writes files atomically.
package render

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"strconv"
	"strings"
	"sync"
	"text/template"

	"github.com/Masterminds/sprig/v3"

	"github.com/anthropics/cco/config"
	"github.com/anthropics/cco/templates"
)

// ownTemplates are the templates this package renders; the generated
// documentation and completions have templates (man-*, completion-*) of
// their own with other functions.
var ownTemplates = []string{"config.toml.tmpl", "cco-daemon.service.tmpl", "cco-daemon-sandbox.conf.tmpl", "com.anthropic.cco.daemon.plist.tmpl"}

var (
	parseOnce sync.Once
	parsed    *template.Template
	parseErr  error
)

// funcs is sprig's hermetic function map (no clock, environment or
// randomness, so renders are reproducible) plus cco's own escaping.
func funcs() template.FuncMap {
	m := sprig.HermeticTxtFuncMap()
	m["tomlValue"] = tomlValue
	m["xmlText"] = xmlText
	m["unitCommand"] = unitCommand
	m["unitEnv"] = unitEnv
	m["unitArg"] = unitArg
	m["unitPath"] = unitPath
	return m
}

// all parses every embedded template once, on first use; a test parses
// them all so that a broken template never reaches a user.
func all() (*template.Template, error) {
	parseOnce.Do(func() {
		parsed, parseErr = template.New("").Funcs(funcs()).Option("missingkey=error").ParseFS(templates.FS, ownTemplates...)
	})
	return parsed, parseErr
}

// Render executes the named template (its file name, such as
// "config.toml.tmpl") with data.
func Render(name string, data any) ([]byte, error) {
	t, err := all()
	if err != nil {
		return nil, fmt.Errorf("parsing templates: %w", err)
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, name, data); err != nil {
		var bad *UnrepresentableError
		if errors.As(err, &bad) {
			return nil, bad
		}
		return nil, fmt.Errorf("rendering %s: %w", name, err)
	}
	return buf.Bytes(), nil
}

// ConfigEntry is one key of config.toml as the template shows it.
type ConfigEntry struct {
	Key   config.Key
	Set   bool // the file sets the key; otherwise its default is shown commented out
	Value any
}

// ConfigTOML renders config.toml for the values f sets; every other key is
// documented with its default, commented out.
func ConfigTOML(f *config.File) ([]byte, error) {
	entries := make([]ConfigEntry, len(config.Keys))
	for i, k := range config.Keys {
		v, set := f.Values[k.Name]
		entries[i] = ConfigEntry{Key: k, Set: set, Value: v}
	}
	return Render("config.toml.tmpl", struct{ Entries []ConfigEntry }{entries})
}

// tomlValue writes a config value as a TOML literal.
func tomlValue(v any) (string, error) {
	switch x := v.(type) {
	case int64:
		return strconv.FormatInt(x, 10), nil
	case bool:
		return strconv.FormatBool(x), nil
	case string:
		return tomlString(x), nil
	}
	return "", fmt.Errorf("tomlValue: unsupported %T", v)
}

// tomlString quotes s as a TOML basic string.
func tomlString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\u%04X`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// EditConfigTOML returns the text of cur with one key changed to what next
// says: its line rewritten or, for a key cur does not set, its commented
// default line taken (or a line appended); a key next does not set goes
// back to its commented default. Every other line — the user's own comments
// among them — stays as it was. A file that does not exist yet is rendered
// whole from the template, and so is one the edit cannot be proven on: the
// edited text must parse back to exactly next's values.
func EditConfigTOML(cur, next *config.File, key string) ([]byte, error) {
	k, err := config.LookupKey(key)
	if err != nil {
		return nil, err
	}
	if cur.Text == nil {
		return ConfigTOML(next)
	}
	v, set := next.Values[key]
	line, err := tomlValue(k.Default)
	if set {
		line, err = tomlValue(v)
	}
	if err != nil {
		return nil, err
	}
	if set {
		line = key + " = " + line + "\n"
	} else {
		line = "# " + key + " = " + line + "\n"
	}
	lines := strings.SplitAfter(string(cur.Text), "\n")
	at := cur.Lines[key] - 1
	if at < 0 {
		at = commentedDefault(lines, key)
	}
	switch {
	case at >= 0:
		lines[at] = line
	case !set:
		return cur.Text, nil // neither set nor documented: nothing to undo
	default:
		if last := lines[len(lines)-1]; last != "" && !strings.HasSuffix(last, "\n") {
			lines[len(lines)-1] += "\n"
		}
		lines = append(lines, line)
	}
	out := []byte(strings.Join(lines, ""))
	if parsed, err := config.Parse(cur.Path, out); err == nil && maps.Equal(parsed.Values, next.Values) {
		return out, nil
	}
	return ConfigTOML(next)
}

// commentedDefault finds the line "# key = …" that documents key's
// default, or returns -1.
func commentedDefault(lines []string, key string) int {
	for i, l := range lines {
		rest, ok := strings.CutPrefix(strings.TrimSpace(l), "#")
		if !ok {
			continue
		}
		if name, _, ok := strings.Cut(rest, "="); ok && strings.TrimSpace(name) == key {
			return i
		}
	}
	return -1
}
