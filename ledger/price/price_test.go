package price

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	_ "github.com/anthropics/cco/internal/golden" // its -update flag: `go test ./... -update` works from the root
)

func near(a, b float64) bool {
	if a == b {
		return true
	}
	return math.Abs(a-b) <= 1e-9*math.Max(math.Abs(a), math.Abs(b))
}

// Expected dollars below were measured with ccusage 20.0.24 --offline on one
// call each (CLAUDE-TRANSCRIPTS.md §6).
func TestEmbeddedCosts(t *testing.T) {
	tab := Embedded()
	const M = 1_000_000
	cases := []struct {
		model string
		tok   Tokens
		fast  bool
		want  float64
	}{
		{"claude-opus-4-6", Tokens{Input: 10, Output: 20, Cache5m: 100, Cache1h: 200, CacheRead: 4000}, false, 0.005175},
		{"claude-opus-4-6", Tokens{Input: 10, Output: 20, Cache5m: 300, CacheRead: 4000}, true, 0.02655},
		{"claude-sonnet-4-5", Tokens{Input: 10, Output: 20, Cache5m: 300, CacheRead: 4000}, true, 0.002655},
		{"claude-opus-4-7", Tokens{Input: 300000}, true, 9},
		{"claude-opus-4-8", Tokens{Input: 100000}, true, 1},
		{"claude-opus-5", Tokens{Output: 100000}, false, 2.5},
		{"claude-opus-4-1", Tokens{Input: M}, true, 15},
		// Long context: each field on its own, 5m and 1h writes apart.
		{"claude-sonnet-4-5-20250929", Tokens{Input: 300000}, false, 1.2},
		{"claude-sonnet-4-5-20250929", Tokens{Input: 150000, Output: 100000, Cache5m: 150000, Cache1h: 150000, CacheRead: 250000}, false, 3.5025},
		{"claude-sonnet-4-20250514", Tokens{Input: 300000}, false, 1.2},
		{"claude-sonnet-4-6", Tokens{Input: 300000}, false, 0.9},
		{"claude-opus-4-6", Tokens{Input: 300000}, false, 1.5},
		{"claude-sonnet-4-5", Tokens{Input: 300000}, true, 1.2},
		// Fuzzy matching: dated, suffixed, prefixed, dotted and regional ids.
		{"claude-opus-4-6-20260101", Tokens{Input: M}, false, 5},
		{"claude-opus-4-6-thinking", Tokens{Input: M}, false, 5},
		{"claude-opus-4-6[1m]", Tokens{Input: M}, true, 30},
		{"anthropic/claude-opus-4-6", Tokens{Input: M}, false, 5},
		{"claude-opus-4.6", Tokens{Input: M}, false, 5},
		{"claude-sonnet-4.5", Tokens{Input: M}, false, 5.4},
		{"claude-3.5-sonnet", Tokens{Input: M}, false, 3},
		{"us.anthropic.claude-sonnet-4-5-20250929-v1:0", Tokens{Input: 300000}, false, 1.32},
		{"eu.anthropic.claude-sonnet-4-5-20250929-v1:0", Tokens{Input: M}, false, 5.94},
		{"global.anthropic.claude-sonnet-4-5-20250929-v1:0", Tokens{Input: M}, false, 5.4},
		{"us.anthropic.claude-opus-4-6-v1", Tokens{Input: M}, false, 5.5},
		{"claude-sonnet-4-5@20250929", Tokens{Input: M}, false, 3},
		{"claude-opus-4", Tokens{Input: M}, false, 15},
		{"claude-haiku-4-5", Tokens{Input: M}, false, 1},
		{"claude-3-haiku-20240307", Tokens{Input: M, Output: M, Cache5m: M, Cache1h: M, CacheRead: M}, false, 0.25 + 1.25 + 0.3 + 0.5 + 0.03},
		{"claude-sonnet-5", Tokens{Input: M}, false, 2},
		{"claude-fable-5", Tokens{Input: M}, false, 10},
	}
	for _, c := range cases {
		p, ok := tab.Lookup(c.model)
		if !ok {
			t.Errorf("%s: no price", c.model)
			continue
		}
		if got := p.Cost(c.tok, c.fast); !near(got, c.want) {
			t.Errorf("%s %+v fast=%v: cost %v, want %v", c.model, c.tok, c.fast, got, c.want)
		}
	}
}

