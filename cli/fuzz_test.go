package cli_test

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"unicode"

	"github.com/alecthomas/kingpin/v2"

	"github.com/anthropics/cco/cli"
)

// completeOnce runs `cco --completion-bash words...` in-process with an
// environment that points HOME and CCO_HOME into sandbox, and returns what
// it printed (kingpin prints candidates on os.Stdout), the exit code, and
// the environment variables it asked for.
func completeOnce(t testing.TB, sandbox string, words []string) (out []string, code int, asked []string, executable bool) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	saved := os.Stdout
	os.Stdout = w
	done := make(chan []byte)
	go func() { b, _ := io.ReadAll(r); done <- b }()
	var stdout, stderr bytes.Buffer
	env := &cli.Env{
		Stdout: &stdout,
		Stderr: &stderr,
		Getenv: func(k string) string {
			asked = append(asked, k)
			switch k {
			case "HOME":
				return filepath.Join(sandbox, "home")
			case "CCO_HOME":
				return filepath.Join(sandbox, "home", ".cco")
			}
			return ""
		},
		Executable: func() (string, error) { executable = true; return filepath.Join(sandbox, "cco"), nil },
	}
	func() {
		defer func() { os.Stdout = saved; w.Close() }()
		code = cli.Main(append([]string{"--completion-bash"}, words...), env)
	}()
	b := <-done
	r.Close()
	b = append(b, stdout.Bytes()...)
	for _, l := range strings.Split(string(b), "\n") {
		if l != "" {
			out = append(out, l)
		}
	}
	return out, code, asked, executable
}

var (
	candidatesOnce sync.Once
	candidates     map[string]bool
)

// allCandidates is everything cco can ever offer: every command and flag
// of the model, and the closure of what completion offers after each
// offered word, a few levels deep.
func allCandidates(t testing.TB) map[string]bool {
	candidatesOnce.Do(func() {
		candidates = map[string]bool{}
		model := cli.New(&cli.Env{Stdout: io.Discard, Stderr: io.Discard, Getenv: func(string) string { return "" },
			Executable: func() (string, error) { return "/x", nil }}).Model()
		addFlags := func(fs []*kingpin.FlagModel) {
			for _, f := range fs {
				candidates["--"+f.Name] = true
				candidates["--no-"+f.Name] = true
			}
		}
		addFlags(model.Flags)
		var walk func([]*kingpin.CmdModel)
		walk = func(cs []*kingpin.CmdModel) {
			for _, c := range cs {
				candidates[c.Name] = true
				for _, a := range c.Aliases {
					candidates[a] = true
				}
				addFlags(c.Flags)
				walk(c.Commands)
			}
		}
		walk(model.Commands)
		sandbox := t.(interface{ TempDir() string }).TempDir()
		seen := map[string]bool{}
		queue := [][]string{{}}
		for len(queue) > 0 {
			words := queue[0]
			queue = queue[1:]
			key := strings.Join(words, "\x00")
			if seen[key] || len(words) > 5 {
				continue
			}
			seen[key] = true
			if n := len(words); n == 0 || !strings.HasPrefix(words[n-1], "-") {
				queue = append(queue, append(append([]string(nil), words...), "--"))
			}
			out, _, _, _ := completeOnce(t, sandbox, words)
			for _, o := range out {
				candidates[o] = true
				// A flag completes the word being typed; anything else
				// follows the words typed.
				prefix := words
				if n := len(words); n > 0 && strings.HasPrefix(words[n-1], "-") {
					prefix = words[:n-1]
				}
				next := append(append([]string(nil), prefix...), o)
				queue = append(queue, next)
				if strings.HasPrefix(o, "--") {
					queue = append(queue, append(append([]string(nil), next...), ""))
				}
			}
		}
	})
	return candidates
}

// FuzzCompletionBash feeds arbitrary word lists to `cco --completion-bash`,
// what the shell runs at every Tab: it must not panic, must not learn where
// cco keeps its files (so it cannot touch them), must write nothing, and must
// print only candidates that cco can offer, one clean word per line.
func FuzzCompletionBash(f *testing.F) {
	for _, s := range []string{
		"", "daemon", "daemon st", "daemon config set", "daemon config set port", "daemon start --log-level",
		"daemon start --log-level ", "daemon start --", "completion", "completion z", "daemon render --os",
		"--no-completion-bash daemon config set port 1", "daemon config set port 1 --help", "--help",
		"--version", "-h", "daemon start --port=", "daemon\x00", "daemon  logs -n", "daemon config unset ",
		"--completion-script-bash", "daemon install --dry-run", "daemon render --os linux --output /tmp/x",
	} {
		f.Add(s)
	}
	want := allCandidates(f)
	f.Fuzz(func(t *testing.T, line string) {
		sandbox := t.TempDir()
		words := strings.Split(line, " ")
		out, _, asked, executable := completeOnce(t, sandbox, words)
		for _, k := range asked {
			if k == "HOME" || k == "CCO_HOME" {
				t.Errorf("completion of %q asked for %s: it is reading cco's files", line, k)
			}
		}
		if executable {
			t.Errorf("completion of %q looked up its own executable", line)
		}
		if ents, _ := os.ReadDir(sandbox); len(ents) > 0 {
			t.Errorf("completion of %q wrote %s", line, ents[0].Name())
		}
		for _, o := range out {
			if strings.IndexFunc(o, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0 {
				t.Errorf("completion of %q offered %q, which is not one word", line, o)
			}
			if !want[o] {
				t.Errorf("completion of %q offered %q, which cco never offers", line, o)
			}
		}
	})
}
