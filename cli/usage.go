package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/alecthomas/kingpin/v2"

	"github.com/anthropics/cco/config"
	"github.com/anthropics/cco/ledger"
	"github.com/anthropics/cco/ledger/store"
	"github.com/anthropics/cco/lifecycle"
)

// usageWait bounds a report asked of the daemon: it lets pending ingest
// finish first (a second at most), then answers from its cache or database.
const usageWait = 10 * time.Second

func configureUsageCmd(app *kingpin.Application, e *Env) {
	u := app.Command("usage", "Show what Claude Code use cost: tokens and dollars by day, month or session, from the daemon's usage ledger.")
	for _, kind := range []struct{ name, help string }{
		{"daily", "Usage by day, with a row per model on --breakdown."},
		{"monthly", "Usage by month."},
		{"session", "Usage by session, costliest first."},
	} {
		c := &usageCmd{env: e, kind: kind.name}
		cc := u.Command(kind.name, kind.help).Action(action(e, c.run))
		cc.Flag("json", "Print JSON in the shape of `ccusage claude "+kind.name+" --json`.").BoolVar(&c.json)
		cc.Flag("since", "First day to include (YYYYMMDD or YYYY-MM-DD).").PlaceHolder("DATE").SetValue(dateValue{name: "since", v: &c.since})
		cc.Flag("until", "Last day to include (YYYYMMDD or YYYY-MM-DD).").PlaceHolder("DATE").SetValue(dateValue{name: "until", v: &c.until})
		cc.Flag("timezone", "Time zone whose days and months count (IANA name such as Europe/Berlin; default: this machine's).").Short('z').PlaceHolder("TZ").SetValue(zoneValue{v: &c.zone})
		cc.Flag("project", "Only this project (its directory name under projects/, as in `cco usage session`).").PlaceHolder("P").StringVar(&c.project)
		cc.Flag("breakdown", "Show a row for each model under each day, month or session.").BoolVar(&c.breakdown)
	}
}

type usageCmd struct {
	env          *Env
	kind         string
	json         bool
	since, until string
	zone         string
	project      string
	breakdown    bool
}

// dateKey makes YYYYMMDD and YYYY-MM-DD compare as dates.
func dateKey(d string) string { return strings.ReplaceAll(d, "-", "") }

// dateValue is a --since or --until date: YYYYMMDD or YYYY-MM-DD.
type dateValue struct {
	name string
	v    *string
}

func (d dateValue) Set(s string) error {
	for _, layout := range []string{"20060102", "2006-01-02"} {
		if _, err := time.Parse(layout, s); err == nil {
			*d.v = s
			return nil
		}
	}
	return fmt.Errorf("--%s %s: not a date (write YYYYMMDD or YYYY-MM-DD, such as 2026-11-01)", d.name, s)
}

func (d dateValue) String() string { return *d.v }

// zoneValue is a --timezone: an IANA zone name.
type zoneValue struct{ v *string }

func (z zoneValue) Set(s string) error {
	if _, err := time.LoadLocation(s); err != nil || s == "" || s == "Local" {
		return fmt.Errorf("--timezone %s: not a time zone name (write an IANA name such as Europe/Berlin, America/New_York or UTC)", s)
	}
	*z.v = s
	return nil
}

func (z zoneValue) String() string { return *z.v }

// localZone names this machine's time zone as the IANA database does: TZ,
// else the zone /etc/localtime links to. "" when it has no name.
func localZone(getenv func(string) string) string {
	if tz := strings.TrimPrefix(getenv("TZ"), ":"); tz != "" {
		if _, err := time.LoadLocation(tz); err == nil && !filepath.IsAbs(tz) {
			return tz
		}
	}
	if link, err := os.Readlink("/etc/localtime"); err == nil {
		if _, name, ok := strings.Cut(link, "zoneinfo/"); ok {
			if _, err := time.LoadLocation(name); err == nil {
				return name
			}
		}
	}
	return ""
}

func (c *usageCmd) run(ctx context.Context) error {
	if c.since != "" && c.until != "" && dateKey(c.since) > dateKey(c.until) {
		return &ExitError{Code: exitUsage, Err: fmt.Errorf("--since %s is after --until %s: give the earlier day first", c.since, c.until)}
	}
	eff, paths, err := loadEffective(c.env, nil)
	if err != nil {
		return err
	}
	zone := c.zone
	if zone == "" {
		zone = localZone(c.env.Getenv)
	}
	body, partial, err := c.askDaemon(ctx, paths, zone)
	if err != nil {
		// No daemon answers: the database, read-only, as the daemon left it.
		body, err = c.readLedger(ctx, eff.DatabaseURL, paths.Home, zone)
		if err != nil {
			return err
		}
		fmt.Fprintln(c.env.Stderr, "cco: the daemon is not running: this is the ledger as it last saw the transcripts; start it (`cco daemon start`) to count what Claude Code wrote since")
	}
	if partial != "" {
		fmt.Fprintln(c.env.Stderr, "cco: "+partial)
	}
	if c.json {
		var out bytes.Buffer
		if err := json.Indent(&out, bytes.TrimSpace(body), "", "  "); err != nil {
			return fmt.Errorf("the usage report is not JSON: %w", err)
		}
		out.WriteByte('\n')
		_, err := c.env.Stdout.Write(out.Bytes())
		return err
	}
	return c.printTable(body, zone)
}