func TestUnknownModels(t *testing.T) {
	tab := Embedded()
	for _, m := range []string{"xclaude-opus-4-6", "claude-sonnet-4-7", "claude-haiku-4", "claude-haiku-5", "CLAUDE-OPUS-4-6", "<synthetic>", ""} {
		if p, ok := tab.Lookup(m); ok {
			t.Errorf("%q priced as %q; want unknown", m, p.Key)
		}
	}
}

// A cost over summed tokens equals the sum of per-call costs when the
// excess over 200k is summed per call (what the ledger's aggregates keep).
func TestCostSplitsLinear(t *testing.T) {
	p, _ := Embedded().Lookup("claude-sonnet-4-5")
	a := Tokens{Input: 250000, Output: 10, CacheRead: 900000}
	b := Tokens{Input: 100000, Output: 300000}
	sum := Tokens{Input: a.Input + b.Input, Output: a.Output + b.Output, CacheRead: a.CacheRead + b.CacheRead}
	ea, eb := a.Above(), b.Above()
	above := Tokens{Input: ea.Input + eb.Input, Output: ea.Output + eb.Output, CacheRead: ea.CacheRead + eb.CacheRead}
	got := p.CostSplit(sum, above, false)
	want := p.Cost(a, false) + p.Cost(b, false)
	if !near(got, want) {
		t.Fatalf("split cost %v, per-call sum %v", got, want)
	}
}

func TestUserFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "prices.toml")
	if err := os.WriteFile(path, []byte(`
# a new model and an override
[models."claude-opus-9"]
input = 4
output = 20
fast = 3

[models."claude-opus-4-6"]
input = 1
output = 2
cache_write_5m = 3
cache_write_1h = 4
cache_read = 5

[models."claude-big"]
input = 1
output = 1
[models."claude-big".above_200k]
input = 2
output = 2
`), 0o600); err != nil {
		t.Fatal(err)
	}
	tab, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	const M = 1_000_000
	check := func(model string, tok Tokens, fast bool, want float64) {
		t.Helper()
		p, ok := tab.Lookup(model)
		if !ok {
			t.Fatalf("%s: no price", model)
		}
		if got := p.Cost(tok, fast); !near(got, want) {
			t.Errorf("%s: cost %v, want %v", model, got, want)
		}
	}
	// Omitted cache rates follow input: 5m 1.25×, 1h 2×, read 0.1×.
	check("claude-opus-9", Tokens{Input: M, Output: M, Cache5m: M, Cache1h: M, CacheRead: M}, false, 4+20+5+8+0.4)
	check("claude-opus-9-20270101", Tokens{Input: M}, true, 12)
	check("claude-opus-4-6", Tokens{Input: M, Output: M, Cache5m: M, Cache1h: M, CacheRead: M}, false, 15)
	check("claude-big", Tokens{Input: 300000}, false, 0.2+0.2)
	check("claude-haiku-4-5", Tokens{Input: M}, false, 1) // untouched

	// A missing file is no error: the embedded table alone.
	if _, err := Load(filepath.Join(dir, "none.toml")); err != nil {
		t.Fatalf("missing file: %v", err)
	}
}

func TestUserFileErrors(t *testing.T) {
	for _, c := range []struct{ text, want string }{
		{`[models."x"]` + "\noutput = 1\n", "input"},
		{`[models."x"]` + "\ninput = 1\noutput = 1\ncolour = 2\n", "colour"},
		{`[models."x"]` + "\ninput = -1\noutput = 1\n", "negative"},
		{`[models."x"` + "\n", "prices.toml"},
	} {
		path := filepath.Join(t.TempDir(), "prices.toml")
		if err := os.WriteFile(path, []byte(c.text), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := Load(path)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: error %v, want one naming %q", c.text, err, c.want)
		}
	}
}
