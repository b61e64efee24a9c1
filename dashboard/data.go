package dashboard

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/anthropics/cco/ledger"
)

// topN is how many projects and sessions the page lists.
const topN = 10

// Glance is one period's cost, tokens and calls.
type Glance struct {
	Label  string  `json:"label"` // the day, the month, or "" for everything
	Cost   float64 `json:"cost"`
	Tokens int64   `json:"tokens"`
	Calls  int64   `json:"calls"`
}

// Kinds are tokens by kind.
type Kinds struct {
	Input      int64 `json:"input"`
	Output     int64 `json:"output"`
	CacheWrite int64 `json:"cacheWrite"`
	CacheRead  int64 `json:"cacheRead"`
}

// Savings is what prompt caching saved: the cache reads priced at their
// model's input rate (AsInput), less what they cost (Paid).
type Savings struct {
	CacheReadTokens int64   `json:"cacheReadTokens"`
	AsInput         float64 `json:"asInput"`
	Paid            float64 `json:"paid"`
	Saved           float64 `json:"saved"`
}

// Day is one day of the chosen range; Costs follow Range.Models.
type Day struct {
	Date  string    `json:"date"`
	Cost  float64   `json:"cost"`
	Costs []float64 `json:"costs"`
}

// Range is the chosen days.
type Range struct {
	Since   string   `json:"since"` // YYYY-MM-DD; the first day with usage when none was asked
	Until   string   `json:"until"`
	Models  []string `json:"models"` // costliest first
	Days    []Day    `json:"days"`
	Total   Glance   `json:"total"`
	Tokens  Kinds    `json:"tokens"`
	Savings Savings  `json:"savings"`
}

// Project is one project's share of the range.
type Project struct {
	Project  string  `json:"project"`
	Cost     float64 `json:"cost"`
	Tokens   int64   `json:"tokens"`
	Sessions int     `json:"sessions"`
}

// Session is one session of the range.
type Session struct {
	SessionID    string  `json:"sessionId"`
	Project      string  `json:"project"`
	Cost         float64 `json:"cost"`
	Tokens       int64   `json:"tokens"`
	LastActivity string  `json:"lastActivity"`
}

// Data is what /api/dashboard answers: everything the page shows.
type Data struct {
	Generation uint64       `json:"generation"`
	Timezone   string       `json:"timezone"`
	Today      Glance       `json:"today"`
	Month      Glance       `json:"month"`
	All        Glance       `json:"all"`
	Range      Range        `json:"range"`
	Projects   []Project    `json:"projects"`
	Sessions   []Session    `json:"sessions"`
	Unpriced   []string     `json:"unpriced"`
	State      ledger.State `json:"state"`
}

// cached is the last answer: pages ask again at every generation, and
// several open pages ask the same.
type cached struct {
	key  string
	gen  uint64
	body []byte
}

