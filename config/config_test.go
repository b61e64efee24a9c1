package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	_ "github.com/anthropics/cco/internal/golden" // its -update flag: `go test ./... -update` works from the root
)

func TestDefaultsAreValidAndMatchTheSeed(t *testing.T) {
	want := DaemonConfig{
		Port: 3000, Host: "127.0.0.1", Dashboard: "auto", LogLevel: "info", LogRotationSize: 10485760, LogMaxFiles: 5,
		DatabaseURL: "sqlite://analytics.db", CacheSize: 1073741824, CacheTTL: 3600,
		AutoStart: true, HealthChecks: true, HealthCheckInterval: 30, Sandbox: true,
	}
	if got := Defaults(); got != want {
		t.Fatalf("Defaults() = %+v, want %+v", got, want)
	}
	if err := Validate(want); err != nil {
		t.Fatalf("defaults do not validate: %v", err)
	}
}

func TestValidateRules(t *testing.T) {
	tests := []struct {
		key, value string
		problem    string // "" when valid
	}{
		{"port", "1", ""},
		{"port", "65535", ""},
		{"port", "0", "port: 0: out of range 1-65535"},
		{"port", "65536", "port: 65536: out of range 1-65535"},
		{"port", "-1", "out of range"},
		{"host", "127.0.0.1", ""},
		{"host", "::1", ""},
		{"host", "localhost", ""},
		{"host", "cco.example.internal", ""},
		{"host", "", `host: "": not an IP address or host name`},
		{"host", "bad host", "not an IP address or host name"},
		{"host", "-leading.dash", "not an IP address or host name"},
		{"host", strings.Repeat("a", 64) + ".com", "not an IP address or host name"},
		{"log_level", "debug", ""},
		{"log_level", "error", ""},
		{"log_level", "verbose", `log_level: "verbose": must be one of debug, info, warn, error`},
		{"log_level", "INFO", ""},
		{"log_level", " Warn ", ""},
		{"log_rotation_size", "1024", ""},
		{"log_rotation_size", "1023", "out of range"},
		{"log_max_files", "0", "log_max_files: 0: out of range 1-1000"},
		{"log_max_files", "1000", ""},
		{"database_url", "sqlite:///var/lib/cco/a.db", ""},
		{"database_url", "sqlite://analytics.db", ""},
		{"database_url", "postgres://db", "must be a sqlite:// URL"},
		{"database_url", "sqlite://", "names no database file"},
		{"database_url", "analytics.db", "must be a sqlite:// URL"},
		{"cache_size", "0", "out of range"},
		{"cache_size", "1048576", ""},
		{"cache_ttl", "0", "cache_ttl: 0: out of range 1s - 720h"},
		{"cache_ttl", "720h", ""},
		{"cache_ttl", "721h", "out of range 1s - 720h"},
		{"cache_size", "1MiB", ""},
		{"cache_size", "1023KiB", "cache_size: 1047552: out of range 1 MiB - 1 TiB"},
		{"log_rotation_size", "1K", "out of range 1 KiB - 1 TiB"},
		{"cache_ttl", "2592001", "out of range"},
		{"health_check_interval", "0", "out of range"},
		{"health_check_interval", "3600", ""},
		{"auto_start", "false", ""},
	}
	for _, tt := range tests {
		t.Run(tt.key+"="+tt.value, func(t *testing.T) {
			k, ok := Lookup(tt.key)
			if !ok {
				t.Fatalf("no key %q", tt.key)
			}
			v, err := k.ParseValue(tt.value)
			if err != nil {
				t.Fatal(err)
			}
			c := Defaults()
			c.set(k, v)
			err = Validate(c)
			switch {
			case tt.problem == "" && err != nil:
				t.Fatalf("want valid, got %v", err)
			case tt.problem != "" && (err == nil || !strings.Contains(err.Error(), tt.problem)):
				t.Fatalf("want a problem containing %q, got %v", tt.problem, err)
			}
		})
	}
}

