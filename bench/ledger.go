package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/anthropics/cco/internal/ccusage"
	"github.com/anthropics/cco/internal/transcripts"
	"github.com/anthropics/cco/ledger"
)

// ledgerResults are the usage ledger's figures beside ccusage's, on one
// generated transcript tree.
type ledgerResults struct {
	tree                   transcripts.Expect
	genTime                time.Duration
	ingest, ccusage, usage stats
	ingestKB, ccusageKB    int64 // peak RSS over the runs (ccusage: node and its binary together)
	ccusageVersion         string
	agree                  string // whether the ledger's daily report equals ccusage's, and if not how
}

// measureLedger generates a transcript tree of o.ledgerBytes bytes under
// tmp (every case where ccusage counts right, so that the two reports must
// agree) and times, in fresh processes, the ledger's first full ingest
// (this program re-executed as `ingest`) and one `ccusage claude daily
// --json --offline`, reading the peak RSS of each; checks that the two
// daily reports agree; then times `cco usage daily` end to end when
// -usage-daily says the command is there.
func measureLedger(ccoBin, tmp string, o options, res *results) {
	lr := &ledgerResults{}
	res.ledger = lr
	fail := func(what string, err error) { res.fail("ledger", what, err) }
	bin, err := ccusage.Find()
	if err != nil {
		fail("ccusage", err)
	} else if out, err := exec.Command(bin, "--version").Output(); err == nil {
		lr.ccusageVersion = strings.TrimSpace(string(out))
	}

	start := time.Now()
	lr.tree, err = transcripts.Generate(filepath.Join(tmp, "transcripts"), transcripts.Spec{
		Seed: 1, Roots: 2, Projects: 12, Bytes: o.ledgerBytes, Cases: transcripts.Agreeing})
	lr.genTime = time.Since(start)
	if err != nil {
		fail("generate", err)
		return
	}
	fmt.Fprintf(os.Stderr, "bench: ledger: generated %s in %d files (%d usage lines) in %v\n",
		size(lr.tree.Bytes), lr.tree.Files, lr.tree.UsageLines, lr.genTime.Round(time.Millisecond))
	roots := lr.tree.Roots
	self, err := os.Executable()
	if err != nil {
		fail("ingest", err)
		return
	}

	// The first full ingest, each run into a new CCO_HOME.
	var homes []string
	n := 0
	lr.ingest = timeN(o.ledgerRuns, 1, func() error {
		n++
		home := filepath.Join(tmp, "ledger_home_"+strconv.Itoa(n))
		if err := os.MkdirAll(home, 0o700); err != nil {
			return err
		}
		homes = append(homes, home)
		cmd := exec.Command(self, append([]string{"ingest", home}, roots...)...)
		kb, _, err := runPeak(cmd)
		lr.ingestKB = max(lr.ingestKB, kb)
		return err
	}, nil)
	if lr.ingest.err != nil {
		fail("ingest", lr.ingest.err)
	}

	// One ccusage daily report of the same tree, with an empty HOME.
	if bin != "" {
		emptyHome := filepath.Join(tmp, "ccusage_home")
		if err := os.MkdirAll(emptyHome, 0o700); err != nil {
			fail("ccusage", err)
		}
		var report []byte
		lr.ccusage = timeN(o.ledgerRuns, 1, func() error {
			cmd := ccusage.Command(context.Background(), bin, emptyHome, roots, "daily")
			kb, out, err := runPeak(cmd)
			lr.ccusageKB = max(lr.ccusageKB, kb)
			report = out
			return err
		}, nil)
		if lr.ccusage.err != nil {
			fail("ccusage", lr.ccusage.err)
		} else if len(homes) > 0 && lr.ingest.err == nil {
			lr.agree = agreement(report, homes[len(homes)-1], roots)
		}
	}

	if o.usageDaily && len(homes) > 0 {
		lr.usage = measureUsageDaily(ccoBin, homes[len(homes)-1], roots, o)
		if lr.usage.err != nil {
			fail("usage daily", lr.usage.err)
		}
	}
}

// measureUsageDaily is the hook for `cco usage daily` end to end: a fresh
// cco process answering from the database that an ingest left in home
// (the daemon stopped: read-only), timed over o.n runs. It is measured
// when -usage-daily is given (once the command exists).
func measureUsageDaily(ccoBin, home string, roots []string, o options) stats {
	r := runner{env: baseEnv("CCO_HOME="+home, "HOME="+home, "CLAUDE_CONFIG_DIR="+strings.Join(roots, ","))}
	return timeN(o.n, o.warm, func() error {
		out, err := r.run(ccoBin, "usage", "daily", "--json", "--timezone", "UTC")
		if err == nil && !bytes.Contains(out, []byte(`"daily"`)) {
			err = fmt.Errorf("cco usage daily --json printed no daily report: %.200q", out)
		}
		return err
	}, nil)
}

// ingestMain is `ccobench ingest HOME ROOT...`: one first full ingest of
// the roots into HOME's ledger, in a process of its own so that its peak
// RSS is its own.
func ingestMain(args []string) error {
	fs := flag.NewFlagSet("ingest", flag.ContinueOnError)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() < 2 {
		return fmt.Errorf("usage: ccobench ingest CCO_HOME ROOT [ROOT]")
	}
	ctx := context.Background()
	l, err := ledger.Open(ctx, "sqlite://analytics.db", fs.Arg(0), ledger.Options{Roots: fs.Args()[1:]})
	if err != nil {
		return err
	}
	st, err := l.Sync(ctx)
	if err != nil {
		l.Close()
		return err
	}
	if st.Calls == 0 {
		l.Close()
		return fmt.Errorf("the ingest found no calls in %v", fs.Args()[1:])
	}
	return l.Close()
}