func (d *Dashboard) serveData(w http.ResponseWriter, r *http.Request) {
	v := r.URL.Query()
	tz := v.Get("timezone")
	if tz == "" {
		tz = "UTC"
	}
	loc, err := time.LoadLocation(tz)
	if err != nil || tz == "Local" {
		jsonError(w, http.StatusBadRequest, "timezone "+tz+" is not an IANA time zone name (e.g. Europe/Berlin, UTC)")
		return
	}
	since, until := v.Get("since"), v.Get("until")
	for _, s := range []string{since, until} {
		if _, err := parseDay(s); s != "" && err != nil {
			jsonError(w, http.StatusBadRequest, "since and until are dates: YYYY-MM-DD ("+s+" is not)")
			return
		}
	}
	l, err := d.o.Ledger(r.Context())
	if err != nil {
		jsonError(w, http.StatusServiceUnavailable, "usage reports are not available: "+err.Error())
		return
	}
	body, err := d.answer(r.Context(), l, loc, since, until)
	if err != nil {
		jsonError(w, http.StatusInternalServerError, err.Error())
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(body)
}

// answer is the encoded Data, from the cache while the ledger has not
// changed (and the day has not: the key holds today's date).
func (d *Dashboard) answer(ctx context.Context, l *ledger.Ledger, loc *time.Location, since, until string) ([]byte, error) {
	gen := l.State().Generation
	key := loc.String() + "\x00" + since + "\x00" + until + "\x00" + d.o.Now().In(loc).Format(time.DateOnly)
	d.mu.Lock()
	c := d.cache
	d.mu.Unlock()
	if c.key == key && c.gen == gen {
		return c.body, nil
	}
	data, err := d.builder.Build(ctx, l, loc, since, until, d.o.Now())
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := json.NewEncoder(&buf).Encode(data); err != nil {
		return nil, err
	}
	d.mu.Lock()
	d.cache = cached{key, gen, buf.Bytes()}
	d.mu.Unlock()
	return buf.Bytes(), nil
}

func parseDay(s string) (time.Time, error) { return time.Parse(time.DateOnly, s) }

// prefixTTL bounds how long the sums before the window are kept: a call
// replaced there by a larger copy leaves the count alone.
const prefixTTL = time.Minute

// Builder computes the page's data, keeping the sums of the days before
// the window that updates change (they rarely change themselves).
type Builder struct {
	mu       sync.Mutex
	prefix   prefix
	sessions keptSessions
}

type keptSessions struct {
	key   string // zone and days
	calls int64  // the days' calls when read
	rows  []Session
	at    time.Time
}

func sessionsOf(rep *ledger.SessionReport) []Session {
	out := make([]Session, len(rep.Sessions))
	for i, s := range rep.Sessions {
		out[i] = Session{s.SessionID, s.ProjectPath, s.TotalCost, s.TotalTokens, s.LastActivity}
	}
	return out
}

// sessionsBefore returns the sessions of q's days (all before today): the
// kept ones while the days hold as many calls as then (calls), for at most
// prefixTTL.
func (b *Builder) sessionsBefore(ctx context.Context, l *ledger.Ledger, q ledger.Query, calls int64) ([]Session, error) {
	key := q.Location.String() + "\x00" + q.Since + "\x00" + q.Until
	b.mu.Lock()
	k := b.sessions
	b.mu.Unlock()
	if k.key == key && k.calls == calls && time.Since(k.at) < prefixTTL {
		return k.rows, nil
	}
	rep, err := l.Sessions(ctx, q)
	if err != nil {
		return nil, err
	}
	b.mu.Lock()
	rows := sessionsOf(rep)
	b.sessions = keptSessions{key, calls, rows, time.Now()}
	b.mu.Unlock()
	return rows, nil
}

// mergeSessions adds up the rows of the same session and project, in the
// session report's order: costliest first.
func mergeSessions(a, b []Session) []Session {
	type key struct{ session, project string }
	at := map[key]int{}
	out := make([]Session, 0, len(a)+len(b))
	for _, rows := range [][]Session{a, b} {
		for _, r := range rows {
			k := key{r.SessionID, r.Project}
			i, ok := at[k]
			if !ok {
				at[k] = len(out)
				out = append(out, r)
				continue
			}
			m := &out[i]
			m.Cost += r.Cost
			m.Tokens += r.Tokens
			m.LastActivity = max(m.LastActivity, r.LastActivity)
		}
	}
	slices.SortFunc(out, func(a, b Session) int {
		return cmp.Or(cmp.Compare(b.Cost, a.Cost), cmp.Compare(b.LastActivity, a.LastActivity),
			cmp.Compare(a.SessionID, b.SessionID), cmp.Compare(a.Project, b.Project))
	})
	return out
}

type prefix struct {
	key  string // zone and the window's first day
	span ledger.Span
	at   time.Time
}

// before returns the sums of the days before window: the kept ones while
// their calls are as many as the ledger's outside the window (no call came
// or went there) and they are younger than prefixTTL.
func (b *Builder) before(ctx context.Context, l *ledger.Ledger, loc *time.Location, window string, calls int64) (ledger.Span, error) {
	key := loc.String() + "\x00" + window
	b.mu.Lock()
	p := b.prefix
	b.mu.Unlock()
	if p.key == key && p.span.Calls == calls && time.Since(p.at) < prefixTTL {
		return p.span, nil
	}
	w, _ := parseDay(window)
	span, err := l.Total(ctx, ledger.Query{Until: w.AddDate(0, 0, -1).Format(time.DateOnly), Location: loc})
	if err != nil {
		return span, err
	}
	b.mu.Lock()
	b.prefix = prefix{key, span, time.Now()}
	b.mu.Unlock()
	return span, nil
}

func plus(a, b ledger.Span) ledger.Span {
	return ledger.Span{
		Cost: a.Cost + b.Cost, Tokens: a.Tokens + b.Tokens, Calls: a.Calls + b.Calls,
		Input: a.Input + b.Input, Output: a.Output + b.Output, CacheWrite: a.CacheWrite + b.CacheWrite, CacheRead: a.CacheRead + b.CacheRead,
		CacheReadAsInput: a.CacheReadAsInput + b.CacheReadAsInput, CacheReadCost: a.CacheReadCost + b.CacheReadCost,
	}
}

// Build gathers what the page shows, days counted in loc: since and until
// (YYYY-MM-DD, "" for unbounded) choose the range of the chart, the token
// kinds, the savings and the top lists. Today, the month and everything
// are sums the store makes per model; only the range is read day by day.
func (b *Builder) Build(ctx context.Context, l *ledger.Ledger, loc *time.Location, since, until string, now time.Time) (*Data, error) {
	// The state first: its generation and calls are at most as new as the
	// data.
	out := &Data{State: l.State(), Timezone: loc.String(), Projects: []Project{}, Sessions: []Session{}}
	out.Generation = out.State.Generation
	today := now.In(loc).Format(time.DateOnly)
	m0, _ := parseDay(today[:7] + "-01")
	// The store's queries are independent: two at a time (its readers)
	// halve the wait on a machine with a core to spare.
	var wg sync.WaitGroup
	var errs [6]error
	var spans [4]ledger.Span
	var daily *ledger.DailyReport
	var sessions *ledger.SessionReport
	rangeQ := ledger.Query{Since: since, Until: until, Location: loc}
	// Everything is the days before the window (today, the month and the
	// range), kept from the last answer while valid, plus the window's own.
	window := ""
	if since != "" {
		window = min(since, today[:7]+"-01")
	}
	for i, q := range []ledger.Query{
		{Since: today, Until: today},
		{Since: today[:7] + "-01", Until: m0.AddDate(0, 1, -1).Format(time.DateOnly)},
		{Since: window},
		rangeQ,
	} {
		wg.Go(func() { q.Location = loc; spans[i], errs[i] = l.Total(ctx, q) })
	}
	wg.Go(func() { daily, errs[4] = l.Daily(ctx, rangeQ) })
	// The range's sessions: those of its days before today kept (as the
	// sums before the window are), today's read anew.
	todayT, _ := parseDay(today)
	split := since != "" && since < today && until == today
	sessQ := rangeQ
	if split {
		sessQ = ledger.Query{Since: today, Until: today, Location: loc}
	}
	wg.Go(func() { sessions, errs[5] = l.Sessions(ctx, sessQ) })
	wg.Wait()
	if err := errors.Join(errs[:]...); err != nil {
		return nil, err
	}
	rows := sessionsOf(sessions)
	if split {
		before, err := b.sessionsBefore(ctx, l, ledger.Query{Since: since, Until: todayT.AddDate(0, 0, -1).Format(time.DateOnly), Location: loc}, spans[3].Calls-spans[0].Calls)
		if err != nil {
			return nil, err
		}
		rows = mergeSessions(before, rows)
	}
	all := spans[2]
	if window != "" {
		before, err := b.before(ctx, l, loc, window, out.State.Calls-all.Calls)
		if err != nil {
			return nil, err
		}
		all = plus(before, all)
	}
	glance := func(s ledger.Span, label string) Glance {
		return Glance{Label: label, Cost: s.Cost, Tokens: s.Tokens, Calls: s.Calls}
	}
	out.Today, out.Month, out.All = glance(spans[0], today), glance(spans[1], today[:7]), glance(all, "")
	out.Unpriced = daily.Totals.UnpricedModels
	if since == "" && len(daily.Daily) > 0 {
		since = daily.Daily[0].Date
	}
	if since == "" {
		since = today
	}
	if until == "" {
		until = max(today, since)
	}
	rg := &out.Range
	rg.Since, rg.Until = since, until
	span := spans[3]
	rg.Total = glance(span, "")
	rg.Tokens = Kinds{span.Input, span.Output, span.CacheWrite, span.CacheRead}
	rg.Savings = Savings{span.CacheRead, span.CacheReadAsInput, span.CacheReadCost, span.CacheReadAsInput - span.CacheReadCost}
	modelCost := map[string]float64{}
	byDate := map[string]*ledger.DailyRow{}
	for i := range daily.Daily {
		row := &daily.Daily[i]
		byDate[row.Date] = row
		for _, b := range row.ModelBreakdowns {
			modelCost[b.ModelName] += b.Cost
		}
	}
	rg.Models = make([]string, 0, len(modelCost))
	for m := range modelCost {
		rg.Models = append(rg.Models, m)
	}
	slices.SortFunc(rg.Models, func(a, b string) int {
		return cmp.Or(cmp.Compare(modelCost[b], modelCost[a]), cmp.Compare(a, b))
	})
	col := map[string]int{}
	for i, m := range rg.Models {
		col[m] = i
	}
	// Every day of the range from its first with usage, so that the chart's
	// gaps are days without use.
	first, _ := parseDay(since)
	if len(daily.Daily) > 0 {
		if d0, _ := parseDay(daily.Daily[0].Date); d0.After(first) {
			first = d0
		}
	}
	last, _ := parseDay(until)
	rg.Days = []Day{}
	for t := first; !t.After(last); t = t.AddDate(0, 0, 1) {
		date := t.Format(time.DateOnly)
		day := Day{Date: date, Costs: make([]float64, len(rg.Models))}
		if row := byDate[date]; row != nil {
			day.Cost = row.TotalCost
			for _, b := range row.ModelBreakdowns {
				day.Costs[col[b.ModelName]] = b.Cost
			}
		}
		rg.Days = append(rg.Days, day)
	}
	projects := map[string]*Project{}
	for _, s := range rows {
		if len(out.Sessions) < topN {
			out.Sessions = append(out.Sessions, s)
		}
		p := projects[s.Project]
		if p == nil {
			p = &Project{Project: s.Project}
			projects[s.Project] = p
		}
		p.Cost += s.Cost
		p.Tokens += s.Tokens
		p.Sessions++
	}
	for _, p := range projects {
		out.Projects = append(out.Projects, *p)
	}
	slices.SortFunc(out.Projects, func(a, b Project) int {
		return cmp.Or(cmp.Compare(b.Cost, a.Cost), cmp.Compare(a.Project, b.Project))
	})
	out.Projects = out.Projects[:min(len(out.Projects), topN)]
	return out, nil
}
