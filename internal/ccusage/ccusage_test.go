package ccusage

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "github.com/anthropics/cco/internal/golden" // its -update flag: `go test ./... -update` works from the root

	"github.com/anthropics/cco/internal/transcripts"
)

func TestDiff(t *testing.T) {
	want := `{"daily":[{"date":"2026-01-02","inputTokens":10,"totalCost":0.30000000000000004,"modelsUsed":["a","b"]}],"totals":{"totalCost":-0.0}}`
	for _, c := range []struct {
		name, got string
		diffs     []string
	}{
		{"equal", want, nil},
		{"cost in the last digits", strings.Replace(want, "0.30000000000000004", "0.3", 1), nil},
		{"-0 and 0", strings.Replace(want, "-0.0", "0", 1), nil},
		{"cost off", strings.Replace(want, "0.30000000000000004", "0.3000001", 1),
			[]string{"daily[0].totalCost: want cost 0.30000000000000004, got 0.3000001"}},
		{"tokens off", strings.Replace(want, `"inputTokens":10`, `"inputTokens":11`, 1),
			[]string{"daily[0].inputTokens: want 10, got 11 (+1)"}},
		{"model order", strings.Replace(want, `["a","b"]`, `["b","a"]`, 1),
			[]string{`daily[0].modelsUsed[0]: want "a", got "b"`, `daily[0].modelsUsed[1]: want "b", got "a"`}},
		{"key order", strings.Replace(want, `"date":"2026-01-02","inputTokens":10`, `"inputTokens":10,"date":"2026-01-02"`, 1),
			[]string{`daily[0]: want keys ["date" "inputTokens" "totalCost" "modelsUsed"], got ["inputTokens" "date" "totalCost" "modelsUsed"]`}},
		{"missing row", `{"daily":[],"totals":{"totalCost":0}}`, []string{"daily: want 1 elements, got 0"}},
		{"number as string", strings.Replace(want, `"inputTokens":10`, `"inputTokens":"10"`, 1),
			[]string{`daily[0].inputTokens: want 10, got "10"`}},
	} {
		got, err := Diff([]byte(want), []byte(c.got), 0)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if strings.Join(got, "\n") != strings.Join(c.diffs, "\n") {
			t.Errorf("%s: Diff =\n%s\nwant\n%s", c.name, strings.Join(got, "\n"), strings.Join(c.diffs, "\n"))
		}
	}
	if _, err := Diff([]byte(want), []byte(`{"daily":`), 0); err == nil {
		t.Error("Diff accepted truncated JSON")
	}
}

// TestRun checks the runner's plumbing (roots, empty HOME, flags) on a
// two-root tree whose answer is known: one opus-4-6 call under each root,
// 1000 input and 500 output tokens each: $5 and $25 per million, so
// 0.0175 a call.
func TestRun(t *testing.T) {
	bin := Need(t)
	dir := t.TempDir()
	var roots []string
	for i, root := range []string{"a", "b"} {
		c := transcripts.Call{SessionID: "s" + root, CWD: "/w", Version: "2.1.3", UUID: "u" + root,
			MessageID: "msg_" + root, RequestID: "req_" + root, Model: "claude-opus-4-6",
			Time:  time.Date(2026, 1, 31, 23, 0, i, 0, time.UTC),
			Usage: transcripts.Usage{Input: 1000, Output: 500}, Block: transcripts.Block{Kind: "text", Text: "hi"}}
		path := filepath.Join(dir, root, "projects", "-w", "s"+root+".jsonl")
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, c.AssistantLine(), 0o644); err != nil {
			t.Fatal(err)
		}
		roots = append(roots, filepath.Join(dir, root))
	}
	out, err := Run(context.Background(), bin, t.TempDir(), roots, "monthly")
	if err != nil {
		t.Fatal(err)
	}
	want := `{"monthly":[{"cacheCreationTokens":0,"cacheReadTokens":0,"inputTokens":2000,"modelBreakdowns":[{"cacheCreationTokens":0,"cacheReadTokens":0,"cost":0.035,"inputTokens":2000,"modelName":"claude-opus-4-6","outputTokens":1000}],"modelsUsed":["claude-opus-4-6"],"month":"2026-01","outputTokens":1000,"totalCost":0.035,"totalTokens":3000}],"totals":{"cacheCreationTokens":0,"cacheReadTokens":0,"inputTokens":2000,"outputTokens":1000,"totalCost":0.035,"totalTokens":3000}}`
	diffs, err := Diff([]byte(want), out, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range diffs {
		t.Error(d)
	}
	home := t.TempDir()
	if err := os.WriteFile(filepath.Join(home, "x"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Run(context.Background(), bin, home, roots, "daily"); err == nil {
		t.Error("Run accepted a HOME that is not empty")
	}
	if _, err := Run(context.Background(), bin, t.TempDir(), []string{roots[0] + ",x"}, "daily"); err == nil || !strings.Contains(err.Error(), "comma") {
		t.Errorf("Run of a root with a comma: %v, want an error naming the comma", err)
	}
}