func TestValidateReportsEveryProblemAtOnce(t *testing.T) {
	c := Defaults()
	c.Port, c.LogLevel, c.CacheTTL = 0, "loud", 0
	err := Validate(c)
	if got := len(Problems(err)); got != 3 {
		t.Fatalf("want 3 problems, got %d: %v", got, err)
	}
	if !strings.HasPrefix(err.Error(), "3 problems:\n  port: 0: out of range") {
		t.Fatalf("unexpected message:\n%s", err)
	}
}

func TestParseValue(t *testing.T) {
	port, _ := Lookup("port")
	if v, err := port.ParseValue("1_000"); err != nil || v != int64(1000) {
		t.Fatalf("1_000 -> %v, %v", v, err)
	}
	if _, err := port.ParseValue("3000.5"); err == nil || err.Error() != `port: "3000.5": not an integer` {
		t.Fatalf("3000.5 -> %v", err)
	}
	auto, _ := Lookup("auto_start")
	for text, want := range map[string]bool{"yes": true, "TRUE": true, "On": true, "1": true, "no": false, "False": false, "OFF": false, "0": false} {
		if v, err := auto.ParseValue(text); err != nil || v != want {
			t.Errorf("auto_start %q -> %v, %v; want %v", text, v, err, want)
		}
	}
	if _, err := auto.ParseValue("maybe"); err == nil || err.Error() != `auto_start: "maybe": not a boolean (use true or false)` {
		t.Fatalf("maybe -> %v", err)
	}
	host, _ := Lookup("host")
	if v, _ := host.ParseValue(" ::1 "); v != " ::1 " {
		t.Fatalf("strings are kept as typed, got %q", v)
	}
}

func TestParse(t *testing.T) {
	tests := []struct {
		name     string
		doc      string
		want     map[string]any
		problems []string
	}{
		{name: "empty", doc: "", want: map[string]any{}},
		{name: "partial takes defaults", doc: "port = 4000\n", want: map[string]any{"port": int64(4000)}},
		{name: "the seed's example", doc: seedExample, want: map[string]any{
			"port": int64(3000), "host": "127.0.0.1", "log_level": "info", "log_rotation_size": int64(10485760),
			"log_max_files": int64(5), "database_url": "sqlite://analytics.db", "cache_size": int64(1073741824),
			"cache_ttl": int64(3600), "auto_start": true, "health_checks": true, "health_check_interval": int64(30)}},
		{name: "unknown key with suggestion", doc: "\nprot = 1\n", want: map[string]any{},
			problems: []string{`config.toml:2: unknown key "prot"; did you mean "port"?`}},
		{name: "unknown key far from all", doc: "zzzzzzzzzz = 1\n", want: map[string]any{},
			problems: []string{`config.toml:1: unknown key "zzzzzzzzzz"; known keys: port, host,`}},
		{name: "unknown table", doc: "port = 1\n[server]\nport = 2\n", want: map[string]any{"port": int64(1)},
			problems: []string{`config.toml:2: unknown key "server"`}},
		{name: "wrong types", doc: "port = \"3000\"\nauto_start = 1\nhost = 5\ncache_ttl = 1.5\n", want: map[string]any{},
			problems: []string{
				`config.toml:1: port: "3000": is a string, want an integer`,
				`config.toml:2: auto_start: 1: is an integer, want a boolean`,
				`config.toml:3: host: 5: is an integer, want a string`,
				`config.toml:4: cache_ttl: 1.5: is a float, want an integer`,
			}},
		{name: "ranges with lines", doc: "port = 3001\nlog_max_files = 0\n", want: map[string]any{"port": int64(3001)},
			problems: []string{`config.toml:2: log_max_files: 0: out of range 1-1000`}},
		{name: "malformed", doc: "port = 3000\nhost = \n", problems: []string{"config.toml:2:8: malformed TOML"}},
		{name: "duplicate key", doc: "port = 1\nport = 2\n", problems: []string{"malformed TOML"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := Parse("/home/u/.cco/config.toml", []byte(tt.doc))
			got := Problems(err)
			if len(got) != len(tt.problems) {
				t.Fatalf("want %d problems, got %d: %v", len(tt.problems), len(got), err)
			}
			for i, p := range tt.problems {
				if !strings.Contains(got[i].Error(), p) {
					t.Errorf("problem %d = %q, want it to contain %q", i, got[i], p)
				}
			}
			if tt.want != nil && !reflect.DeepEqual(f.Values, tt.want) {
				t.Errorf("values = %v, want %v", f.Values, tt.want)
			}
		})
	}
}

