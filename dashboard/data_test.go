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
	yesterday := now.AddDate(0, 0, -1)
	if err := os.WriteFile(file, []byte(callAt("1", old, 100)+callAt("2", now, 20)+callAt("5", yesterday, 7)), 0o644); err != nil {
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
		// The sessions: as the session report of the range has them.
		rep, err := l.Sessions(ctx, ledger.Query{Since: since, Until: now.Format(time.DateOnly)})
		if err != nil {
			t.Fatal(err)
		}
		if len(d.Sessions) != len(rep.Sessions) {
			t.Fatalf("sessions %+v, want %+v", d.Sessions, rep.Sessions)
		}
		for i, r := range rep.Sessions {
			g := d.Sessions[i]
			if g.SessionID != r.SessionID || g.Tokens != r.TotalTokens || math.Abs(g.Cost-r.TotalCost) > 1e-12 || g.LastActivity != r.LastActivity {
				t.Errorf("session %d: %+v, want %+v", i, g, r)
			}
		}
	}
	check(3, 130)
	check(3, 130) // from what was kept
	f, err := os.OpenFile(file, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(callAt("3", old.AddDate(0, 0, 1), 1000) + callAt("4", now, 5))
	f.Close()
	sync()
	check(5, 1000+1+5+1+130)
	// A call yesterday (in the range, before today) of today's session:
	// the sessions kept are read anew, and the session's two days add up.
	f, err = os.OpenFile(file, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(fmt.Sprintf(`{"type":"assistant","sessionId":"s2","requestId":"r6","timestamp":%q,"message":{"id":"m6","model":"claude-opus-4-6","usage":{"input_tokens":50000,"output_tokens":1}}}`+"\n", yesterday.Format(time.RFC3339)))
	f.Close()
	sync()
	check(6, 50001+1000+1+5+1+130)
}
