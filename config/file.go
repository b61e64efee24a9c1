package config

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"syscall"

	"github.com/anthropics/cco/atomicfile"
	"github.com/anthropics/cco/homefile"

	"github.com/pelletier/go-toml/v2"
	"github.com/pelletier/go-toml/v2/unstable"
)

// File is what a config.toml says: the keys it sets, each with its typed
// value and its line. Keys it does not set take their defaults.
type File struct {
	Path   string
	Text   []byte         // the file as read; nil when it does not exist
	Values map[string]any // key name -> int64, string or bool
	Lines  map[string]int // top-level key -> its line, for every key the text has (valid or not)
}

// ReadFile reads and parses a config file. A missing file is an empty File:
// every key takes its default.
// A config file that is not a regular file (a FIFO, a socket, a directory)
// is refused without waiting on it. A symbolic link is followed: config.toml
// may live with one's dotfiles.
func ReadFile(path string) (*File, error) {
	data, err := readRegular(path)
	if errors.Is(err, fs.ErrNotExist) {
		return &File{Path: path, Values: map[string]any{}, Lines: map[string]int{}}, nil
	}
	if err != nil {
		return nil, err
	}
	return Parse(path, data)
}

// ReadText returns config.toml's text as it is, through a link, refusing
// what is not a regular file (a FIFO never blocks the read): for an editor.
func ReadText(path string) ([]byte, error) { return readRegular(path) }

// readRegular reads a regular file; O_NONBLOCK keeps the open of a FIFO
// from waiting for a writer.
func readRegular(path string) ([]byte, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if err := homefile.NotRegular(path, fi); err != nil {
		return nil, err
	}
	return io.ReadAll(f)
}

// Save replaces the config file at path with data atomically, mode 0600.
// When path is a symbolic link (config.toml kept with one's dotfiles), the
// file it leads to is replaced, by a file written beside it, and the link is
// kept. That file must be this user's regular file (or not exist yet): cco
// never writes another user's file through a link.
func Save(path string, data []byte) error {
	target, err := followLinks(path)
	if err != nil {
		return err
	}
	fi, err := os.Lstat(target)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return err
	default:
		if err := homefile.NotRegular(target, fi); err != nil {
			return err
		}
		if uid := int(fi.Sys().(*syscall.Stat_t).Uid); uid != os.Geteuid() {
			return fmt.Errorf("%s belongs to %s, not to %s who runs cco: cco does not write another user's file; run cco as its owner", target, homefile.Owner(uid), homefile.Owner(os.Geteuid()))
		}
	}
	return atomicfile.WriteFile(target, data, 0o600)
}

// maxLinks bounds followLinks, like the kernel's limit of nested links.
const maxLinks = 40

// followLinks returns the file path leads to through symbolic links; a
// link to a missing file leads to that missing file.
func followLinks(path string) (string, error) {
	for range maxLinks {
		fi, err := os.Lstat(path)
		if errors.Is(err, fs.ErrNotExist) {
			return path, nil
		}
		if err != nil {
			return "", err
		}
		if fi.Mode()&fs.ModeSymlink == 0 {
			return path, nil
		}
		dest, err := os.Readlink(path)
		if err != nil {
			return "", err
		}
		if !filepath.IsAbs(dest) {
			dest = filepath.Join(filepath.Dir(path), dest)
		}
		path = dest
	}
	return "", fmt.Errorf("%s: more than %d symbolic links in a row", path, maxLinks)
}

