package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
)

// Kind is the TOML type of a key's value.
type Kind int

// The kinds a config key can have.
const (
	Int Kind = iota
	String
	Bool
)

func (k Kind) String() string {
	switch k {
	case Int:
		return "integer"
	case String:
		return "string"
	default:
		return "boolean"
	}
}

// Key describes one configuration key: the single model that validation,
// `config` commands, the config.toml template, completions and the man page
// all read.
type Key struct {
	Name    string
	Kind    Kind
	Default any    // int64, string or bool
	Doc     string // what the key does, one or two sentences
	Unit    string // "bytes", "seconds", … (empty when none)
	Valid   string // the valid values, as a person reads them
	Min     int64  // for Int keys
	Max     int64  // for Int keys
	Enum    []string
	check   func(string) string // extra check for String keys; "" when fine
	field   int                 // index of the DaemonConfig field
}

// EnvVar is the environment variable that overrides the key.
func (k Key) EnvVar() string { return "CCO_" + strings.ToUpper(k.Name) }

// Keys lists every configuration key in the order config.toml documents them.
var Keys = []Key{
	{Name: "port", Kind: Int, Default: int64(3000), Min: 1, Max: 65535,
		Doc: "TCP port the daemon listens on."},
	{Name: "host", Kind: String, Default: "127.0.0.1", check: checkHost, Valid: "an IP address or a host name",
		Doc: "Address the daemon binds to. Keep it on loopback unless other machines must reach the daemon: it asks them for no credentials, and on any other address start, the log and status warn of it."},
	{Name: "dashboard", Kind: String, Default: "auto", Enum: []string{"auto", "on", "off"},
		Doc: "The usage dashboard at the daemon's address (`cco dashboard` opens it). auto: served when host is a loopback address, off otherwise; on: served on any host (anyone who reaches the address sees your usage)."},
	{Name: "log_level", Kind: String, Default: "info", Enum: []string{"debug", "info", "warn", "error"},
		Doc: "Lowest level written to daemon.log."},
	{Name: "log_rotation_size", Kind: Int, Default: int64(10 << 20), Min: 1 << 10, Max: 1 << 40, Unit: "bytes",
		Doc: "daemon.log is rotated when a write would take it past this size."},
	{Name: "log_max_files", Kind: Int, Default: int64(5), Min: 1, Max: 1000,
		Doc: "Rotated logs kept beside daemon.log (daemon.log.N, the highest N the newest); older ones are deleted."},
	{Name: "database_url", Kind: String, Default: "sqlite://analytics.db", check: checkDatabaseURL,
		Valid: "a sqlite:// URL; a relative path is taken from CCO_HOME",
		Doc:   "The usage ledger: the daemon's database of every Claude Code API call it has read from the transcripts. It outlives the transcripts, which Claude Code deletes after 30 days."},
	{Name: "claude_config_dirs", Kind: String, Default: "", Valid: "empty, or absolute paths separated by commas",
		check: checkDirList,
		Doc:   "Claude Code configuration directories whose projects/ transcripts the ledger reads. Empty: where Claude Code keeps them, as ccusage finds them: CLAUDE_CONFIG_DIR (a comma-separated list) when set, else ~/.config/claude and ~/.claude."},
	{Name: "cache_size", Kind: Int, Default: int64(1 << 30), Min: 1 << 20, Max: 1 << 40, Unit: "bytes",
		Doc: "Most memory the cache of usage reports may use: an answer weighs its encoded size."},
	{Name: "cache_ttl", Kind: Int, Default: int64(3600), Min: 1, Max: 30 * 86400, Unit: "seconds",
		Doc: "How long a cached usage report is kept. New usage read from the transcripts replaces cached reports at once."},
	{Name: "auto_start", Kind: Bool, Default: true,
		Doc: "Start the daemon at login when it is installed as a service: install enables or disables the service by it, and `cco daemon enable` and `disable` set it."},
	{Name: "health_checks", Kind: Bool, Default: true,
		Doc: "Let the service manager watch the daemon: under systemd the daemon reports readiness and pings a watchdog, and a daemon that stops answering is restarted."},
	{Name: "health_check_interval", Kind: Int, Default: int64(30), Min: 1, Max: 3600, Unit: "seconds",
		Doc: "How often the daemon proves it is alive when health_checks is on; the watchdog fires after twice this. A unit from a package gets it, and health_checks, through a drop-in install writes where they differ from the unit's."},
	{Name: "sandbox", Kind: Bool, Default: true,
		Doc: "Under systemd, run the daemon in a sandbox: the installed unit restricts its system calls, and where unprivileged user namespaces work, a drop-in makes the file system read-only except CCO_HOME and the database. Run `cco daemon install` again after a change. No effect under launchd."},
}

var keyIndex = map[string]int{}

func init() {
	t := reflect.TypeOf(DaemonConfig{})
	fields := map[string]int{}
	for i := 0; i < t.NumField(); i++ {
		fields[t.Field(i).Tag.Get("toml")] = i
	}
	for i := range Keys {
		k := &Keys[i]
		idx, ok := fields[k.Name]
		if !ok {
			panic("config: key " + k.Name + " has no DaemonConfig field")
		}
		k.field = idx
		keyIndex[k.Name] = i
		if k.Valid == "" {
			switch {
			case k.Enum != nil:
				k.Valid = "one of " + strings.Join(k.Enum, ", ")
			case k.Unit == "bytes":
				k.Valid = FormatSize(k.Min) + " - " + FormatSize(k.Max)
			case k.Unit == "seconds":
				k.Valid = FormatSeconds(k.Min) + " - " + FormatSeconds(k.Max)
			case k.Kind == Int:
				k.Valid = fmt.Sprintf("%d-%d", k.Min, k.Max)
			case k.Kind == Bool:
				k.Valid = "true or false"
			}
		}
	}
	if len(Keys) != t.NumField() {
		panic("config: DaemonConfig has a field without a key")
	}
}

