package cli

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/alecthomas/kingpin/v2"

	"github.com/anthropics/cco/config"
)

// overrideValue records a flag's text under its config key, so that the
// config package parses and validates it like every other layer.
type overrideValue struct {
	key       string
	overrides config.Overrides
}

// Set checks the value at once, so that a bad one is a usage error (exit
// 2) that names the flag, before the command does anything.
func (o overrideValue) Set(s string) error {
	k, _ := config.Lookup(o.key)
	if _, err := k.Check(s); err != nil {
		return fmt.Errorf("--%s %s: %v", config.FlagName(o.key), s, err)
	}
	o.overrides[o.key] = s
	return nil
}

func (o overrideValue) String() string { return o.overrides[o.key] }

// configFlags are the flags of `daemon start` and `restart` that override
// config keys for this run.
func configFlags(cmd *kingpin.CmdClause, overrides config.Overrides) {
	add := func(key, placeholder, help string) *kingpin.FlagClause {
		f := cmd.Flag(config.FlagName(key), help).PlaceHolder(placeholder)
		f.SetValue(overrideValue{key: key, overrides: overrides})
		return f
	}
	add("port", "N", "TCP port to listen on (config: port).")
	add("host", "ADDR", "Address to bind (config: host).")
	add("cache_size", "BYTES", "Most memory the cache of usage reports may use (config: cache_size).")
	add("cache_ttl", "SECONDS", "How long a cached usage report is kept (config: cache_ttl).")
	logLevel, _ := config.Lookup("log_level")
	add("log_level", "LEVEL", "Lowest level written to the log: debug, info, warn or error (config: log_level).").HintOptions(logLevel.Enum...)
}

// durationValue is a flag that takes a Go duration (10s, 500ms, 1m30s) or
// bare seconds (5, 0.5), and must be positive.
type durationValue struct {
	name string
	d    *time.Duration
}

func (v durationValue) Set(s string) error {
	d, err := time.ParseDuration(strings.TrimSpace(s))
	if err != nil {
		secs, ferr := strconv.ParseFloat(strings.TrimSpace(s), 64)
		if ferr != nil || math.IsNaN(secs) || math.IsInf(secs, 0) || secs > math.MaxInt64/float64(time.Second) {
			return fmt.Errorf("--%s %s: not a duration (write one such as 10s, 500ms or 1m, or seconds such as 5)", v.name, s)
		}
		d = time.Duration(secs * float64(time.Second))
	}
	if d <= 0 {
		return fmt.Errorf("--%s %s: must be positive, such as 10s", v.name, s)
	}
	*v.d = d
	return nil
}

func (v durationValue) String() string { return v.d.String() }

func durationFlag(cmd *kingpin.CmdClause, name, def, help string, d *time.Duration) {
	cmd.Flag(name, help).Default(def).PlaceHolder("DURATION").SetValue(durationValue{name: name, d: d})
}

func waitFlag(cmd *kingpin.CmdClause, d *time.Duration) {
	durationFlag(cmd, "wait", "10s", "How long start may take in all: waiting for another start, and for the daemon to serve (10s, 1m, or seconds).", d)
}

func timeoutFlag(cmd *kingpin.CmdClause, d *time.Duration) {
	durationFlag(cmd, "timeout", "10s", "How long to wait for a graceful exit before SIGKILL (10s, 1m, or seconds).", d)
}

// countValue is a flag that takes a whole number, 0 or more; given twice,
// the last one counts.
type countValue struct {
	name string
	n    *int
}

func (v countValue) Set(s string) error {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil || n < 0 {
		return fmt.Errorf("%s %s: not a whole number, 0 or more", v.name, s)
	}
	*v.n = n
	return nil
}

func (v countValue) String() string { return strconv.Itoa(*v.n) }

// IsCumulative lets the flag be given more than once (kingpin refuses a
// repeated flag otherwise): `logs -n 5 -n 2` prints 2 lines.
func (v countValue) IsCumulative() bool { return true }

// enumValue is a flag that takes one of a few words, in any case.
type enumValue struct {
	name    string
	options []string
	v       *string
}

func (e enumValue) Set(s string) error {
	for _, o := range e.options {
		if strings.EqualFold(strings.TrimSpace(s), o) {
			*e.v = o
			return nil
		}
	}
	return fmt.Errorf("--%s %s: must be %s", e.name, s, orList(e.options))
}

func (e enumValue) String() string { return *e.v }

func enumFlag(f *kingpin.FlagClause, name string, v *string, options ...string) *kingpin.FlagClause {
	f.HintOptions(options...).SetValue(enumValue{name: name, options: options, v: v})
	return f
}

// orList writes "a, b or c".
func orList(words []string) string {
	if len(words) < 2 {
		return strings.Join(words, "")
	}
	return strings.Join(words[:len(words)-1], ", ") + " or " + words[len(words)-1]
}