// agreement compares ccusage's daily report (JSON) with the ledger's, read
// from the database an ingest left in home.
func agreement(want []byte, home string, roots []string) string {
	ctx := context.Background()
	l, err := ledger.OpenReadOnly(ctx, "sqlite://analytics.db", home, ledger.Options{Roots: roots})
	if err != nil {
		return "n/a: " + err.Error()
	}
	defer l.Close()
	r, err := l.Daily(ctx, ledger.Query{})
	if err != nil {
		return "n/a: " + err.Error()
	}
	got, err := json.Marshal(r)
	if err != nil {
		return "n/a: " + err.Error()
	}
	diffs, err := ccusage.Diff(want, got, 3)
	switch {
	case err != nil:
		return "n/a: " + err.Error()
	case len(diffs) > 0:
		return "**no**: " + strings.Join(diffs, "; ")
	}
	return "yes"
}

// runPeak runs cmd to its end and returns the peak RSS, in kB, of it and
// its descendants together, and its standard output: sampled from /proc every 5 ms (the sum over
// the process tree: ccusage is a node launcher and a native binary), and
// never below what the kernel reports for the largest single process.
func runPeak(cmd *exec.Cmd) (int64, []byte, error) {
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Start(); err != nil {
		return 0, nil, err
	}
	var peak int64
	var mu sync.Mutex
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		for {
			kb := treeRSSKB(cmd.Process.Pid)
			mu.Lock()
			peak = max(peak, kb)
			mu.Unlock()
			select {
			case <-stop:
				return
			case <-t.C:
			}
		}
	}()
	err := cmd.Wait()
	close(stop)
	<-done
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		peak = max(peak, ru.Maxrss) // Linux: kB
	}
	if err != nil {
		return peak, nil, fmt.Errorf("%s: %v: %s", filepath.Base(cmd.Path), err, oneLine(strings.TrimSpace(errOut.String())))
	}
	return peak, out.Bytes(), nil
}

// treeRSSKB is the summed VmRSS of pid and its descendants, found through
// /proc/PID/task/TID/children (cheap: no walk of all of /proc).
func treeRSSKB(pid int) int64 {
	var sum int64
	queue := []int{pid}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		if kb, err := rssKB(p); err == nil {
			sum += kb
		}
		tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", p))
		for _, f := range tasks {
			b, _ := os.ReadFile(f)
			for _, c := range strings.Fields(string(b)) {
				if n, err := strconv.Atoi(c); err == nil {
					queue = append(queue, n)
				}
			}
		}
	}
	return sum
}

// ledgerTable is the ledger's table: cco beside ccusage on one tree.
func (r *results) ledgerTable(o options) string {
	lr := r.ledger
	if lr == nil {
		return ""
	}
	var b strings.Builder
	ver := lr.ccusageVersion
	if ver == "" {
		ver = "ccusage " + ccusage.Version
	}
	fmt.Fprintf(&b, "\n### usage ledger beside %s — a generated tree of %s, %d files, %d usage lines\n\n",
		ver, size(lr.tree.Bytes), lr.tree.Files, lr.tree.UsageLines)
	fmt.Fprintf(&b, "Median (p10–p90) of %d runs after 1 warm-up run, each a fresh process; page cache warm. "+
		"Peak RSS is the largest over the runs, of the process and its children together.\n\n", o.ledgerRuns)
	b.WriteString("| measure | cco | ccusage | cco / ccusage | target | met? |\n|---|---|---|---|---|---|\n")
	x, have := ratio(lr.ingest, lr.ccusage)
	rc := ""
	met := "no figure"
	if have {
		rc = fmt.Sprintf("%.2f", x)
		met = verdict(x <= 1, []string{fmt.Sprintf("**no**: %.2f ×", x)})
	}
	fmt.Fprintf(&b, "| first full ingest (cco) · one `ccusage claude daily --json --offline` | %s | %s | %s | ≤ 1.0 × ccusage | %s |\n",
		lr.ingest.cell(), lr.ccusage.cell(), rc, met)
	rss := func(kb int64) string {
		if kb <= 0 {
			return "n/a"
		}
		return fmt.Sprintf("%.1f MiB", float64(kb)/1024)
	}
	rssMet := "no figure"
	if lr.ingestKB > 0 && lr.ingest.ok() {
		rssMet = verdict(lr.ingestKB <= 64*1024, []string{"**no**"})
	}
	fmt.Fprintf(&b, "| peak RSS during it | %s | %s |  | ≤ 64 MiB | %s |\n", rss(lr.ingestKB), rss(lr.ccusageKB), rssMet)
	usageMet := "not measured (run with -usage-daily)"
	usageRatio := ""
	if o.usageDaily {
		usageMet = limitMS(lr.usage, 20)
		if x, ok := ratio(lr.usage, lr.ccusage); ok {
			usageRatio = fmt.Sprintf("%.4f", x)
		}
	}
	agree := lr.agree
	if agree == "" {
		agree = "no figure"
	}
	fmt.Fprintf(&b, "| the ledger's daily report equals ccusage's (tokens exact, costs within 1e-9) |  |  |  | equal | %s |\n", oneLine(agree))
	fmt.Fprintf(&b, "| `cco usage daily` end to end (fresh process, from the database) · `ccusage claude daily` | %s | %s | %s | ≤ 20 ms | %s |\n",
		lr.usage.cell(), lr.ccusage.cell(), usageRatio, usageMet)
	return b.String()
}