// askDaemon asks the running daemon for the report; an error means no
// daemon answered. partial says why the answer may lack recent usage.
func (c *usageCmd) askDaemon(ctx context.Context, paths config.Paths, zone string) (body []byte, partial string, err error) {
	in, err := lifecycle.New(paths).Inspect()
	if err != nil {
		return nil, "", err
	}
	if in.Running == nil || in.Running.State == nil {
		return nil, "", errors.New("not running")
	}
	q := url.Values{}
	for k, v := range map[string]string{"since": c.since, "until": c.until, "timezone": zone, "project": c.project} {
		if v != "" {
			q.Set(k, v)
		}
	}
	ctx, cancel := context.WithTimeout(ctx, usageWait)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, in.Running.State.URL()+"/api/usage/"+c.kind+"?"+q.Encode(), nil)
	if err != nil {
		return nil, "", err
	}
	resp, err := localClient.Do(req)
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	body, err = io.ReadAll(resp.Body)
	if err != nil {
		return nil, "", err
	}
	if resp.StatusCode != http.StatusOK {
		var e struct{ Error string }
		_ = json.Unmarshal(body, &e)
		return nil, "", fmt.Errorf("the daemon answered %s: %s", resp.Status, e.Error)
	}
	if resp.Header.Get("X-CCO-Partial") != "" {
		partial = "the daemon is still reading transcripts" + ingestProgress(ctx, in.Running.State.URL()) + ": these numbers may lack the newest usage"
	}
	return body, partial, nil
}

// localClient talks to the daemon on this machine: no proxy, no pooling.
var localClient = &http.Client{Transport: &http.Transport{DisableKeepAlives: true, Proxy: nil}}

// readLedger answers from the database directly, read-only.
func (c *usageCmd) readLedger(ctx context.Context, databaseURL, home, zone string) ([]byte, error) {
	l, err := ledger.OpenReadOnly(ctx, databaseURL, home, ledger.Options{})
	if errors.Is(err, store.ErrMissing) {
		return nil, fmt.Errorf("there is no usage ledger yet (%s): start the daemon (`cco daemon start`); it reads Claude Code's transcripts into it", databaseURL)
	}
	if err != nil {
		return nil, err
	}
	defer l.Close()
	q := ledger.Query{Since: c.since, Until: c.until, Project: c.project, Location: time.Local}
	if zone != "" {
		if q.Location, err = time.LoadLocation(zone); err != nil {
			return nil, err
		}
	}
	rep, err := l.Report(ctx, c.kind, q)
	if err != nil {
		return nil, err
	}
	return json.Marshal(rep)
}

// usageRow is what a table row shows of any report's row.
type usageRow struct {
	label     []string // the row's own columns: date, month, or session and project
	models    []string
	tokens    [4]int64 // input, output, cache create, cache read
	total     int64
	cost      float64
	breakdown []ledger.ModelBreakdown
}

