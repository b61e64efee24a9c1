package config

import (
	"fmt"
	"maps"
	"strconv"
	"strings"
	"text/template"

	"github.com/anthropics/cco/templates"
)

// configTemplate is config.toml's template: every key documented, set or
// shown with its default commented out.
var configTemplate = templates.NewSet(template.FuncMap{"tomlValue": tomlValue}, "config.toml.tmpl")

// TemplateEntry is one key of config.toml as the template shows it.
type TemplateEntry struct {
	Key   Key
	Set   bool // the file sets the key; otherwise its default is shown commented out
	Value any
}

// Template renders config.toml for the values f sets; every other key is
// documented with its default, commented out.
func Template(f *File) ([]byte, error) {
	entries := make([]TemplateEntry, len(Keys))
	for i, k := range Keys {
		v, set := f.Values[k.Name]
		entries[i] = TemplateEntry{Key: k, Set: set, Value: v}
	}
	return configTemplate.Execute("config.toml.tmpl", struct{ Entries []TemplateEntry }{entries})
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

// Edit returns the text of cur with one key changed to what next
// says: its line rewritten or, for a key cur does not set, its commented
// default line taken (or a line appended); a key next does not set goes
// back to its commented default. Every other line — the user's own comments
// among them — stays as it was. A file that does not exist yet is rendered
// whole from the template, and so is one the edit cannot be proven on: the
// edited text must parse back to exactly next's values.
func Edit(cur, next *File, key string) ([]byte, error) {
	k, err := LookupKey(key)
	if err != nil {
		return nil, err
	}
	if cur.Text == nil {
		return Template(next)
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
	if parsed, err := Parse(cur.Path, out); err == nil && maps.Equal(parsed.Values, next.Values) {
		return out, nil
	}
	return Template(next)
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
