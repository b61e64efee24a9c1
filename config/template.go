package config

import (
	"errors"
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
// edited text must parse back to exactly next's values. Lines with problems
// of their own (another key's bad value, an unknown key) stay as they are.
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
	parsed, perr := Parse(cur.Path, out)
	if parsed != nil && maps.Equal(parsed.Values, next.Values) && !hasProblemAbout(perr, key) {
		// Problems of other lines, if any, are the user's to fix: they stay
		// as they were.
		return out, nil
	}
	for k := range cur.Lines {
		if _, ok := cur.Values[k]; !ok && k != key {
			// A render would drop the line of that other problem.
			return nil, fmt.Errorf("%s: %s cannot be changed line by line while the file has other problems: fix them first (`cco daemon config edit`)", cur.Path, key)
		}
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

// RemoveLine returns the text of cur without the line of key, a key the
// file sets, known or not (a misspelt key, a key of another version): the
// way out of a file whose every other edit is refused. Every other line
// stays. The result must parse without a problem about key; a value over
// several lines cannot be removed line by line, and is an error.
func RemoveLine(cur *File, key string) ([]byte, error) {
	at := cur.Lines[key] - 1
	if cur.Text == nil || at < 0 {
		return nil, fmt.Errorf("%s does not set %q", cur.Path, key)
	}
	lines := strings.SplitAfter(string(cur.Text), "\n")
	out := []byte(strings.Join(append(lines[:at:at], lines[at+1:]...), ""))
	back, err := Parse(cur.Path, out)
	if back == nil || hasProblemAbout(err, key) {
		return nil, fmt.Errorf("%s: %q cannot be removed line by line (its value spans lines): edit the file with `cco daemon config edit`", cur.Path, key)
	}
	if _, still := back.Lines[key]; still {
		return nil, fmt.Errorf("%s sets %q more than once: edit the file with `cco daemon config edit`", cur.Path, key)
	}
	return out, nil
}

func hasProblemAbout(err error, key string) bool {
	for _, e := range Problems(err) {
		var p *Problem
		if errors.As(e, &p) && (p.Key == key || p.About == key) {
			return true
		}
	}
	return false
}
