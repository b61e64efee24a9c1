package main

import (
	"errors"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/anthropics/cco/internal/transcripts"
)

func TestLedgerTable(t *testing.T) {
	ok := func(ms int) stats {
		d := time.Duration(ms) * time.Millisecond
		return stats{n: 5, med: d, p10: d, p90: d}
	}
	r := &results{ledger: &ledgerResults{
		tree:   transcripts.Expect{Bytes: 1 << 30, Files: 9573, UsageLines: 315481},
		ingest: ok(2000), ccusage: ok(2500), ingestKB: 60 * 1024, ccusageKB: 300 * 1024, agree: "yes",
		ccusageVersion: "ccusage 20.0.24",
	}}
	table := r.ledgerTable(options{ledgerRuns: 5})
	for _, want := range []string{
		"1.0 GiB, 9573 files, 315481 usage lines",
		"| 2000 ms (2000–2000) | 2500 ms (2500–2500) | 0.80 | ≤ 1.0 × ccusage | yes |",
		"| 60.0 MiB | 300.0 MiB |  | ≤ 64 MiB | yes |",
		"| equal | yes |",
		"not measured (run with -usage-daily)",
	} {
		if !strings.Contains(table, want) {
			t.Errorf("table lacks %q:\n%s", want, table)
		}
	}
	// a failed ingest has no RSS verdict, a slow one fails its target
	r.ledger.ingest = stats{err: errors.New("boom")}
	if table := r.ledgerTable(options{}); !strings.Contains(table, "| ≤ 64 MiB | no figure |") {
		t.Errorf("an RSS verdict without an ingest:\n%s", table)
	}
	r.ledger.ingest, r.ledger.ingestKB = ok(3000), 70*1024
	table = r.ledgerTable(options{})
	for _, want := range []string{"**no**: 1.20 ×", "| ≤ 64 MiB | **no** |"} {
		if !strings.Contains(table, want) {
			t.Errorf("table lacks %q:\n%s", want, table)
		}
	}
}

// TestRunPeak reads the peak RSS of a process tree: a shell whose child
// shell holds 64 MiB in a variable.
func TestRunPeak(t *testing.T) {
	kb, out, err := runPeak(exec.Command("sh", "-c", `sh -c 'x=$(head -c 67108864 /dev/zero | tr "\0" a); echo done'`))
	if err != nil {
		t.Fatal(err)
	}
	if string(out) != "done\n" {
		t.Errorf("output %q", out)
	}
	if kb < 64*1024 {
		t.Errorf("peak RSS %d kB, want at least 64 MiB", kb)
	}
	if _, _, err := runPeak(exec.Command("sh", "-c", "echo oops >&2; exit 3")); err == nil || !strings.Contains(err.Error(), "oops") {
		t.Errorf("a failing command: %v, want an error carrying its stderr", err)
	}
}
