package ledger

import (
	"context"
	"fmt"
	"math"
	"testing"
	"time"
)

// crLine is an assistant line of model with cache reads.
func crLine(session, msg, model, ts string, in, cr int64) string {
	return fmt.Sprintf(`{"type":"assistant","sessionId":%q,"requestId":"r-%s","timestamp":%q,"message":{"id":%q,"model":%q,"usage":{"input_tokens":%d,"output_tokens":1,"cache_read_input_tokens":%d}}}`+"\n",
		session, msg, ts, msg, model, in, cr)
}

func TestTotal(t *testing.T) {
	tr := newTree(t)
	tr.write("p/s1.jsonl",
		// 2026-03-01 in UTC; 2026-03-02 in Tokyo (UTC+9).
		crLine("s1", "m1", "claude-sonnet-4-6", "2026-03-01T20:00:00Z", 10, 1_000_000),
		crLine("s1", "m2", "claude-opus-4-6", "2026-03-01T10:00:00Z", 10, 2_000_000),
		// A model without a price counts its call and tokens, saves nothing.
		crLine("s1", "m3", "no-such-model", "2026-03-01T11:00:00Z", 10, 5_000_000),
		crLine("s1", "m4", "claude-opus-4-6", "2026-03-03T10:00:00Z", 10, 0),
	)
	l, _ := open(t, []string{tr.root})
	syncOK(t, l)
	near := func(got, want float64) bool { return math.Abs(got-want) < 1e-9 }
	ctx := context.Background()
	// sonnet-4-6: input $3, output $15, cache read $0.30 per million; opus-4-6: $5, $25, $0.50.
	day, err := l.Total(ctx, Query{Since: "20260301", Until: "20260301"})
	if err != nil {
		t.Fatal(err)
	}
	wantCost := (10*3+15+1_000_000*0.3)/1e6 + (10*5+25+2_000_000*0.5)/1e6
	if day.Calls != 3 || day.Input != 30 || day.Output != 3 || day.CacheRead != 8_000_000 || day.Tokens != 8_000_033 ||
		!near(day.Cost, wantCost) || !near(day.CacheReadAsInput, 3+10) || !near(day.CacheReadCost, 0.3+1) {
		t.Errorf("2026-03-01 in UTC: %+v, want 3 calls, 8,000,033 tokens, $%v, $13 as input, $1.30 paid", day, wantCost)
	}
	all, err := l.Total(ctx, Query{})
	if err != nil {
		t.Fatal(err)
	}
	rep := totals(t, l) // the daily report's totals: the same calls, summed by day
	if all.Calls != 4 || all.Tokens != rep.TotalTokens || !near(all.Cost, rep.TotalCost) {
		t.Errorf("everything: %+v, want 4 calls and the daily report's %d tokens, $%v", all, rep.TotalTokens, rep.TotalCost)
	}
	tokyo, err := time.LoadLocation("Asia/Tokyo")
	if err != nil {
		t.Fatal(err)
	}
	d2, err := l.Total(ctx, Query{Location: tokyo, Since: "20260302", Until: "20260302"})
	if err != nil {
		t.Fatal(err)
	}
	if d2.Calls != 1 || !near(d2.CacheReadAsInput, 3) || !near(d2.CacheReadCost, 0.3) {
		t.Errorf("2026-03-02 in Tokyo: %+v, want sonnet's call only: $3 as input, $0.30 paid", d2)
	}
}
