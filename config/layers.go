package config

import (
	"fmt"
	"net/url"
	"os"
	"path/filepath"
)

// Layer names where a key's effective value came from.
type Layer string

// The layers, lowest first: each overrides the ones before it.
const (
	FromDefault Layer = "default"
	FromFile    Layer = "file"
	FromEnv     Layer = "env"
	FromFlag    Layer = "flag"
)

// Effective is the configuration the daemon runs with and, for every key,
// the layer its value came from.
type Effective struct {
	DaemonConfig
	Source map[string]Layer
}

// Overrides are the values given on the command line, by key name, as typed.
type Overrides map[string]string

// Resolve layers defaults < file < CCO_* environment variables < flags and
// validates the result, reporting every problem of every layer at once.
func Resolve(f *File, getenv func(string) string, flags Overrides) (*Effective, error) {
	eff := &Effective{DaemonConfig: Defaults(), Source: map[string]Layer{}}
	var errs problems
	for _, k := range Keys {
		eff.Source[k.Name] = FromDefault
		if v, ok := f.Values[k.Name]; ok {
			eff.set(k, v)
			eff.Source[k.Name] = FromFile
		}
		if text := getenv(k.EnvVar()); text != "" {
			eff.apply(k, text, FromEnv, k.EnvVar(), &errs)
		}
		if text, ok := flags[k.Name]; ok {
			eff.apply(k, text, FromFlag, "--"+FlagName(k.Name), &errs)
		}
	}
	if err := errs.err(); err != nil {
		return nil, err
	}
	return eff, nil
}

func (e *Effective) apply(k Key, text string, layer Layer, where string, errs *problems) {
	v, err := k.ParseValue(text)
	if err != nil {
		errs.add(&Problem{Where: where, Msg: err.Error()})
		return
	}
	if msg := k.problem(v); msg != "" {
		errs.add(&Problem{Where: where, Key: k.Name, Value: k.display(v), Msg: msg})
		return
	}
	e.set(k, v)
	e.Source[k.Name] = layer
}

// FlagName is the command-line flag that sets a key: cache_size -> cache-size.
func FlagName(key string) string {
	b := []byte(key)
	for i, c := range b {
		if c == '_' {
			b[i] = '-'
		}
	}
	return string(b)
}

// Env returns the CCO_* variables that make a child process resolve the same
// values as e for every key that did not come from its default or the file:
// how `daemon start` hands its flags to `daemon run`.
func (e *Effective) Env() []string {
	var env []string
	for _, k := range Keys {
		if s := e.Source[k.Name]; s == FromEnv || s == FromFlag {
			env = append(env, k.EnvVar()+"="+FormatValue(e.Value(k)))
		}
	}
	return env
}

// Paths are the files cco keeps under CCO_HOME.
type Paths struct {
	Home string
}

// HomeFrom returns the paths under $CCO_HOME, or ~/.cco when it is unset.
func HomeFrom(getenv func(string) string) (Paths, error) {
	if h := getenv("CCO_HOME"); h != "" {
		abs, err := filepath.Abs(h)
		if err != nil {
			return Paths{}, fmt.Errorf("CCO_HOME: %w", err)
		}
		return Paths{Home: abs}, nil
	}
	home := getenv("HOME")
	if home == "" {
		return Paths{}, fmt.Errorf("neither CCO_HOME nor HOME is set: set CCO_HOME to the directory cco should keep its files in")
	}
	return Paths{Home: filepath.Join(home, ".cco")}, nil
}

// Config is config.toml.
func (p Paths) Config() string { return filepath.Join(p.Home, "config.toml") }

// PIDFile is the daemon's state file.
func (p Paths) PIDFile() string { return filepath.Join(p.Home, "daemon.pid") }

// LockFile is held by the running daemon for its whole life.
func (p Paths) LockFile() string { return filepath.Join(p.Home, "daemon.lock") }

// LogFile is the daemon's log.
func (p Paths) LogFile() string { return filepath.Join(p.Home, "daemon.log") }

// Ensure creates CCO_HOME, mode 0700, when it is missing.
func (p Paths) Ensure() error {
	if err := os.MkdirAll(p.Home, 0o700); err != nil {
		return fmt.Errorf("creating CCO_HOME: %w", err)
	}
	return nil
}

// DatabaseFile is the file a sqlite:// database_url names: a relative path
// is taken from home (CCO_HOME). It is "" for a URL that names no file.
func DatabaseFile(home, databaseURL string) string {
	u, err := url.Parse(databaseURL)
	if err != nil || u.Scheme != "sqlite" {
		return ""
	}
	name := u.Host + u.Path
	if name == "" {
		name = u.Opaque
	}
	if name == "" {
		return ""
	}
	if !filepath.IsAbs(name) {
		name = filepath.Join(home, name)
	}
	return filepath.Clean(name)
}
