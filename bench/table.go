package main

import (
	"fmt"
	"strings"
)

// peers are the columns after cco, in order.
var peers = []string{"fork+kill", "start-stop-daemon", "systemctl --user", "supervisorctl", "pm2"}

// short names for the ratio column.
var short = map[string]string{
	"fork+kill": "floor", "start-stop-daemon": "ssd", "systemctl --user": "systemd",
	"supervisorctl": "supervisor", "pm2": "pm2",
}

type results struct {
	cycle, status map[string]stats
	completion    stats
	logs          stats
	logSize       int64
	rssKB         int64 // the daemon's
	// supervisorRSSKB is the RSS of the supervisor start runs it under.
	supervisorRSSKB int64
	mgrRSS          map[string]int64
	binSize         int64
	ledger          *ledgerResults
	failures        []string
}

func (r *results) fail(tool, what string, err error) {
	r.failures = append(r.failures, fmt.Sprintf("%s %s: %v", tool, what, err))
}

func (r *results) table(machine string, o options) string {
	var b strings.Builder
	fmt.Fprintf(&b, "### cco side by side — %s\n\n", machine)
	fmt.Fprintf(&b, "Median (p10–p90) of %d runs after %d warm-up runs; every tool runs the same workload, `cco daemon run` with its own CCO_HOME and port", o.n, o.warm)
	if o.fake {
		b.WriteString(" (here: the harness's stand-in server, -fake-workload)")
	}
	b.WriteString(". A cycle is start → the port accepts → stop returns. Targets are judged on the median.\n\n")
	b.WriteString("| measure | cco | " + strings.Join(peers, " | ") + " | cco / peer | target | met? |\n")
	b.WriteString("|---|---|" + strings.Repeat("---|", len(peers)) + "---|---|---|\n")

	row := func(measure string, ours stats, theirs map[string]stats, target, met string) {
		cells := []string{measure, ours.cell()}
		var ratios []string
		for _, p := range peers {
			s, ok := theirs[p]
			if !ok {
				cells = append(cells, "–")
				continue
			}
			cells = append(cells, s.cell())
			if x, ok := ratio(ours, s); ok {
				ratios = append(ratios, fmt.Sprintf("%s %.2f", short[p], x))
			}
		}
		cells = append(cells, strings.Join(ratios, " · "), target, met)
		b.WriteString("| " + strings.Join(cells, " | ") + " |\n")
	}

	// cycle
	cco := r.cycle["cco"]
	var met []string
	ok := cco.ok()
	for _, t := range []struct {
		peer  string
		limit float64
	}{{"start-stop-daemon", 0.5}, {"systemctl --user", 1.0}} {
		x, have := ratio(cco, r.cycle[t.peer])
		switch {
		case !have:
			ok = false
			met = append(met, "no figure vs "+short[t.peer])
		case x > t.limit:
			ok = false
			met = append(met, fmt.Sprintf("**no**: %.2f × %s", x, short[t.peer]))
		}
	}
	row("start → ready → stop", cco, r.cycle, "≤ 0.5 × ssd and ≤ 1.0 × systemd", verdict(ok, met))

	// status
	row("status (daemon running)", r.status["cco"], map[string]stats{
		"start-stop-daemon": r.status["start-stop-daemon"], "systemctl --user": r.status["systemctl --user"],
		"supervisorctl": r.status["supervisorctl"], "pm2": r.status["pm2"]}, "≤ 5 ms", limitMS(r.status["cco"], 5))

	row("completion `cco --completion-bash daemon`", r.completion, nil, "≤ 5 ms", limitMS(r.completion, 5))
	row(fmt.Sprintf("`cco daemon logs -n 50` on a %s log", size(r.logSize)), r.logs, nil, "≤ 20 ms", limitMS(r.logs, 20))

	// memory
	rss := "n/a"
	rssMet := "no figure"
	if r.rssKB > 0 {
		rss = fmt.Sprintf("%.1f MiB · supervisor %.1f MiB", float64(r.rssKB)/1024, float64(r.supervisorRSSKB)/1024)
		rssMet = verdict(r.rssKB <= 15*1024 && r.supervisorRSSKB <= 8*1024, []string{"**no**"})
	}
	cells := []string{"idle RSS after " + o.idle.String() + " (cco: the daemon, and its supervisor; peers: their manager's own)", rss}
	for _, p := range peers {
		if kb, ok := r.mgrRSS[p]; ok {
			cells = append(cells, fmt.Sprintf("%.1f MiB", float64(kb)/1024))
		} else {
			cells = append(cells, "–")
		}
	}
	cells = append(cells, "", "≤ 15 MiB · supervisor ≤ 8 MiB", rssMet)
	b.WriteString("| " + strings.Join(cells, " | ") + " |\n")

	bin := "n/a"
	if r.binSize > 0 {
		bin = size(r.binSize)
	}
	b.WriteString("| binary size (`make build`) | " + bin + strings.Repeat(" | –", len(peers)) + " |  | – | – |\n")

	b.WriteString("\nstatus commands: `cco daemon status` · `start-stop-daemon --status --pidfile F` · `systemctl --user status` · `supervisorctl status` · `pm2 jlist`. " +
		"The fork+kill column is the floor: the harness itself starts the workload, waits for the port, sends SIGTERM and waits.\n")
	if len(r.failures) > 0 {
		b.WriteString("\nProblems in this run:\n")
		for _, f := range r.failures {
			fmt.Fprintf(&b, "- %s\n", oneLine(f))
		}
	}
	return b.String()
}

func verdict(ok bool, why []string) string {
	if ok {
		return "yes"
	}
	if len(why) == 0 {
		return "**no**"
	}
	return strings.Join(why, "; ")
}

func limitMS(s stats, limit float64) string {
	if !s.ok() {
		return "no figure"
	}
	got := float64(s.med.Microseconds()) / 1000
	if got <= limit {
		return "yes"
	}
	return fmt.Sprintf("**no** (%.3g ms)", got)
}

func size(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	default:
		return fmt.Sprintf("%d B", n)
	}
}

func oneLine(s string) string {
	s = strings.ReplaceAll(s, "\n", " ⏎ ")
	if len(s) > 400 {
		s = s[:400] + "…"
	}
	return s
}
