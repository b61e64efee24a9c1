package dashboard

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/anthropics/cco/ledger"
)

func callAt(id string, ts time.Time, in int64) string {
	return fmt.Sprintf(`{"type":"assistant","sessionId":"s%s","requestId":"r%s","timestamp":%q,"message":{"id":"m%s","model":"claude-opus-4-6","usage":{"input_tokens":%d,"output_tokens":1}}}`+"\n",
		id, id, ts.UTC().Format(time.RFC3339), id, in)
}

// TestBuildKeepsWhatCameBefore: everything is the kept sums of the days
// before the window plus the window's, and a call that arrives before the
// window (a late transcript of an old day) is counted at once.
func TestBuildKeepsWhatCameBefore(t *testing.T) {
	root := t.TempDir()
	file := filepath.Join(root, "projects", "p", "s.jsonl")
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	old := now.AddDate(0, -3, 0)
	if err := os.WriteFile(file, []byte(callAt("1", old, 100)+callAt("2", now, 20)), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	l, err := ledger.Open(ctx, "sqlite://a.db", t.TempDir(), ledger.Options{Roots: []string{root}})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	sync := func() {
		t.Helper()
		if _, err := l.Sync(ctx); err != nil {
			t.Fatal(err)
		}
	}
	sync()
	var b Builder
	since := now.AddDate(0, 0, -6).Format(time.DateOnly)
	check := func(calls, tokens int64) {
		t.Helper()
		d, err := b.Build(ctx, l, time.UTC, since, now.Format(time.DateOnly), now)
		if err != nil {
			t.Fatal(err)
		}
		all, err := l.Total(ctx, ledger.Query{})
		if err != nil {
			t.Fatal(err)
		}
		if d.All.Calls != calls || d.All.Tokens != tokens || math.Abs(d.All.Cost-all.Cost) > 1e-12 || all.Calls != calls {
			t.Errorf("everything: %+v, want %d calls, %d tokens, $%v", d.All, calls, tokens, all.Cost)
		}
	}
	check(2, 122)
	check(2, 122) // from what was kept
	f, err := os.OpenFile(file, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(callAt("3", old.AddDate(0, 0, 1), 1000) + callAt("4", now, 5))
	f.Close()
	sync()
	check(4, 1000+1+5+1+122)
}
