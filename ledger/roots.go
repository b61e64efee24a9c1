package ledger

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Roots returns the transcript roots as Claude Code and ccusage find them.
// configured (a config key) replaces the search when non-empty; else
// CLAUDE_CONFIG_DIR, a comma-separated list whose items are trimmed, may
// start with ~, and may name the config directory or its projects/
// directory; items without projects/ are skipped, and none valid is an
// error naming them. Without it, $XDG_CONFIG_HOME/claude (default
// ~/.config/claude) and ~/.claude, each only if it has projects/. No root
// at all is not an error: the ledger then waits for one in vain, and says
// so in its state.
func Roots(getenv func(string) string, home string, configured []string) ([]string, error) {
	expand := func(p string) string {
		p = strings.TrimSpace(p)
		switch {
		case p == "~":
			return home
		case strings.HasPrefix(p, "~/"):
			return filepath.Join(home, p[2:])
		}
		return p
	}
	// root returns the config directory of item, if it has projects/.
	root := func(item string) (string, bool) {
		p := filepath.Clean(expand(item))
		if filepath.Base(p) == "projects" && isDir(p) {
			return filepath.Dir(p), true
		}
		if isDir(filepath.Join(p, "projects")) {
			return p, true
		}
		return "", false
	}
	list := func(items []string, what string) ([]string, error) {
		var out, bad []string
		seen := map[string]bool{}
		for _, it := range items {
			if strings.TrimSpace(it) == "" {
				continue
			}
			r, ok := root(it)
			if !ok {
				bad = append(bad, strings.TrimSpace(it))
				continue
			}
			if !seen[r] {
				seen[r] = true
				out = append(out, r)
			}
		}
		if len(out) == 0 {
			return nil, fmt.Errorf("%s names no Claude Code directory with a projects/ directory in it: %s", what, strings.Join(bad, ", "))
		}
		return out, nil
	}
	if len(configured) > 0 {
		return list(configured, "the configured transcript roots")
	}
	if env := getenv("CLAUDE_CONFIG_DIR"); strings.TrimSpace(env) != "" {
		return list(strings.Split(env, ","), "CLAUDE_CONFIG_DIR")
	}
	xdg := getenv("XDG_CONFIG_HOME")
	if xdg == "" {
		xdg = filepath.Join(home, ".config")
	}
	var out []string
	for _, r := range []string{filepath.Join(xdg, "claude"), filepath.Join(home, ".claude")} {
		if isDir(filepath.Join(r, "projects")) {
			out = append(out, r)
		}
	}
	return out, nil
}

func isDir(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir()
}