const seedExample = `port = 3000
host = "127.0.0.1"
log_level = "info"
log_rotation_size = 10485760
log_max_files = 5
database_url = "sqlite://analytics.db"
cache_size = 1073741824
cache_ttl = 3600
auto_start = true
health_checks = true
health_check_interval = 30
`

func TestReadFileMissingMeansDefaults(t *testing.T) {
	f, err := ReadFile(filepath.Join(t.TempDir(), "config.toml"))
	if err != nil {
		t.Fatal(err)
	}
	if f.Config() != Defaults() {
		t.Fatalf("missing file: %+v", f.Config())
	}
}

func TestReadFileUnreadable(t *testing.T) {
	_, err := ReadFile(t.TempDir()) // a directory cannot be read as a file
	if err == nil {
		t.Fatal("reading a directory succeeded")
	}
}

func TestLayers(t *testing.T) {
	f, err := Parse("config.toml", []byte("port = 4000\nhost = \"localhost\"\nlog_level = \"warn\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"CCO_HOST": "0.0.0.0", "CCO_LOG_LEVEL": "debug", "CCO_CACHE_TTL": "60"}
	eff, err := Resolve(f, func(k string) string { return env[k] }, Overrides{"log_level": "error", "port": "5000"})
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		key    string
		value  any
		source Layer
	}{
		{"port", int64(5000), FromFlag},
		{"host", "0.0.0.0", FromEnv},
		{"log_level", "error", FromFlag},
		{"cache_ttl", int64(60), FromEnv},
		{"cache_size", int64(1 << 30), FromDefault},
	}
	for _, c := range checks {
		k, _ := Lookup(c.key)
		if v := eff.Value(k); v != c.value || eff.Source[c.key] != c.source {
			t.Errorf("%s = %v from %s, want %v from %s", c.key, v, eff.Source[c.key], c.value, c.source)
		}
	}
	// The child of `daemon start` gets the overrides as variables and
	// resolves the same configuration.
	childEnv := map[string]string{}
	for _, kv := range eff.Env() {
		k, v, _ := strings.Cut(kv, "=")
		childEnv[k] = v
	}
	child, err := Resolve(f, func(k string) string { return childEnv[k] }, nil)
	if err != nil {
		t.Fatal(err)
	}
	if child.DaemonConfig != eff.DaemonConfig {
		t.Fatalf("child resolves %+v, parent %+v", child.DaemonConfig, eff.DaemonConfig)
	}
}

func TestLayerProblemsNameTheirSource(t *testing.T) {
	env := map[string]string{"CCO_PORT": "http", "CCO_LOG_LEVEL": "loud"}
	_, err := Resolve(&File{Values: map[string]any{}}, func(k string) string { return env[k] }, Overrides{"cache_ttl": "0"})
	want := []string{
		`CCO_PORT: port: "http": not an integer`,
		`CCO_LOG_LEVEL: log_level: "loud": must be one of`,
		`--cache-ttl: cache_ttl: 0: out of range`,
	}
	got := Problems(err)
	if len(got) != len(want) {
		t.Fatalf("want %d problems, got %v", len(want), err)
	}
	for i, w := range want {
		if !strings.Contains(got[i].Error(), w) {
			t.Errorf("problem %d = %q, want %q", i, got[i], w)
		}
	}
}

func TestWith(t *testing.T) {
	f := &File{Values: map[string]any{"port": int64(4000)}}
	next, err := f.With("log_level", ptr("debug"))
	if err != nil {
		t.Fatal(err)
	}
	if next.Values["log_level"] != "debug" || f.Values["log_level"] != nil {
		t.Fatalf("With changed the original or lost the value: %v / %v", f.Values, next.Values)
	}
	if _, err := f.With("port", ptr("0")); err == nil {
		t.Fatal("an invalid value was accepted")
	}
	var prob *Problem
	if _, err := f.With("prot", ptr("1")); !errors.As(err, &prob) || !strings.Contains(err.Error(), `did you mean "port"`) {
		t.Fatalf("unknown key: %v", err)
	}
	unset, err := next.With("port", nil)
	if err != nil || unset.Config().Port != 3000 {
		t.Fatalf("unset: %v, %+v", err, unset.Values)
	}
}

func TestProblemsBesides(t *testing.T) {
	_, err := Parse("config.toml", []byte("port = 0\nlog_level = \"x\"\n"))
	rest := ProblemsBesides(err, "port")
	if got := Problems(rest); len(got) != 1 || !strings.Contains(got[0].Error(), "log_level") {
		t.Fatalf("got %v", rest)
	}
	if ProblemsBesides(nil, "port") != nil {
		t.Fatal("no problems must give nil")
	}
}

func TestPaths(t *testing.T) {
	env := map[string]string{"HOME": "/home/u"}
	p, err := HomeFrom(func(k string) string { return env[k] })
	if err != nil || p.Home != "/home/u/.cco" || p.Config() != "/home/u/.cco/config.toml" {
		t.Fatalf("%+v %v", p, err)
	}
	env["CCO_HOME"] = "/srv/cco"
	if p, _ := HomeFrom(func(k string) string { return env[k] }); p.PIDFile() != "/srv/cco/daemon.pid" {
		t.Fatalf("CCO_HOME not used: %+v", p)
	}
	if _, err := HomeFrom(func(string) string { return "" }); err == nil {
		t.Fatal("no HOME and no CCO_HOME must be an error")
	}
	// A ~ the shell did not expand is HOME's; any other relative path is
	// refused, never taken from the working directory.
	for home, want := range map[string]string{"~": "/home/u", "~/cco-x": "/home/u/cco-x", "/srv/a/../b": "/srv/b"} {
		env["CCO_HOME"] = home
		if p, err := HomeFrom(func(k string) string { return env[k] }); err != nil || p.Home != want {
			t.Errorf("CCO_HOME=%s: %+v, %v; want %s", home, p, err, want)
		}
	}
	for _, rel := range []string{".cco", "./x", "~user/x"} {
		env["CCO_HOME"] = rel
		if p, err := HomeFrom(func(k string) string { return env[k] }); err == nil || !strings.Contains(err.Error(), "CCO_HOME="+rel+" is a relative path") {
			t.Errorf("CCO_HOME=%s: %+v, %v; want it refused as relative", rel, p, err)
		}
	}
	dir := filepath.Join(t.TempDir(), "a", "cco")
	if err := (Paths{Home: dir}).Ensure(); err != nil {
		t.Fatal(err)
	}
	if st, _ := os.Stat(dir); st.Mode().Perm() != 0o700 {
		t.Fatalf("CCO_HOME mode %v, want 0700", st.Mode().Perm())
	}
}

func TestEveryKeyIsDocumented(t *testing.T) {
	for _, k := range Keys {
		if k.Doc == "" || k.Valid == "" || !strings.HasSuffix(k.Doc, ".") {
			t.Errorf("%s: Doc %q, Valid %q", k.Name, k.Doc, k.Valid)
		}
	}
}

func ptr(s string) *string { return &s }

func BenchmarkResolve(b *testing.B) {
	path := filepath.Join(b.TempDir(), "config.toml")
	if err := os.WriteFile(path, []byte(seedExample), 0o600); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		f, err := ReadFile(path)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := Resolve(f, os.Getenv, nil); err != nil {
			b.Fatal(err)
		}
	}
}

