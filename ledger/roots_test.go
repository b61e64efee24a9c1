package ledger

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestRoots(t *testing.T) {
	home := t.TempDir()
	mk := func(rel string) string {
		p := filepath.Join(home, rel)
		if err := os.MkdirAll(p, 0o755); err != nil {
			t.Fatal(err)
		}
		return p
	}
	mk(".claude/projects")
	mk(".config/claude/projects")
	mk("alt/projects")
	mk("other/projects")
	mk("empty") // no projects/
	env := func(kv ...string) func(string) string {
		return func(k string) string {
			for i := 0; i+1 < len(kv); i += 2 {
				if kv[i] == k {
					return kv[i+1]
				}
			}
			return ""
		}
	}
	j := func(rel string) string { return filepath.Join(home, rel) }
	for _, c := range []struct {
		name       string
		getenv     func(string) string
		configured []string
		want       []string
		err        string
	}{
		{"defaults", env(), nil, []string{j(".config/claude"), j(".claude")}, ""},
		{"XDG_CONFIG_HOME", env("XDG_CONFIG_HOME", j("alt/..")), nil, []string{j(".claude")}, ""},
		{"CLAUDE_CONFIG_DIR list", env("CLAUDE_CONFIG_DIR", " ~/alt , "+j("other/projects")+",~/empty,,"+j("alt")), nil, []string{j("alt"), j("other")}, ""},
		{"CLAUDE_CONFIG_DIR none valid", env("CLAUDE_CONFIG_DIR", "~/empty,/nonexistent"), nil, nil, "CLAUDE_CONFIG_DIR names no Claude Code directory with a projects/ directory in it: ~/empty, /nonexistent"},
		{"configured replaces", env("CLAUDE_CONFIG_DIR", "~/alt"), []string{"~/other"}, []string{j("other")}, ""},
		{"configured none valid", env(), []string{"~/empty"}, nil, "configured"},
	} {
		got, err := Roots(c.getenv, home, c.configured)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%s: %v, %v; want an error with %q", c.name, got, err, c.err)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: %v, %v; want %v", c.name, got, err, c.want)
		}
	}
	// Neither default exists: no roots, no error.
	if got, err := Roots(env(), t.TempDir(), nil); err != nil || len(got) != 0 {
		t.Errorf("no roots: %v, %v", got, err)
	}
}
