package cli

import (
	"github.com/alecthomas/kingpin/v2"

	"github.com/anthropics/cco/config"
)

// overrideValue records a flag's text under its config key, so that the
// config package parses and validates it like every other layer.
type overrideValue struct {
	key       string
	overrides config.Overrides
}

func (o overrideValue) Set(s string) error { o.overrides[o.key] = s; return nil }
func (o overrideValue) String() string     { return o.overrides[o.key] }

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
	add("cache_size", "BYTES", "Most memory the response cache may use (config: cache_size).")
	add("cache_ttl", "SECONDS", "How long a cached response stays fresh (config: cache_ttl).")
	logLevel, _ := config.Lookup("log_level")
	add("log_level", "LEVEL", "Lowest level written to the log: debug, info, warn or error (config: log_level).").HintOptions(logLevel.Enum...)
}
