package ledger_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	_ "github.com/anthropics/cco/internal/golden" // its -update flag: `go test ./... -update` works from the root

	"github.com/anthropics/cco/internal/transcripts"
	"github.com/anthropics/cco/ledger"
)

// benchTree generates the benchmarks' transcript tree: LEDGER_BENCH_BYTES
// bytes (default 32 MiB; `make bench` measures the 1 GB tree side by side
// with ccusage), every case included.
func benchTree(b *testing.B) transcripts.Expect {
	b.Helper()
	size := int64(32 << 20)
	if s := os.Getenv("LEDGER_BENCH_BYTES"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n <= 0 {
			b.Fatalf("LEDGER_BENCH_BYTES=%q: want a number of bytes", s)
		}
		size = n
	}
	exp, err := transcripts.Generate(b.TempDir(), transcripts.Spec{Seed: 1, Roots: 2, Projects: 12, Bytes: size, Cases: transcripts.All})
	if err != nil {
		b.Fatal(err)
	}
	return exp
}

// BenchmarkIngest is the first full ingest of a tree into a new database.
func BenchmarkIngest(b *testing.B) {
	exp := benchTree(b)
	b.SetBytes(exp.Bytes)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		home := b.TempDir()
		b.StartTimer()
		l, err := ledger.Open(context.Background(), "sqlite://analytics.db", home, ledger.Options{Roots: exp.Roots})
		if err != nil {
			b.Fatal(err)
		}
		st, err := l.Sync(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		if err := l.Close(); err != nil {
			b.Fatal(err)
		}
		if st.Calls == 0 {
			b.Fatal("the ingest found no calls")
		}
	}
	b.ReportMetric(float64(exp.Files), "files")
	b.ReportMetric(float64(exp.UsageLines), "usage-lines")
}

// syncedLedger is a ledger that has ingested the benchmark tree, and the
// path of one more transcript in it, for appends.
func syncedLedger(b *testing.B, o ledger.Options) (*ledger.Ledger, string) {
	b.Helper()
	exp := benchTree(b)
	path := filepath.Join(exp.Roots[0], "projects", "-home-dev-bench", "s1.jsonl")
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		b.Fatal(err)
	}
	if err := transcripts.AppendLine(path, callA.AssistantLine()); err != nil {
		b.Fatal(err)
	}
	o.Roots = exp.Roots
	l, err := ledger.Open(context.Background(), "sqlite://analytics.db", b.TempDir(), o)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { l.Close() })
	if _, err := l.Sync(context.Background()); err != nil {
		b.Fatal(err)
	}
	return l, path
}

// BenchmarkDailyReport answers the daily report from the database
// (library: Daily; http: GET /api/usage/daily, the report cache off) and
// from the report cache (http-cached).
func BenchmarkDailyReport(b *testing.B) {
	b.Run("library", func(b *testing.B) {
		l, _ := syncedLedger(b, ledger.Options{})
		ctx := context.Background()
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			r, err := l.Daily(ctx, ledger.Query{})
			if err != nil {
				b.Fatal(err)
			}
			if len(r.Daily) == 0 {
				b.Fatal("an empty report")
			}
		}
	})
	for _, c := range []struct {
		name  string
		cache int64
	}{{"http", 0}, {"http-cached", 8 << 20}} {
		b.Run(c.name, func(b *testing.B) {
			l, _ := syncedLedger(b, ledger.Options{CacheBytes: c.cache})
			h := l.Handler()
			req := httptest.NewRequest(http.MethodGet, "/api/usage/daily?timezone=UTC", nil)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				if rec.Code != http.StatusOK || rec.Body.Len() == 0 {
					b.Fatalf("GET daily: %d %s", rec.Code, rec.Body)
				}
			}
		})
	}
}

// BenchmarkIngestOneAppendedLine is a Sync after one line was appended to
// a transcript of an ingested tree: a full scan that finds one new call.
func BenchmarkIngestOneAppendedLine(b *testing.B) {
	l, path := syncedLedger(b, ledger.Options{})
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		c := opus("s1", "msg_bench_"+strconv.Itoa(i), "req_bench_"+strconv.Itoa(i), 30, 100, 10)
		if err := transcripts.AppendLine(path, c.AssistantLine()); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		st, err := l.Sync(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if st.Calls != 1 {
			b.Fatalf("Sync after one appended line added %d calls, want 1", st.Calls)
		}
	}
}