func TestParseSize(t *testing.T) {
	for text, want := range map[string]int64{
		"0": 0, "1024": 1024, "1_024": 1024, "10MiB": 10485760, "10 MiB": 10485760, "10mib": 10485760,
		"1G": 1000000000, "1GB": 1000000000, "1GiB": 1073741824, "512KiB": 524288, "512k": 512000,
		"1.5GiB": 1610612736, "2T": 2000000000000, "1TiB": 1099511627776, "7B": 7, "1Mi": 1048576,
	} {
		if got, err := ParseSize(text); err != nil || got != want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", text, got, err, want)
		}
	}
	for text, msg := range map[string]string{
		"":           "not a size",
		"abc":        "not a size",
		"10 parsec":  "not a size",
		"1.5B":       "not a whole number of bytes",
		"GiB":        "not a size",
		"9999999TiB": "not a size",
	} {
		if _, err := ParseSize(text); err == nil || !strings.HasPrefix(err.Error(), msg) {
			t.Errorf("ParseSize(%q): %v; want an error starting %q", text, err, msg)
		}
	}
}

func TestParseSeconds(t *testing.T) {
	for text, want := range map[string]int64{"5": 5, "90s": 90, "10m": 600, "1h": 3600, "1h30m": 5400, "1H": 3600} {
		if got, err := ParseSeconds(text); err != nil || got != want {
			t.Errorf("ParseSeconds(%q) = %d, %v; want %d", text, got, err, want)
		}
	}
	for text, msg := range map[string]string{"1.5s": "not a whole number of seconds", "soon": "not a duration", "": "not a duration"} {
		if _, err := ParseSeconds(text); err == nil || !strings.HasPrefix(err.Error(), msg) {
			t.Errorf("ParseSeconds(%q): %v; want an error starting %q", text, err, msg)
		}
	}
}

