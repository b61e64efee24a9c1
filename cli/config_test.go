package cli_test

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/anthropics/cco/cli"
	"github.com/anthropics/cco/config"
)

// TestConcurrentSetsLoseNothing: six `config set`s of six different keys
// at once leave all six in config.toml, round after round. Each set is a
// read-modify-write; without a lock two of them read the same old file and
// the later rename drops the other's key.
func TestConcurrentSetsLoseNothing(t *testing.T) {
	home := t.TempDir()
	cfg := filepath.Join(home, "config.toml")
	sets := []struct{ key, value string }{
		{"port", "4001"}, {"log_level", "debug"}, {"cache_ttl", "61"},
		{"log_max_files", "7"}, {"health_check_interval", "11"}, {"auto_start", "false"},
	}
	want := map[string]any{"port": int64(4001), "log_level": "debug", "cache_ttl": int64(61),
		"log_max_files": int64(7), "health_check_interval": int64(11), "auto_start": false}
	for round := 0; round < 300; round++ {
		// Each round starts from a file that sets none of the six keys.
		if err := os.WriteFile(cfg, []byte(fmt.Sprintf("# round %d\ncache_size = %d\n", round, 1<<20+round)), 0o600); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		errs := make([]bytes.Buffer, len(sets))
		for i, s := range sets {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if code := cli.Main([]string{"daemon", "config", "set", s.key, s.value}, setEnv(home, &errs[i])); code != 0 {
					t.Errorf("round %d: set %s %s: exit %d: %s", round, s.key, s.value, code, errs[i].String())
				}
			}()
		}
		wg.Wait()
		f, err := config.ReadFile(cfg)
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		if f.Values["cache_size"] != int64(1<<20+round) {
			t.Fatalf("round %d: cache_size, set before the round, is gone:\n%s", round, f.Text)
		}
		for k, v := range want {
			if f.Values[k] != v {
				t.Fatalf("round %d: %s = %v after six concurrent sets, want %v: an update was lost\n%s", round, k, f.Values[k], v, f.Text)
			}
		}
	}
}

// setEnv is the environment of one in-process cco with CCO_HOME home.
func setEnv(home string, stderr io.Writer) *cli.Env {
	return &cli.Env{
		Stdout: io.Discard, Stderr: stderr,
		Getenv: func(name string) string {
			if name == "CCO_HOME" {
				return home
			}
			return ""
		},
	}
}
