package ledger

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/anthropics/cco/ledger/price"
	"github.com/anthropics/cco/ledger/store"
)

// Query selects what a report covers.
type Query struct {
	Since, Until string         // "" or YYYYMMDD or YYYY-MM-DD, inclusive, local dates in Location
	Location     *time.Location // nil = UTC
	Project      string         // "" = all; the raw project directory name
}

// Fields of every JSON object below are in alphabetical order, as ccusage
// writes them.

// ModelBreakdown is one model's share of a row.
type ModelBreakdown struct {
	CacheCreationTokens int64   `json:"cacheCreationTokens"`
	CacheReadTokens     int64   `json:"cacheReadTokens"`
	Cost                float64 `json:"cost"`
	InputTokens         int64   `json:"inputTokens"`
	MissingPricing      bool    `json:"missingPricing,omitempty"` // the model has no price: cost 0
	ModelName           string  `json:"modelName"`
	OutputTokens        int64   `json:"outputTokens"`
}

// Totals sums a report's rows.
type Totals struct {
	CacheCreationTokens int64    `json:"cacheCreationTokens"`
	CacheReadTokens     int64    `json:"cacheReadTokens"`
	InputTokens         int64    `json:"inputTokens"`
	OutputTokens        int64    `json:"outputTokens"`
	TotalCost           float64  `json:"totalCost"`
	TotalTokens         int64    `json:"totalTokens"`
	UnpricedModels      []string `json:"unpricedModels,omitempty"`
}

// DailyRow is one local day.
type DailyRow struct {
	CacheCreationTokens int64            `json:"cacheCreationTokens"`
	CacheReadTokens     int64            `json:"cacheReadTokens"`
	Date                string           `json:"date"`
	InputTokens         int64            `json:"inputTokens"`
	ModelBreakdowns     []ModelBreakdown `json:"modelBreakdowns"`
	ModelsUsed          []string         `json:"modelsUsed"`
	OutputTokens        int64            `json:"outputTokens"`
	Project             string           `json:"project,omitempty"` // the project asked for, as ccusage --project shows it
	TotalCost           float64          `json:"totalCost"`
	TotalTokens         int64            `json:"totalTokens"`
}

// DailyReport is `ccusage claude daily --json`.
type DailyReport struct {
	Daily  []DailyRow `json:"daily"`
	Totals Totals     `json:"totals"`
}

// MonthlyRow is one local month.
type MonthlyRow struct {
	CacheCreationTokens int64            `json:"cacheCreationTokens"`
	CacheReadTokens     int64            `json:"cacheReadTokens"`
	InputTokens         int64            `json:"inputTokens"`
	ModelBreakdowns     []ModelBreakdown `json:"modelBreakdowns"`
	ModelsUsed          []string         `json:"modelsUsed"`
	Month               string           `json:"month"`
	OutputTokens        int64            `json:"outputTokens"`
	Project             string           `json:"project,omitempty"` // the project asked for
	TotalCost           float64          `json:"totalCost"`
	TotalTokens         int64            `json:"totalTokens"`
}

// MonthlyReport is `ccusage claude monthly --json`.
type MonthlyReport struct {
	Monthly []MonthlyRow `json:"monthly"`
	Totals  Totals       `json:"totals"`
}

// SessionRow is one session.
type SessionRow struct {
	CacheCreationTokens int64            `json:"cacheCreationTokens"`
	CacheReadTokens     int64            `json:"cacheReadTokens"`
	FirstActivity       string           `json:"firstActivity"`
	InputTokens         int64            `json:"inputTokens"`
	LastActivity        string           `json:"lastActivity"`
	ModelBreakdowns     []ModelBreakdown `json:"modelBreakdowns"`
	ModelsUsed          []string         `json:"modelsUsed"`
	OutputTokens        int64            `json:"outputTokens"`
	ProjectPath         string           `json:"projectPath"`
	SessionID           string           `json:"sessionId"`
	TotalCost           float64          `json:"totalCost"`
	TotalTokens         int64            `json:"totalTokens"`
}

// SessionReport is `ccusage claude session --json`.
type SessionReport struct {
	Sessions []SessionRow `json:"sessions"`
	Totals   Totals       `json:"totals"`
}

