package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	_ "github.com/anthropics/cco/internal/golden" // its -update flag: `go test ./... -update` works from the root

	"github.com/anthropics/cco/cli"
	"github.com/anthropics/cco/config"
	"github.com/anthropics/cco/docs"
	"github.com/anthropics/cco/internal/tooltest"
	"github.com/anthropics/cco/lifecycle"
	"github.com/anthropics/cco/protocol"
)

// root is the repository, seen from this package's directory.
const root = "../../.."

func generated(t *testing.T) []docs.File {
	t.Helper()
	files, err := generate()
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// TestGeneratedFilesAreFresh fails when completions/ or man/ no longer say
// what the command tree and the key table say.
func TestGeneratedFilesAreFresh(t *testing.T) {
	for _, f := range generated(t) {
		committed, err := os.ReadFile(filepath.Join(root, f.Path))
		if err != nil || !bytes.Equal(committed, f.Data) {
			t.Errorf("%s is stale: run make generate", f.Path)
		}
	}
}

// writeTemp writes the generated files under a temporary directory and
// returns it.
func writeTemp(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := write(dir); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestManPages(t *testing.T) {
	dir := writeTemp(t)
	pages, err := filepath.Glob(filepath.Join(dir, "man", "*"))
	if err != nil || len(pages) != 4 {
		t.Fatalf("man pages: %v %v", pages, err)
	}
	rendered := map[string]string{}
	for _, page := range pages {
		tooltest.Lint(t, page)
		if text := tooltest.ManText(t, page, 80); longest(text) > 80 {
			t.Errorf("man -l %s at MANWIDTH=80 has a line of %d columns", filepath.Base(page), longest(text))
		}
		// Wide, so that no word is hyphenated or split across lines.
		rendered[filepath.Base(page)] = strings.Join(strings.Fields(tooltest.ManText(t, page, 1000)), " ")
	}

	model := model()
	var want []string
	for _, c := range model.FlattenedCommands() {
		if strings.HasPrefix(c.FullCommand, "daemon ") {
			want = append(want, "cco "+c.FullCommand)
			for _, f := range c.Flags {
				if !f.Hidden {
					want = append(want, "--"+f.Name, f.Help)
				}
			}
		}
	}
	want = append(want, "NOTIFY_SOCKET", "CCO_HOME", "EXIT STATUS", "EXAMPLES", "SEE ALSO", "FILES")
	// Every field of `cco daemon status --json`, which the page documents.
	for _, v := range []any{lifecycle.Status{}, protocol.Health{}} {
		typ := reflect.TypeOf(v)
		for i := range typ.NumField() {
			name, _, _ := strings.Cut(typ.Field(i).Tag.Get("json"), ",")
			want = append(want, name)
		}
	}
	for _, k := range config.Keys {
		want = append(want, k.EnvVar())
	}
	for _, w := range want {
		if !strings.Contains(rendered["cco-daemon.1"], strings.Join(strings.Fields(w), " ")) {
			t.Errorf("cco-daemon(1) as man renders it lacks %q", w)
		}
	}
	var usage []string
	for _, c := range model.FlattenedCommands() {
		if strings.HasPrefix(c.FullCommand, "usage ") {
			usage = append(usage, "cco "+c.FullCommand, c.Help)
			for _, f := range c.Flags {
				if !f.Hidden {
					usage = append(usage, "--"+f.Name, f.Help)
				}
			}
		}
	}
	if len(usage) == 0 {
		t.Fatal("no usage commands in the command tree")
	}
	for _, w := range append(usage, "CLAUDE_CONFIG_DIR", "prices.toml", "analytics.db", "EXIT STATUS", "SEE ALSO") {
		if !strings.Contains(rendered["cco-usage.1"], strings.Join(strings.Fields(w), " ")) {
			t.Errorf("cco-usage(1) as man renders it lacks %q", w)
		}
	}
	for _, k := range config.Keys {
		for _, w := range []string{k.Name + " (" + k.Kind.String(), k.Doc, "Valid: " + k.Valid, k.EnvVar(), "Default: " + config.FormatValue(k.Default)} {
			w = strings.Join(strings.Fields(w), " ")
			if !strings.Contains(strings.ReplaceAll(rendered["cco-config.toml.5"], `"`, ""), w) {
				t.Errorf("cco-config.toml(5) as man renders it lacks %q", w)
			}
		}
	}
}

func longest(text string) int {
	n := 0
	for _, line := range strings.Split(text, "\n") {
		n = max(n, utf8.RuneCountInString(line))
	}
	return n
}

func TestCompletionScriptsSyntax(t *testing.T) {
	dir := writeTemp(t)
	path := func(shell string) string { return filepath.Join(dir, docs.CompletionFile(shell)) }
	checks := [][]string{
		{tooltest.Need(t, "bash", "bash"), "-n", path("bash")},
		{tooltest.Need(t, "shellcheck", "shellcheck"), "-s", "bash", path("bash")},
		{tooltest.Need(t, "zsh", "zsh"), "-n", path("zsh")},
		{tooltest.Need(t, "fish", "fish"), "--no-execute", path("fish")},
	}
	for _, c := range checks {
		if out, err := exec.Command(c[0], c[1:]...).CombinedOutput(); err != nil {
			t.Errorf("%s: %v\n%s", strings.Join(c, " "), err, out)
		}
	}
}

// TestCompletionCommand checks that `cco completion SHELL` prints what
// make generate commits.
func TestCompletionCommand(t *testing.T) {
	files := map[string][]byte{}
	for _, f := range generated(t) {
		files[f.Path] = f.Data
	}
	for _, shell := range docs.Shells {
		var stdout, stderr bytes.Buffer
		env := &cli.Env{Stdout: &stdout, Stderr: &stderr, Getenv: func(string) string { return "" }}
		if code := cli.Main([]string{"completion", shell}, env); code != 0 {
			t.Fatalf("cco completion %s: exit %d: %s", shell, code, stderr.Bytes())
		}
		if !bytes.Equal(stdout.Bytes(), files[docs.CompletionFile(shell)]) {
			t.Errorf("cco completion %s differs from %s", shell, docs.CompletionFile(shell))
		}
	}
}
