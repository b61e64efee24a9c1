package render

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// UnrepresentableError is a value that a file format cannot carry, such as
// a path with a newline in a systemd unit. It is returned instead of a file
// that its consumer would read differently.
type UnrepresentableError struct {
	Value  string // the value as given
	Format string // "systemd unit", "launchd plist"
	Reason string // "contains a newline"
}

func (e *UnrepresentableError) Error() string {
	return fmt.Sprintf("%q cannot be written into a %s: it %s; use a path without it", e.Value, e.Format, e.Reason)
}

// checkCarriable refuses what neither a unit nor a plist can carry: invalid
// UTF-8, and any control character (a unit is line-based; XML 1.0 has no
// way to write most control characters, and launchd would mangle the rest).
func checkCarriable(s, format string) error {
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		var reason string
		switch {
		case r == utf8.RuneError && size == 1:
			reason = fmt.Sprintf("is not valid UTF-8 (byte %#x at offset %d)", s[i], i)
		case r == '\n':
			reason = "contains a newline"
		case unicode.IsControl(r):
			reason = fmt.Sprintf("contains the control character %U", r)
		case r == 0xFFFE || r == 0xFFFF:
			reason = fmt.Sprintf("contains the noncharacter %U", r)
		}
		if reason != "" {
			return &UnrepresentableError{Value: s, Format: format, Reason: reason}
		}
		i += size
	}
	return nil
}

const (
	unitFormat  = "systemd unit"
	plistFormat = "launchd plist"
)

// xmlText escapes s as the text of a plist element.
func xmlText(s string) (string, error) {
	if err := checkCarriable(s, plistFormat); err != nil {
		return "", err
	}
	return xmlEscaper.Replace(s), nil
}

var xmlEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;", "'", "&apos;")

// In a unit value `\` and `"` are escaped for systemd's unquoting and `%`
// is written `%%` (specifiers); ExecStart= arguments also expand $VAR, so
// there `$` is written `$$`.
var (
	unitValueEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "%", "%%")
	unitArgEscaper   = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "%", "%%", "$", "$$")
)

// unitCommand writes path as the command of ExecStart=, quoted as needed.
// systemd expands $VAR in every argument, argv[0] included, but not in the
// path it executes: a path with a `$` is therefore given twice, once as
// the path (after the `@` prefix) and once as argv[0]. systemd refuses to
// run a path with a quote or a backslash at all.
func unitCommand(path string) (string, error) {
	if strings.ContainsAny(path, `"'\`) {
		// systemd's own rule (string_is_safe): the unit would not load.
		return "", &UnrepresentableError{Value: path, Format: unitFormat, Reason: "contains a quote or a backslash, which systemd refuses in the path of a program"}
	}
	arg, err := unitWord(path, unitArgEscaper)
	if err != nil || !strings.Contains(path, "$") {
		return arg, err
	}
	exe, err := unitWord(path, unitValueEscaper)
	return "@" + exe + " " + arg, err
}

// unitEnv writes name=value as one assignment of Environment=, which
// expands specifiers but not variables.
func unitEnv(name, value string) (string, error) {
	return unitWord(name+"="+value, unitValueEscaper)
}

// unitArg writes s as one argument of an Exec*= command line.
func unitArg(s string) (string, error) { return unitWord(s, unitArgEscaper) }

// unitPath writes path as one entry of a list of paths such as
// ReadWritePaths=, which expands specifiers but not variables.
func unitPath(path string) (string, error) { return unitWord(path, unitValueEscaper) }

func unitWord(s string, escaper *strings.Replacer) (string, error) {
	if err := checkCarriable(s, unitFormat); err != nil {
		return "", err
	}
	escaped := escaper.Replace(s)
	if s != "" && strings.IndexFunc(s, needsQuotes) < 0 {
		return escaped, nil
	}
	return `"` + escaped + `"`, nil
}

// needsQuotes reports whether r, unquoted in a unit value, would be taken
// for something else than itself: a word separator, a quote, an escape.
func needsQuotes(r rune) bool {
	return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("/._-+=:,@%$", r))
}