func TestFormatUnits(t *testing.T) {
	for n, want := range map[int64]string{1 << 30: "1 GiB", 10 << 20: "10 MiB", 1500: "1500 B", 0: "0 B", 1 << 40: "1 TiB"} {
		if got := FormatSize(n); got != want {
			t.Errorf("FormatSize(%d) = %q, want %q", n, got, want)
		}
	}
	for n, want := range map[int64]string{30: "30s", 600: "10m", 2592000: "720h", 90: "90s"} {
		if got := FormatSeconds(n); got != want {
			t.Errorf("FormatSeconds(%d) = %q, want %q", n, got, want)
		}
	}
}

// TestParseUnitsInTheFile: config.toml may write sizes and durations with
// units, as strings, and enum values in any case; they read as the
// canonical values.
func TestParseUnitsInTheFile(t *testing.T) {
	f, err := Parse("config.toml", []byte("cache_size = \"2GiB\"\ncache_ttl = \"10m\"\nlog_level = \"DEBUG\"\nlog_rotation_size = 2048\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"cache_size": int64(2 << 30), "cache_ttl": int64(600), "log_level": "debug", "log_rotation_size": int64(2048)}
	if !reflect.DeepEqual(f.Values, want) {
		t.Fatalf("values %v, want %v", f.Values, want)
	}
	_, err = Parse("config.toml", []byte("cache_size = \"lots\"\nport = \"80\"\n"))
	if err == nil || !strings.Contains(err.Error(), `config.toml:1: cache_size: "lots": not a size (write bytes`) {
		t.Fatalf("bad size in the file: %v", err)
	}
	if !strings.Contains(err.Error(), `config.toml:2: port: "80": is a string, want an integer`) {
		t.Fatalf("a quoted port: %v", err)
	}
}
func TestDatabaseFile(t *testing.T) {
	for url, want := range map[string]string{
		"sqlite://analytics.db":      "/home/a/.cco/analytics.db",
		"sqlite://sub/dir/x.db":      "/home/a/.cco/sub/dir/x.db",
		"sqlite:///var/lib/cco/x.db": "/var/lib/cco/x.db",
		"sqlite:rel.db":              "/home/a/.cco/rel.db",
		"sqlite://../elsewhere/x.db": "/home/a/elsewhere/x.db",
		"postgres://host/db":         "",
		"sqlite://":                  "",
	} {
		if got := DatabaseFile("/home/a/.cco", url); got != want {
			t.Errorf("DatabaseFile(%q) = %q, want %q", url, got, want)
		}
	}
}
