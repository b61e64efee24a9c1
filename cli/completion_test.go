package cli_test

import (
	"bytes"
	"io"
	"os"
	"strings"
	"testing"

	_ "github.com/anthropics/cco/internal/golden" // its -update flag: `go test ./... -update` works from the root

	"github.com/anthropics/cco/cli"
)

// completionQueries are what the completion scripts ask at a Tab.
var completionQueries = [][]string{
	{""},
	{"daemon", "st"},
	{"daemon", "install", "--os", ""},
	{"daemon", "start", "--log-level", ""},
	{"daemon", "config", "set", ""},
	{"daemon", "config", "validate", ""},
	{"daemon", "start", "--"},
}

// quietEnv is an Env that fails the test when a command looks at the
// environment (where CCO_HOME, and so config.toml, is found) or at its own
// executable (what it would start).
func quietEnv(tb testing.TB) *cli.Env {
	return &cli.Env{
		Stdout:     io.Discard,
		Stderr:     io.Discard,
		Getenv:     func(name string) string { tb.Fatalf("a Tab press read $%s", name); return "" },
		Executable: func() (string, error) { tb.Fatal("a Tab press looked for its executable"); return "", nil },
	}
}

// discardStdout sends os.Stdout, where kingpin prints the candidates, to
// /dev/null until the test ends.
func discardStdout(tb testing.TB) {
	null, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		tb.Fatal(err)
	}
	stdout := os.Stdout
	os.Stdout = null
	tb.Cleanup(func() { os.Stdout = stdout; null.Close() })
}

// TestCompletionQueryReadsNothing: a Tab press answers from the command
// tree alone, without reading the config or starting anything.
func TestCompletionQueryReadsNothing(t *testing.T) {
	discardStdout(t)
	for _, q := range completionQueries {
		if code := cli.Main(append([]string{"--completion-bash"}, q...), quietEnv(t)); code != 0 {
			t.Errorf("--completion-bash %s: exit %d", strings.Join(q, " "), code)
		}
	}
}

// BenchmarkCompletionQuery is one Tab press in-process: the command tree
// built and asked for the candidates.
func BenchmarkCompletionQuery(b *testing.B) {
	discardStdout(b)
	env := quietEnv(b)
	args := []string{"--completion-bash", "daemon", "config", "set", ""}
	for b.Loop() {
		cli.Main(args, env)
	}
}

// TestCompletionDescribed: what the zsh and fish scripts ask for is
// kingpin's candidates, each command and flag with its help's first
// sentence after a tab, values bare.
func TestCompletionDescribed(t *testing.T) {
	for _, c := range []struct {
		words []string
		want  []string
	}{
		{[]string{"daemon", "config", ""}, []string{"show\tPrint the effective value of every key and where it came from (default, file, env or flag)", "path\tPrint the path of config.toml"}},
		{[]string{"daemon", "logs", "--"}, []string{"--lines\tHow many lines to print from the end", "--follow\tKeep printing new lines as they are written, across rotation, until interrupted"}},
		{[]string{"daemon", "config", "set", "log_level", ""}, []string{"debug\n", "error\n"}},
	} {
		var out bytes.Buffer
		env := quietEnv(t)
		env.Stdout = &out
		if code := cli.Main(append([]string{"--completion-described"}, c.words...), env); code != 0 {
			t.Fatalf("%q: exit %d", c.words, code)
		}
		for _, w := range c.want {
			if !strings.Contains(out.String(), w) {
				t.Errorf("%q offers\n%s\nwithout %q", c.words, out.String(), w)
			}
		}
	}
}