func (c *usageCmd) printTable(body []byte, zone string) error {
	var head []string
	var rows []usageRow
	var totals ledger.Totals
	switch c.kind {
	case "daily":
		var r ledger.DailyReport
		if err := json.Unmarshal(body, &r); err != nil {
			return err
		}
		head, totals = []string{"Date"}, r.Totals
		for _, d := range r.Daily {
			rows = append(rows, usageRow{[]string{d.Date}, d.ModelsUsed, [4]int64{d.InputTokens, d.OutputTokens, d.CacheCreationTokens, d.CacheReadTokens}, d.TotalTokens, d.TotalCost, d.ModelBreakdowns})
		}
	case "monthly":
		var r ledger.MonthlyReport
		if err := json.Unmarshal(body, &r); err != nil {
			return err
		}
		head, totals = []string{"Month"}, r.Totals
		for _, m := range r.Monthly {
			rows = append(rows, usageRow{[]string{m.Month}, m.ModelsUsed, [4]int64{m.InputTokens, m.OutputTokens, m.CacheCreationTokens, m.CacheReadTokens}, m.TotalTokens, m.TotalCost, m.ModelBreakdowns})
		}
	default:
		var r ledger.SessionReport
		if err := json.Unmarshal(body, &r); err != nil {
			return err
		}
		head, totals = []string{"Session", "Project", "Last activity"}, r.Totals
		for _, s := range r.Sessions {
			rows = append(rows, usageRow{[]string{s.SessionID, s.ProjectPath, shortTime(s.LastActivity, zone)}, s.ModelsUsed, [4]int64{s.InputTokens, s.OutputTokens, s.CacheCreationTokens, s.CacheReadTokens}, s.TotalTokens, s.TotalCost, s.ModelBreakdowns})
		}
	}
	st := newStyle(c.env.Stdout, c.env.Getenv)
	if len(rows) == 0 {
		_, err := fmt.Fprintln(c.env.Stdout, "No usage recorded for this period.")
		return err
	}
	t := &table{numericFrom: len(head) + 1}
	t.add(st.bold, append(head, "Models", "Input", "Output", "Cache write", "Cache read", "Total tokens", "Cost (USD)")...)
	for _, r := range rows {
		t.add(nil, append(r.label, shortModels(r.models), thousands(r.tokens[0]), thousands(r.tokens[1]), thousands(r.tokens[2]), thousands(r.tokens[3]), thousands(r.total), dollars(r.cost))...)
		if c.breakdown {
			for _, b := range r.breakdown {
				pad := make([]string, len(head))
				t.add(st.dim, append(pad, "  "+b.ModelName, thousands(b.InputTokens), thousands(b.OutputTokens), thousands(b.CacheCreationTokens), thousands(b.CacheReadTokens), thousands(b.InputTokens+b.OutputTokens+b.CacheCreationTokens+b.CacheReadTokens), dollars(b.Cost))...)
			}
		}
	}
	pad := make([]string, len(head)-1)
	t.add(st.yellow, append(append([]string{"Total"}, pad...), "", thousands(totals.InputTokens), thousands(totals.OutputTokens), thousands(totals.CacheCreationTokens), thousands(totals.CacheReadTokens), thousands(totals.TotalTokens), dollars(totals.TotalCost))...)
	if err := t.write(c.env.Stdout); err != nil {
		return err
	}
	if len(totals.UnpricedModels) > 0 {
		fmt.Fprintf(c.env.Stdout, "Not priced (tokens counted at no cost): %s. Add them to %s.\n", strings.Join(totals.UnpricedModels, ", "), "prices.toml in CCO_HOME")
	}
	return nil
}

// shortModels names models the short way people say them: opus-4-6,
// sonnet-4-5 (no "claude-" and no release date), each once, sorted.
func shortModels(models []string) string {
	seen := map[string]bool{}
	var short []string
	for _, m := range models {
		m = strings.TrimPrefix(m, "claude-")
		if i := strings.LastIndexByte(m, '-'); i > 0 && len(m)-i == 9 && strings.Trim(m[i+1:], "0123456789") == "" {
			m = m[:i] // a release date: -20250929
		}
		if !seen[m] {
			seen[m] = true
			short = append(short, m)
		}
	}
	sort.Strings(short)
	return strings.Join(short, ", ")
}

// shortTime shows an RFC 3339 instant in zone, to the minute.
func shortTime(rfc3339, zone string) string {
	t, err := time.Parse(time.RFC3339Nano, rfc3339)
	if err != nil {
		return rfc3339
	}
	if loc, err := time.LoadLocation(zone); err == nil && zone != "" {
		t = t.In(loc)
	}
	return t.Format("2006-01-02 15:04")
}

// thousands writes n with thin separators people read at a glance: 1,234,567.
func thousands(n int64) string {
	s := fmt.Sprint(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	if neg {
		s = "-" + s
	}
	return s
}

func dollars(x float64) string { return fmt.Sprintf("$%.2f", x) }

// table lays out rows in aligned columns; columns from numericFrom on are
// right-aligned. A row's paint colours the whole row on a terminal.
type table struct {
	numericFrom int
	rows        [][]string
	paint       []func(string) string
}

func (t *table) add(paint func(string) string, cells ...string) {
	t.rows = append(t.rows, cells)
	t.paint = append(t.paint, paint)
}

func (t *table) write(w io.Writer) error {
	width := map[int]int{}
	for _, r := range t.rows {
		for i, c := range r {
			width[i] = max(width[i], len([]rune(c)))
		}
	}
	for n, r := range t.rows {
		var line strings.Builder
		for i, c := range r {
			if i > 0 {
				line.WriteString("  ")
			}
			gap := strings.Repeat(" ", width[i]-len([]rune(c)))
			if i >= t.numericFrom {
				line.WriteString(gap + c)
			} else if i < len(r)-1 {
				line.WriteString(c + gap)
			} else {
				line.WriteString(c)
			}
		}
		text := line.String()
		if p := t.paint[n]; p != nil {
			text = p(text)
		}
		if _, err := fmt.Fprintln(w, text); err != nil {
			return err
		}
	}
	return nil
}