// Parse reads config.toml text strictly. It reports every problem at once:
// malformed TOML (line and column), unknown keys (with the nearest known
// key), values of the wrong type, and values out of their valid range. For
// well-formed TOML the returned File holds every valid value even when err
// is not nil, so that `config set` can mend one bad key.
func Parse(path string, data []byte) (*File, error) {
	f := &File{Path: path, Text: data, Values: map[string]any{}, Lines: map[string]int{}}
	name := filepath.Base(path)
	var raw map[string]any
	if err := toml.Unmarshal(data, &raw); err != nil {
		var de *toml.DecodeError
		if errors.As(err, &de) {
			line, col := de.Position()
			return nil, &Problem{Where: fmt.Sprintf("%s:%d:%d", name, line, col), Msg: "malformed TOML: " + de.Error()}
		}
		return nil, &Problem{Where: name, Msg: "malformed TOML: " + err.Error()}
	}
	lines := keyLines(data)
	var errs problems
	keys := make([]string, 0, len(raw))
	for k := range raw {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return lines[keys[i]] < lines[keys[j]] })
	for _, name := range keys {
		f.Lines[name] = lines[name]
		where := fmt.Sprintf("%s:%d", filepath.Base(path), lines[name])
		k, ok := Lookup(name)
		if !ok {
			errs.add(&Problem{Where: where, Msg: unknownKeyError(name), About: name})
			continue
		}
		v, err := typed(k, raw[name])
		if err != nil {
			errs.add(&Problem{Where: where, Key: name, Value: displayRaw(raw[name]), Msg: err.Error()})
			continue
		}
		if msg := k.problem(v); msg != "" {
			errs.add(&Problem{Where: where, Key: name, Value: k.display(v), Msg: msg})
			continue
		}
		f.Values[name] = v
	}
	return f, errs.err()
}

// typed checks that a decoded TOML value has the key's kind.
func typed(k Key, v any) (any, error) {
	switch x := v.(type) {
	case int64:
		if k.Kind == Int {
			return x, nil
		}
	case string:
		if k.Kind == String && k.Enum == nil {
			return x, nil
		}
		if k.Unit != "" || k.Enum != nil {
			// A size or duration with its unit ("10MiB", "90s"), an enum
			// value in any case.
			return k.parseText(x)
		}
	case bool:
		if k.Kind == Bool {
			return x, nil
		}
	}
	return nil, fmt.Errorf("is %s, want %s", tomlKind(v), article(k.Kind))
}

// displayRaw shows a decoded TOML value in a message, strings quoted.
func displayRaw(v any) string {
	if s, ok := v.(string); ok {
		return strconv.Quote(s)
	}
	return fmt.Sprintf("%v", v)
}

func article(k Kind) string {
	if k == Int {
		return "an integer"
	}
	return "a " + k.String()
}

func tomlKind(v any) string {
	switch v.(type) {
	case int64:
		return "an integer"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case float64:
		return "a float"
	case []any:
		return "an array"
	case map[string]any:
		return "a table"
	default:
		return "a date or time"
	}
}

// keyLines maps each top-level key (or table name) of a well-formed TOML
// document to the line it starts on.
func keyLines(data []byte) map[string]int {
	lines := map[string]int{}
	p := unstable.Parser{}
	p.Reset(data)
	for p.NextExpression() {
		e := p.Expression()
		if e.Kind != unstable.KeyValue && e.Kind != unstable.Table && e.Kind != unstable.ArrayTable {
			continue
		}
		it := e.Key()
		if !it.Next() {
			continue
		}
		n := it.Node()
		if _, seen := lines[string(n.Data)]; !seen {
			lines[string(n.Data)] = p.Shape(n.Raw).Start.Line
		}
	}
	return lines
}

// Config returns the defaults overridden by the file's values.
func (f *File) Config() DaemonConfig {
	c := Defaults()
	for name, v := range f.Values {
		k, _ := Lookup(name)
		c.set(k, v)
	}
	return c
}

// With returns a copy of f with key set to the value typed as text, or
// removed when text is nil. The whole result is validated: on any problem
// the error says what and f is untouched.
func (f *File) With(name string, text *string) (*File, error) {
	k, err := LookupKey(name)
	if err != nil {
		return nil, err
	}
	next := &File{Path: f.Path, Values: map[string]any{}, Lines: map[string]int{}}
	for n, v := range f.Values {
		next.Values[n] = v
	}
	if text == nil {
		delete(next.Values, name)
		return next, nil
	}
	v, err := k.ParseValue(*text)
	if err != nil {
		return nil, err
	}
	next.Values[name] = v
	if err := Validate(next.Config()); err != nil {
		return nil, err
	}
	return next, nil
}