// Lookup returns the key with the given name.
func Lookup(name string) (Key, bool) {
	i, ok := keyIndex[name]
	if !ok {
		return Key{}, false
	}
	return Keys[i], true
}

// LookupKey returns the key with the given name, or an error that names
// the nearest known key.
func LookupKey(name string) (Key, error) {
	k, ok := Lookup(name)
	if !ok {
		return k, &Problem{Msg: unknownKeyError(name)}
	}
	return k, nil
}

// KeyNames lists every key name in documentation order.
func KeyNames() []string {
	names := make([]string, len(Keys))
	for i, k := range Keys {
		names[i] = k.Name
	}
	return names
}

// unknownKeyError names an unknown key and the nearest known one.
func unknownKeyError(name string) string {
	msg := fmt.Sprintf("unknown key %q", name)
	if s := suggest(name); s != "" {
		msg += fmt.Sprintf("; did you mean %q?", s)
	} else {
		msg += "; known keys: " + strings.Join(KeyNames(), ", ")
	}
	return msg
}

// suggest returns the known key closest to name, or "" when none is close.
func suggest(name string) string { return Nearest(strings.ToLower(name), KeyNames()) }

// Nearest returns the candidate closest to word by edit distance, or ""
// when none is close enough to be what was meant: for "did you mean".
func Nearest(word string, candidates []string) string {
	best, bestDist := "", len(word)/2+2
	for _, c := range candidates {
		if d := editDistance(word, c); d < bestDist {
			best, bestDist = c, d
		}
	}
	return best
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// ParseValue turns text typed by a user (a flag, an environment variable,
// `config set`, a string in config.toml) into the key's typed value: sizes
// with their units (10MiB, 1G), durations (90s, 10m, 1h, or bare seconds),
// booleans and enum values in any case. Its error names the key and the
// text.
func (k Key) ParseValue(text string) (any, error) {
	v, err := k.parseText(text)
	if err != nil {
		return nil, fmt.Errorf("%s: %q: %w", k.Name, text, err)
	}
	return v, nil
}

// Check parses text as ParseValue does and checks the value against the
// key's rules; its error says only what is wrong ("not an integer", "out
// of range 1-65535"), for a caller that names the text its own way (a
// flag).
func (k Key) Check(text string) (any, error) {
	v, err := k.parseText(text)
	if err != nil {
		return nil, err
	}
	if msg := k.problem(v); msg != "" {
		return nil, errors.New(msg)
	}
	return v, nil
}

// parseText is ParseValue with an error that says only what is wrong.
func (k Key) parseText(text string) (any, error) {
	switch {
	case k.Unit == "bytes":
		return ParseSize(text)
	case k.Unit == "seconds":
		return ParseSeconds(text)
	case k.Kind == Int:
		n, err := strconv.ParseInt(strings.ReplaceAll(strings.TrimSpace(text), "_", ""), 10, 64)
		if err != nil {
			return nil, errors.New("not an integer")
		}
		return n, nil
	case k.Kind == Bool:
		b, ok := parseBool(text)
		if !ok {
			return nil, errors.New("not a boolean (use true or false)")
		}
		return b, nil
	case k.Enum != nil:
		return strings.ToLower(strings.TrimSpace(text)), nil
	default:
		return text, nil
	}
}

// problem checks a typed value against the key's rules and says what is
// wrong with it, or "" when it is valid.
func (k Key) problem(v any) string {
	switch k.Kind {
	case Int:
		n := v.(int64)
		if n < k.Min || n > k.Max {
			return fmt.Sprintf("out of range %s", k.Valid)
		}
	case String:
		s := v.(string)
		if k.Enum != nil && !contains(k.Enum, s) {
			return "must be " + k.Valid
		}
		if k.check != nil {
			return k.check(s)
		}
	}
	return ""
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// Loopback reports whether host, an IP address, is a loopback address,
// which only this machine can reach. It never looks a name up: a name is
// not known to be loopback.
func Loopback(host string) bool {
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// ExposedWarning is what cco says, at start and in status, of a daemon
// listening on addr, an address that other machines can reach.
func ExposedWarning(addr string) string {
	return fmt.Sprintf("the daemon listens on %s, which other machines can reach, and it asks them for no credentials; unless they must reach it, keep it on this machine: `cco daemon config set host 127.0.0.1`", addr)
}

// checkHost checks the form of an IP address or host name; it never looks
// a name up.
func checkHost(h string) string {
	if net.ParseIP(h) != nil {
		return ""
	}
	if len(h) == 0 || len(h) > 253 {
		return "not an IP address or host name"
	}
	for _, label := range strings.Split(strings.TrimSuffix(h, "."), ".") {
		if len(label) == 0 || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return "not an IP address or host name"
		}
		for _, c := range label {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
				return "not an IP address or host name"
			}
		}
	}
	return ""
}

func checkDirList(s string) string {
	for _, d := range strings.Split(s, ",") {
		d = strings.TrimSpace(d)
		if d == "" && strings.TrimSpace(s) != "" {
			return "has an empty item"
		}
		if d != "" && !filepath.IsAbs(d) && d != "~" && !strings.HasPrefix(d, "~/") {
			return fmt.Sprintf("%q is not an absolute path", d)
		}
	}
	return ""
}

func checkDatabaseURL(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.Scheme != "sqlite" {
		return "must be a sqlite:// URL, such as sqlite://analytics.db"
	}
	if u.Host == "" && u.Path == "" && u.Opaque == "" {
		return "names no database file (want sqlite://FILE)"
	}
	return ""
}
