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

func TestDailyExtras(t *testing.T) {
	tr := newTree(t)
	tr.write("p/s1.jsonl",
		// 2026-03-01 in UTC; 2026-03-02 in Tokyo (UTC+9).
		crLine("s1", "m1", "claude-sonnet-4-6", "2026-03-01T20:00:00Z", 10, 1_000_000),
		crLine("s1", "m2", "claude-opus-4-6", "2026-03-01T10:00:00Z", 10, 2_000_000),
		// A model without a price counts its call, saves nothing.
		crLine("s1", "m3", "no-such-model", "2026-03-01T11:00:00Z", 10, 5_000_000),
		crLine("s1", "m4", "claude-opus-4-6", "2026-03-03T10:00:00Z", 10, 0),
	)
	l, _ := open(t, []string{tr.root})
	syncOK(t, l)
	near := func(got, want float64) bool { return math.Abs(got-want) < 1e-9 }
	// sonnet-4-6: input $3, cache read $0.30 per million; opus-4-6: $5, $0.50.
	ex, err := l.DailyExtras(context.Background(), Query{})
	if err != nil {
		t.Fatal(err)
	}
	d1 := ex["2026-03-01"]
	if d1.Calls != 3 || !near(d1.CacheReadAsInput, 3+10) || !near(d1.CacheReadCost, 0.3+1) {
		t.Errorf("2026-03-01 in UTC: %+v, want 3 calls, $13 as input, $1.30 paid", d1)
	}
	if d3 := ex["2026-03-03"]; d3.Calls != 1 || d3.CacheReadAsInput != 0 {
		t.Errorf("2026-03-03: %+v, want 1 call and no cache reads", d3)
	}
	if len(ex) != 2 {
		t.Errorf("days %v, want 2026-03-01 and 2026-03-03", ex)
	}
	tokyo, err := time.LoadLocation("Asia/Tokyo")
	if err != nil {
		t.Fatal(err)
	}
	ex, err = l.DailyExtras(context.Background(), Query{Location: tokyo, Since: "20260302", Until: "20260302"})
	if err != nil {
		t.Fatal(err)
	}
	if d := ex["2026-03-02"]; len(ex) != 1 || d.Calls != 1 || !near(d.CacheReadAsInput, 3) || !near(d.CacheReadCost, 0.3) {
		t.Errorf("2026-03-02 in Tokyo: %v, want only that day, 1 call (sonnet's), $3 as input, $0.30 paid", ex)
	}
}
