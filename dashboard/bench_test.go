package dashboard_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/anthropics/cco/dashboard"
	"github.com/anthropics/cco/internal/chrome"
	"github.com/anthropics/cco/internal/transcripts"
	"github.com/anthropics/cco/ledger"
)

// benchBytes is the size of the benchmarks' tree: DASHBOARD_BENCH_BYTES
// (the README's figures are of a 1 GB tree), else 32 MiB.
func benchBytes(b *testing.B) int64 {
	if s := os.Getenv("DASHBOARD_BENCH_BYTES"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n <= 0 {
			b.Fatalf("DASHBOARD_BENCH_BYTES=%q: want a number of bytes", s)
		}
		return n
	}
	return 32 << 20
}

// benchTrees are the benchmarks' trees by size, written once per run
// (a 1 GB tree takes a while) and removed by TestMain; or kept in
// DASHBOARD_BENCH_DIR, for the next run.
var (
	benchTreesMu sync.Mutex
	benchTrees   = map[int64]transcripts.Expect{}
	benchDir     string
)

func TestMain(m *testing.M) {
	code := m.Run()
	if benchDir != "" {
		os.RemoveAll(benchDir)
	}
	os.Exit(code)
}

func benchTree(b *testing.B) transcripts.Expect {
	b.Helper()
	size := benchBytes(b)
	benchTreesMu.Lock()
	defer benchTreesMu.Unlock()
	if exp, ok := benchTrees[size]; ok {
		return exp
	}
	var err error
	dir := os.Getenv("DASHBOARD_BENCH_DIR")
	if dir == "" {
		if benchDir == "" {
			if benchDir, err = os.MkdirTemp("", "dashboard-bench-"); err != nil {
				b.Fatal(err)
			}
		}
		dir = benchDir
	}
	today := time.Now().UTC().Truncate(24 * time.Hour)
	dir = filepath.Join(dir, today.Format("20060102")+"-"+strconv.FormatInt(size, 10))
	spec := transcripts.Spec{
		Seed: 7, Roots: 1, Projects: 12, Bytes: size, Start: today.AddDate(0, 0, -365), Days: 365, Cases: transcripts.Agreeing,
	}
	var exp transcripts.Expect
	if saved, err := os.ReadFile(filepath.Join(dir, "expect.json")); err == nil && json.Unmarshal(saved, &exp) == nil {
		benchTrees[size] = exp // kept from an earlier run
		return exp
	}
	if exp, err = transcripts.Generate(dir, spec); err != nil {
		b.Fatal(err)
	}
	if saved, err := json.Marshal(exp); err == nil {
		_ = os.WriteFile(filepath.Join(dir, "expect.json"), saved, 0o644)
	}
	benchTrees[size] = exp
	return exp
}

// BenchmarkUpdate is the server's work for one live update: after the
// page's first load and after ingest changed the ledger, /api/dashboard
// computes the page's data anew (the default 30 days in a time zone with
// an offset) and encodes it. DASHBOARD_BENCH_COLD=1 measures first loads.
func BenchmarkUpdate(b *testing.B) {
	exp := benchTree(b)
	ctx := context.Background()
	l, err := ledger.Open(ctx, "sqlite://analytics.db", b.TempDir(), ledger.Options{Roots: exp.Roots})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	if _, err := l.Sync(ctx); err != nil {
		b.Fatal(err)
	}
	loc, _ := time.LoadLocation("Europe/Berlin")
	now := time.Now()
	since, until := now.In(loc).AddDate(0, 0, -29).Format(time.DateOnly), now.In(loc).Format(time.DateOnly)
	var kept dashboard.Builder
	if os.Getenv("DASHBOARD_BENCH_COLD") == "" {
		// The page's first load, before the updates measured.
		if _, err := kept.Build(ctx, l, loc, since, until, now); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime()
	for b.Loop() {
		builder := &kept // an update: the days before the window kept
		if os.Getenv("DASHBOARD_BENCH_COLD") != "" {
			builder = &dashboard.Builder{} // a first load: nothing kept
		}
		d, err := builder.Build(ctx, l, loc, since, until, now)
		if err != nil {
			b.Fatal(err)
		}
		var buf bytes.Buffer
		if err := json.NewEncoder(&buf).Encode(d); err != nil {
			b.Fatal(err)
		}
	}
	// CPU time beside wall time: on a shared machine the wall time
	// includes waiting for a core.
	b.ReportMetric(float64(cpuTime()-cpu0)/float64(time.Millisecond)/float64(b.N), "cpu-ms/op")
	b.ReportMetric(float64(exp.Bytes)/(1<<20), "tree-MiB")
	b.ReportMetric(float64(exp.UsageLines), "usage-lines")
}

// cpuTime is the CPU time this process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkFirstRender opens the page in headless Chromium against a
// daemon over the tree, after a new call changed the ledger (so the
// server computes the data anew), and reports the time from navigation to
// the page drawn with its data (ms/render), as the page measures it, and
// of that the fetch of /api/dashboard (ms/data-fetch).
func BenchmarkFirstRender(b *testing.B) {
	exp := benchTree(b)
	d := startDaemon(b, exp.Roots)
	br := chrome.Start(b)
	file := firstTranscript(b, exp.Roots[0])
	var total, data float64
	var errs []string
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		b.StopTimer()
		var before, after struct {
			Ledger struct {
				Generation uint64 `json:"generation"`
			} `json:"ledger"`
		}
		if err := d.getJSON("/health", &before); err != nil {
			b.Fatal(err)
		}
		if err := transcripts.AppendLine(file, newCall("b"+strconv.Itoa(i), time.Now(), 10, 10)); err != nil {
			b.Fatal(err)
		}
		for after.Ledger.Generation == before.Ledger.Generation {
			if err := d.getJSON("/health", &after); err != nil {
				b.Fatal(err)
			}
			time.Sleep(5 * time.Millisecond)
		}
		p := br.NewPage(b, 1280, 800) // a new tab: nothing of the last load kept but the browser's cache
		b.StartTimer()
		if err := p.Navigate(d.base + "/"); err != nil {
			b.Fatal(err)
		}
		p.WaitFor(b, "the first render", `document.body.dataset.ready === "1"`, time.Minute)
		b.StopTimer()
		var m struct{ First, Data float64 }
		if err := p.Eval(`({First: window.ccoFirstRender, Data: performance.getEntriesByType("resource").filter((e) => e.name.includes("/api/dashboard")).map((e) => e.responseEnd - e.startTime)[0]})`, &m); err != nil {
			b.Fatal(err)
		}
		total += m.First
		data += m.Data
		errs = append(errs, p.Errors()...)
		p.Close()
		b.StartTimer()
	}
	b.ReportMetric(total/float64(b.N), "ms/render")
	b.ReportMetric(data/float64(b.N), "ms/data-fetch")
	b.ReportMetric(float64(exp.Bytes)/(1<<20), "tree-MiB")
	if len(errs) > 0 {
		b.Fatal(fmt.Sprint(errs))
	}
}
