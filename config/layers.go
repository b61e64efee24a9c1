package config

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