// noModel says whether a model name stands for no model: its calls count
// tokens, cost nothing and appear in no model list (as ccusage does).
func noModel(name string) bool { return name == "" || name == "<synthetic>" }

// parseDate reads YYYYMMDD or YYYY-MM-DD.
func parseDate(s string) (time.Time, error) {
	for _, layout := range []string{"20060102", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("date %q is not YYYYMMDD or YYYY-MM-DD", s)
}

// days turns a query's local dates into the days (since 1970-01-01) it
// covers, [from, to).
func (q Query) days() (loc *time.Location, from, to int64, err error) {
	loc = q.Location
	if loc == nil {
		loc = time.UTC
	}
	from, to = math.MinInt64, math.MaxInt64
	if q.Since != "" {
		d, err := parseDate(q.Since)
		if err != nil {
			return nil, 0, 0, fmt.Errorf("since: %w", err)
		}
		from = civilDay(d.Date())
	}
	if q.Until != "" {
		d, err := parseDate(q.Until)
		if err != nil {
			return nil, 0, 0, fmt.Errorf("until: %w", err)
		}
		to = civilDay(d.Date()) + 1
	}
	return loc, from, to, nil
}

// civilDay numbers a calendar date: days since 1970-01-01.
func civilDay(y int, m time.Month, d int) int64 {
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Unix() / 86400
}

// dayOf is the local day of a time (Unix microseconds) in loc.
func dayOf(ts int64, loc *time.Location) int64 {
	return civilDay(time.UnixMicro(ts).In(loc).Date())
}

// daysSpan is the calls that local days [from, to) may hold, in any zone:
// their UTC days and one more on each side, since no zone is a day or more
// from UTC. Days past the ends of int64 microseconds leave that side open.
func daysSpan(from, to int64) store.Span {
	const dayUS = int64(86400 * 1e6)
	const maxDay = math.MaxInt64 / dayUS
	sp := store.Always
	if from-1 > -maxDay && from-1 < maxDay {
		sp.From = (from - 1) * dayUS
	}
	if to+1 > -maxDay && to+1 < maxDay {
		sp.To = (to + 1) * dayUS
	}
	return sp
}

func dayString(day int64) string {
	return time.Unix(day*86400, 0).UTC().Format("2006-01-02")
}

// group accumulates the calls of one report row.
type group struct {
	tok    price.Tokens // every call's tokens, <synthetic> included
	models map[string]*modelSum
}

type modelSum struct {
	label   string
	tok     price.Tokens
	cost    float64
	first   pos // first-seen position (ccusage lists models in this order)
	missing bool
}

func newGroup() *group { return &group{models: map[string]*modelSum{}} }

// pos is a first-seen position: a key from the store (path and offset), or
// a file's path and an offset (when adding up calls), or a rank alone (a
// month's models). One report uses one kind.
type pos struct {
	key       []byte
	path      string
	rank, off int64
	set       bool
}

func (a pos) less(b pos) bool {
	if !b.set {
		return a.set
	}
	if !a.set {
		return false
	}
	if a.key != nil || b.key != nil {
		return bytes.Compare(a.key, b.key) < 0
	}
	return cmp.Or(strings.Compare(a.path, b.path), cmp.Compare(a.rank, b.rank), cmp.Compare(a.off, b.off)) < 0
}

func (a pos) compare(b pos) int {
	switch {
	case a.less(b):
		return -1
	case b.less(a):
		return 1
	}
	return 0
}

// price looks a model up once per ledger.
func (l *Ledger) price(name string) (price.Price, bool) {
	if v, ok := l.priceCache.Load(name); ok {
		p := v.(*price.Price)
		return *p, p.Key != ""
	}
	p, ok := l.prices.Lookup(name)
	if !ok {
		p = price.Price{}
	}
	l.priceCache.Store(name, &p)
	return p, ok
}

// add counts tokens (with their per-call excess above) of model m, first
// seen at first.
func (l *Ledger) add(g *group, m store.Model, tok, above price.Tokens, fixed float64, first pos) {
	g.tok.Input += tok.Input
	g.tok.Output += tok.Output
	g.tok.Cache5m += tok.Cache5m
	g.tok.Cache1h += tok.Cache1h
	g.tok.CacheRead += tok.CacheRead
	if noModel(m.Name) {
		return
	}
	label := m.Label()
	s := g.models[label]
	if s == nil {
		s = &modelSum{label: label, first: first}
		g.models[label] = s
	}
	if first.less(s.first) {
		s.first = first
	}
	s.tok.Input += tok.Input
	s.tok.Output += tok.Output
	s.tok.Cache5m += tok.Cache5m
	s.tok.Cache1h += tok.Cache1h
	s.tok.CacheRead += tok.CacheRead
	if m.Fixed {
		s.cost += fixed
		return
	}
	p, ok := l.price(m.Name)
	if !ok {
		s.missing = true
		return
	}
	s.cost += p.CostSplit(tok, above, m.Fast)
}

// merge adds a day's group to g; models new to g are ranked after those
// it has, in the day's order.
func (g *group) merge(day *group, rank *uint64) {
	addTokens(&g.tok, day.tok, 1)
	for _, d := range day.sorted() {
		s := g.models[d.label]
		if s == nil {
			*rank++
			s = &modelSum{label: d.label, first: pos{rank: int64(*rank), set: true}}
			g.models[d.label] = s
		}
		addTokens(&s.tok, d.tok, 1)
		s.cost += d.cost
		s.missing = s.missing || d.missing
	}
}

// sorted returns the models in the order they were first seen.
func (g *group) sorted() []*modelSum {
	sums := make([]*modelSum, 0, len(g.models))
	for _, s := range g.models {
		sums = append(sums, s)
	}
	slices.SortFunc(sums, func(a, b *modelSum) int {
		return cmp.Or(a.first.compare(b.first), cmp.Compare(a.label, b.label))
	})
	return sums
}

// row is what every report row shares.
type row struct {
	cc, cr, in, out, total int64
	cost                   float64
	models                 []string
	breakdowns             []ModelBreakdown
}

func (g *group) row(unpriced map[string]bool) row {
	r := row{
		in: g.tok.Input, out: g.tok.Output, cc: g.tok.Cache5m + g.tok.Cache1h, cr: g.tok.CacheRead,
		models: []string{}, breakdowns: []ModelBreakdown{},
	}
	r.total = r.in + r.out + r.cc + r.cr
	for _, s := range g.sorted() {
		r.models = append(r.models, s.label)
		r.cost += s.cost
		if s.missing {
			unpriced[s.label] = true
		}
		r.breakdowns = append(r.breakdowns, ModelBreakdown{
			CacheCreationTokens: s.tok.Cache5m + s.tok.Cache1h, CacheReadTokens: s.tok.CacheRead, Cost: s.cost,
			InputTokens: s.tok.Input, MissingPricing: s.missing, ModelName: s.label, OutputTokens: s.tok.Output,
		})
	}
	slices.SortStableFunc(r.breakdowns, func(a, b ModelBreakdown) int {
		return cmp.Or(cmp.Compare(b.Cost, a.Cost), cmp.Compare(a.ModelName, b.ModelName))
	})
	return r
}

func (t *Totals) add(r row) {
	t.CacheCreationTokens += r.cc
	t.CacheReadTokens += r.cr
	t.InputTokens += r.in
	t.OutputTokens += r.out
	t.TotalCost += r.cost
	t.TotalTokens += r.total
}

func unpricedList(m map[string]bool) []string {
	if len(m) == 0 {
		return nil
	}
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// periods groups the usage q selects by local date (YYYY-MM-DD), in date
// order.
func (l *Ledger) periods(ctx context.Context, q Query) ([]string, map[string]*group, error) {
	groups := map[string]*group{}
	var keys []string
	err := l.eachDay(ctx, q, func(day int64, m store.Model, tok, above price.Tokens, cost float64, _ int64, first pos) {
		k := dayString(day)
		g := groups[k]
		if g == nil {
			g = newGroup()
			groups[k] = g
			keys = append(keys, k)
		}
		l.add(g, m, tok, above, cost, first)
	})
	if err != nil {
		return nil, nil, err
	}
	slices.Sort(keys)
	return keys, groups, nil
}

// eachDay calls fn with the usage q selects, per local day and model: from
// the days the store keeps for the zone (calls counts them), else (a zone
// not kept, read-only) from the calls themselves, one by one (calls 1).
func (l *Ledger) eachDay(ctx context.Context, q Query, fn func(day int64, m store.Model, tok, above price.Tokens, cost float64, calls int64, first pos)) error {
	loc, from, to, err := q.days()
	if err != nil || from >= to {
		return err
	}
	name := zoneName(loc)
	if name != "" && !l.isKept(name) && !l.readOnly {
		l.ingestMu.Lock()
		if len(l.zones) < maxZones {
			err = l.keep(ctx, zone{name, loc})
		}
		l.ingestMu.Unlock()
		if err != nil {
			return err
		}
	}
	if name != "" && l.isKept(name) {
		days, err := l.st.Days(ctx, name, from, to, q.Project)
		if err != nil {
			return err
		}
		for i := range days {
			d := &days[i]
			fn(d.Day, d.Model, d.Tokens, d.Above, d.Cost, d.Calls, pos{key: d.First, set: d.First != nil})
		}
		return nil
	}
	position := l.positions(ctx)
	return l.st.Calls(ctx, daysSpan(from, to), func(_ store.Loc, c *store.Call) error {
		if q.Project != "" && c.Project != q.Project {
			return nil
		}
		if day := dayOf(c.TS, loc); day >= from && day < to {
			first, err := position(c.OrderFile, c.OrderOff)
			if err != nil {
				return err
			}
			fn(day, c.Model, c.Tokens, c.Tokens.Above(), c.Cost, 1, first)
		}
		return nil
	})
}

// positions returns a function giving a call's first-seen position: its
// file's path, then its place in the file.
func (l *Ledger) positions(ctx context.Context) func(file, off int64) (pos, error) {
	var last int64 = -1
	var path string
	return func(file, off int64) (pos, error) {
		if file != last {
			p, err := l.fileName(ctx, file)
			if err != nil {
				return pos{}, err
			}
			last, path = file, p
		}
		return pos{path: path, off: off, set: true}, nil
	}
}

// fileName returns the path of a stored file. A file's id names one path
// for good, so the names are read from the store once, and again only
// for a file new since.
func (l *Ledger) fileName(ctx context.Context, id int64) (string, error) {
	l.namesMu.Lock()
	defer l.namesMu.Unlock()
	if p, ok := l.names[id]; ok {
		return p, nil
	}
	files, err := l.st.Files(ctx)
	if err != nil {
		return "", err
	}
	if l.names == nil {
		l.names = make(map[int64]string, len(files))
	}
	for _, f := range files {
		l.names[f.ID] = f.Path
	}
	if p, ok := l.names[id]; ok {
		return p, nil
	}
	return "", fmt.Errorf("the ledger holds a call from file %d, which it does not list (the database is damaged)", id)
}

// Daily reports usage per local day.
func (l *Ledger) Daily(ctx context.Context, q Query) (*DailyReport, error) {
	keys, groups, err := l.periods(ctx, q)
	if err != nil {
		return nil, err
	}
	rep := &DailyReport{Daily: []DailyRow{}}
	unpriced := map[string]bool{}
	for _, k := range keys {
		r := groups[k].row(unpriced)
		rep.Daily = append(rep.Daily, DailyRow{
			CacheCreationTokens: r.cc, CacheReadTokens: r.cr, Date: k, InputTokens: r.in,
			ModelBreakdowns: r.breakdowns, ModelsUsed: r.models, OutputTokens: r.out, Project: q.Project, TotalCost: r.cost, TotalTokens: r.total,
		})
		rep.Totals.add(r)
	}
	rep.Totals.UnpricedModels = unpricedList(unpriced)
	return rep, nil
}

// Monthly reports usage per local month.
func (l *Ledger) Monthly(ctx context.Context, q Query) (*MonthlyReport, error) {
	days, daily, err := l.periods(ctx, q)
	if err != nil {
		return nil, err
	}
	// A month is the sum of its days, its models listed in the order the
	// days list them (as ccusage builds it).
	var keys []string
	groups := map[string]*group{}
	var rank uint64
	for _, d := range days {
		k := d[:7]
		g := groups[k]
		if g == nil {
			g = newGroup()
			groups[k] = g
			keys = append(keys, k)
		}
		g.merge(daily[d], &rank)
	}
	rep := &MonthlyReport{Monthly: []MonthlyRow{}}
	unpriced := map[string]bool{}
	for _, k := range keys {
		r := groups[k].row(unpriced)
		rep.Monthly = append(rep.Monthly, MonthlyRow{
			CacheCreationTokens: r.cc, CacheReadTokens: r.cr, InputTokens: r.in, ModelBreakdowns: r.breakdowns,
			ModelsUsed: r.models, Month: k, OutputTokens: r.out, Project: q.Project, TotalCost: r.cost, TotalTokens: r.total,
		})
		rep.Totals.add(r)
	}
	rep.Totals.UnpricedModels = unpricedList(unpriced)
	return rep, nil
}

// Sessions reports usage per session (the sessionId field) and project,
// costliest first; sessions whose four token counts are all 0 are left
// out, as ccusage does. Since and until select calls by their local date.
func (l *Ledger) Sessions(ctx context.Context, q Query) (*SessionReport, error) {
	loc, from, to, err := q.days()
	if err != nil {
		return nil, err
	}
	rep := &SessionReport{Sessions: []SessionRow{}}
	if from >= to {
		return rep, nil
	}
	position := l.positions(ctx)
	type key struct{ session, project string }
	type sess struct {
		g           *group
		first, last int64
	}
	byKey := map[key]*sess{}
	var order []key
	if err := l.st.Calls(ctx, daysSpan(from, to), func(_ store.Loc, c *store.Call) error {
		if q.Project != "" && c.Project != q.Project {
			return nil
		}
		if day := dayOf(c.TS, loc); day < from || day >= to {
			return nil
		}
		k := key{c.Session, c.Project}
		s := byKey[k]
		if s == nil {
			s = &sess{g: newGroup(), first: c.TS, last: c.TS}
			byKey[k] = s
			order = append(order, k)
		}
		first, err := position(c.OrderFile, c.OrderOff)
		if err != nil {
			return err
		}
		s.first, s.last = min(s.first, c.TS), max(s.last, c.TS)
		l.add(s.g, c.Model, c.Tokens, c.Tokens.Above(), c.Cost, first)
		return nil
	}); err != nil {
		return nil, err
	}
	unpriced := map[string]bool{}
	for _, k := range order {
		s := byKey[k]
		if t := s.g.tok; t.Input+t.Output+t.Cache5m+t.Cache1h+t.CacheRead == 0 {
			continue
		}
		r := s.g.row(unpriced)
		rep.Sessions = append(rep.Sessions, SessionRow{
			CacheCreationTokens: r.cc, CacheReadTokens: r.cr, FirstActivity: stamp(s.first), InputTokens: r.in,
			LastActivity: stamp(s.last), ModelBreakdowns: r.breakdowns, ModelsUsed: r.models, OutputTokens: r.out,
			ProjectPath: k.project, SessionID: k.session, TotalCost: r.cost, TotalTokens: r.total,
		})
	}
	slices.SortFunc(rep.Sessions, func(a, b SessionRow) int {
		return cmp.Or(cmp.Compare(b.TotalCost, a.TotalCost), cmp.Compare(b.LastActivity, a.LastActivity),
			cmp.Compare(a.SessionID, b.SessionID), cmp.Compare(a.ProjectPath, b.ProjectPath))
	})
	for _, s := range rep.Sessions {
		rep.Totals.TotalCost += s.TotalCost
		rep.Totals.InputTokens += s.InputTokens
		rep.Totals.OutputTokens += s.OutputTokens
		rep.Totals.CacheCreationTokens += s.CacheCreationTokens
		rep.Totals.CacheReadTokens += s.CacheReadTokens
		rep.Totals.TotalTokens += s.TotalTokens
	}
	rep.Totals.UnpricedModels = unpricedList(unpriced)
	return rep, nil
}

// stamp formats a time as ccusage does: UTC, RFC 3339, milliseconds.
func stamp(us int64) string {
	return time.UnixMicro(us).UTC().Format("2006-01-02T15:04:05.000Z")
}

// Report is the report of kind "daily", "monthly" or "session": what
// Daily, Monthly and Sessions return, for callers that take the kind as a
// word (the HTTP API, the CLI).
func (l *Ledger) Report(ctx context.Context, kind string, q Query) (any, error) {
	switch kind {
	case "daily":
		return l.Daily(ctx, q)
	case "monthly":
		return l.Monthly(ctx, q)
	case "session":
		return l.Sessions(ctx, q)
	}
	return nil, fmt.Errorf("no %q report: daily, monthly or session", kind)
}
