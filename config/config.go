// Package config holds the daemon's configuration: its keys and defaults,
// the strict loading of config.toml, validation that reports every problem
// at once, and the layers defaults < file < environment < flags.
package config

import (
	"reflect"
	"strconv"
)

// DaemonConfig is the effective configuration of the daemon.
type DaemonConfig struct {
	Port                int    `toml:"port" json:"port"`
	Host                string `toml:"host" json:"host"`
	Dashboard           string `toml:"dashboard" json:"dashboard"`
	LogLevel            string `toml:"log_level" json:"log_level"`
	LogRotationSize     int64  `toml:"log_rotation_size" json:"log_rotation_size"`
	LogMaxFiles         int    `toml:"log_max_files" json:"log_max_files"`
	DatabaseURL         string `toml:"database_url" json:"database_url"`
	ClaudeConfigDirs    string `toml:"claude_config_dirs" json:"claude_config_dirs"`
	CacheSize           int64  `toml:"cache_size" json:"cache_size"`
	CacheTTL            int64  `toml:"cache_ttl" json:"cache_ttl"`
	AutoStart           bool   `toml:"auto_start" json:"auto_start"`
	HealthChecks        bool   `toml:"health_checks" json:"health_checks"`
	HealthCheckInterval int64  `toml:"health_check_interval" json:"health_check_interval"`
	Sandbox             bool   `toml:"sandbox" json:"sandbox"`
}

// Defaults returns the configuration used when nothing overrides it.
func Defaults() DaemonConfig {
	var c DaemonConfig
	for _, k := range Keys {
		c.set(k, k.Default)
	}
	return c
}

// Value returns the key's value in c as int64, string or bool.
func (c *DaemonConfig) Value(k Key) any {
	f := reflect.ValueOf(c).Elem().Field(k.field)
	switch k.Kind {
	case Int:
		return f.Int()
	case Bool:
		return f.Bool()
	default:
		return f.String()
	}
}

// set stores a typed value (int64, string or bool) of key k in c.
func (c *DaemonConfig) set(k Key, v any) {
	f := reflect.ValueOf(c).Elem().Field(k.field)
	switch k.Kind {
	case Int:
		f.SetInt(v.(int64))
	case Bool:
		f.SetBool(v.(bool))
	default:
		f.SetString(v.(string))
	}
}

// FormatValue prints a typed value the way a user types it.
func FormatValue(v any) string {
	switch x := v.(type) {
	case int64:
		return strconv.FormatInt(x, 10)
	case bool:
		return strconv.FormatBool(x)
	default:
		return x.(string)
	}
}

// Validate checks every key of c and returns all problems at once.
func Validate(c DaemonConfig) error {
	var errs problems
	for _, k := range Keys {
		v := c.Value(k)
		if msg := k.problem(v); msg != "" {
			errs.add(&Problem{Key: k.Name, Value: k.display(v), Msg: msg})
		}
	}
	return errs.err()
}

// Addr is the host:port the daemon listens on.
func (c DaemonConfig) Addr() string {
	return joinHostPort(c.Host, c.Port)
}

// display shows a value in a message: strings quoted, so that an empty or
// space-padded value is visible.
func (k Key) display(v any) string {
	if k.Kind == String {
		return strconv.Quote(v.(string))
	}
	return FormatValue(v)
}
