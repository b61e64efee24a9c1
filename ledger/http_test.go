package ledger

import (
	"context"
	"encoding/json"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/anthropics/cco/internal/testhost"
)

func get(t *testing.T, h http.Handler, url string) *httptest.ResponseRecorder {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, url, nil))
	return rec
}

func TestHandlerErrors(t *testing.T) {
	tr := newTree(t)
	l, _ := open(t, []string{tr.root})
	syncOK(t, l)
	h := l.Handler()
	for _, c := range []struct {
		url  string
		code int
		msg  string
	}{
		{"/api/usage/daily?since=2026-13-01", 400, "since"},
		{"/api/usage/daily?until=yesterday", 400, "until"},
		{"/api/usage/monthly?timezone=Mars/Olympus", 400, "timezone"},
		{"/api/usage/weekly", 404, "daily, monthly or session"},
	} {
		rec := get(t, h, c.url)
		var body map[string]string
		if rec.Code != c.code || json.Unmarshal(rec.Body.Bytes(), &body) != nil || !strings.Contains(body["error"], c.msg) {
			t.Errorf("%s: %d %s; want %d with an error naming %q", c.url, rec.Code, rec.Body, c.code, c.msg)
		}
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/api/usage/daily", nil))
	if rec.Code != http.StatusMethodNotAllowed {
		t.Errorf("POST: %d", rec.Code)
	}
}

func TestHandlerAnswersAndCaches(t *testing.T) {
	tr := newTree(t)
	tr.write("p/s.jsonl", line("s", "m1", "r1", false, ts, 10, 20))
	l, err := Open(context.Background(), "sqlite://analytics.db", t.TempDir(), Options{Roots: []string{tr.root}, CacheBytes: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	syncOK(t, l)
	h := l.Handler()
	for i := 0; i < 2; i++ {
		rec := get(t, h, "/api/usage/daily?timezone=Europe/Berlin&since=20260301&until=20260301")
		if rec.Code != 200 || rec.Header().Get("X-CCO-Partial") != "" || rec.Header().Get("Content-Type") != "application/json" {
			t.Fatalf("GET: %d %v %s", rec.Code, rec.Header(), rec.Body)
		}
		var rep DailyReport
		if err := json.Unmarshal(rec.Body.Bytes(), &rep); err != nil || len(rep.Daily) != 1 || rep.Totals.InputTokens != 10 {
			t.Fatalf("answer %s: %v", rec.Body, err)
		}
	}
	if st := l.State().Cache; st.Hits != 1 || st.Misses != 1 || st.Entries != 1 || st.Bytes == 0 {
		t.Fatalf("cache after two equal questions: %+v", st)
	}
	// New calls invalidate the cache.
	tr.append("p/s.jsonl", line("s", "m2", "r2", false, ts, 5, 5))
	syncOK(t, l)
	var rep DailyReport
	if err := json.Unmarshal(get(t, h, "/api/usage/daily?timezone=Europe/Berlin&since=20260301&until=20260301").Body.Bytes(), &rep); err != nil || rep.Totals.InputTokens != 15 {
		t.Fatalf("after ingest: %+v %v", rep, err)
	}
}

// Before the first sync has read the transcripts, an answer says it may
// be partial.
func TestHandlerPartialBeforeFirstSync(t *testing.T) {
	tr := newTree(t)
	l, _ := open(t, []string{tr.root})
	rec := get(t, l.Handler(), "/api/usage/session")
	if rec.Code != 200 || rec.Header().Get("X-CCO-Partial") != "1" {
		t.Fatalf("before any sync: %d, partial %q", rec.Code, rec.Header().Get("X-CCO-Partial"))
	}
	syncOK(t, l)
	if rec := get(t, l.Handler(), "/api/usage/session"); rec.Header().Get("X-CCO-Partial") != "" {
		t.Fatal("partial after the sync")
	}
}

// Under Run, new project and session directories are watched as they
// appear, and an appended line arrives without a rescan.
func TestRunFollowsNewDirectories(t *testing.T) {
	tr := newTree(t)
	tr.write("p/s.jsonl", line("s", "m1", "r1", false, ts, 1, 1))
	l, err := Open(context.Background(), "sqlite://analytics.db", t.TempDir(), Options{Roots: []string{tr.root}, RescanEvery: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- l.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	calls := func(n int64) func() bool { return func() bool { return l.State().Calls == n } }
	testhost.Eventually(t, "the first sync", calls(1))
	if err := os.MkdirAll(filepath.Join(tr.root, "projects", "q", "s2", "subagents"), 0o755); err != nil {
		t.Fatal(err)
	}
	tr.write("q/s2/subagents/agent-a.jsonl", line("s2", "m2", "r2", true, ts, 1, 1))
	testhost.Eventually(t, "a file in a new directory tree", calls(2))
	tr.append("q/s2/subagents/agent-a.jsonl", line("s2", "m3", "r3", true, ts, 1, 1))
	testhost.Eventually(t, "a line appended in a new directory", calls(3))
	tr.write("q/s3.jsonl", line("s3", "m4", "r4", false, ts, 1, 1))
	testhost.Eventually(t, "a new file in a new project", calls(4))
}

// Totals follow every commit and agree with a fresh load.
func TestTotals(t *testing.T) {
	tr := newTree(t)
	tr.write("p/s.jsonl", line("s", "m1", "r1", false, ts, 1000000, 0),
		strings.Replace(line("s", "m2", "r2", false, ts, 10, 20), `"claude-haiku-4-5"`, `"<synthetic>"`, 1))
	l, home := open(t, []string{tr.root})
	syncOK(t, l)
	tr.append("p/s.jsonl", line("s", "m1", "r1", false, ts, 1000000, 5)) // a larger copy replaces m1
	syncOK(t, l)
	want := []ModelTotal{{Model: "claude-haiku-4-5", Input: 1000000, Output: 5, CostUSD: 1 + 5*5e-6}, {Model: "synthetic", Input: 10, Output: 20}}
	check := func(l *Ledger, what string) {
		t.Helper()
		got := l.Totals()
		if len(got) != len(want) {
			t.Fatalf("%s: %+v, want %+v", what, got, want)
		}
		for i := range got {
			g, w := got[i], want[i]
			if g.Model != w.Model || g.Input != w.Input || g.Output != w.Output || g.CacheCreation != w.CacheCreation ||
				g.CacheRead != w.CacheRead || math.Abs(g.CostUSD-w.CostUSD) > 1e-12 {
				t.Fatalf("%s: %+v, want %+v", what, got, want)
			}
		}
	}
	check(l, "kept up")
	l.Close()
	ro, err := OpenReadOnly(context.Background(), "sqlite://analytics.db", home, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	check(ro, "loaded")
	if m := ro.State().Malformed; m != 0 {
		t.Fatalf("malformed %d", m)
	}
}
