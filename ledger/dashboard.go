package ledger

import (
	"context"

	"github.com/anthropics/cco/ledger/price"
	"github.com/anthropics/cco/ledger/store"
)

// Span is a span's usage summed, as a dashboard shows it: cost, tokens by
// kind, calls, and what prompt caching saved.
type Span struct {
	Cost                                 float64
	Tokens                               int64
	Input, Output, CacheWrite, CacheRead int64
	Calls                                int64
	// CacheReadAsInput is what the cache reads would have cost at their
	// model's input rate; CacheReadCost is what they cost. Both count
	// priced models only (a costUSD line is priced from the table here).
	CacheReadAsInput, CacheReadCost float64
}

// Total sums the calls of q's days (in q.Location, of q.Project or all)
// without a row per day.
func (l *Ledger) Total(ctx context.Context, q Query) (Span, error) {
	g := newGroup()
	var s Span
	err := l.eachDay(ctx, q, func(_ int64, m store.Model, tok, above price.Tokens, cost float64, calls int64, first pos) {
		l.add(g, m, tok, above, cost, first)
		s.Calls += calls
		if p, ok := l.price(m.Name); ok && !noModel(m.Name) {
			cr, over := tok.CacheRead, above.CacheRead
			s.CacheReadAsInput += p.CostSplit(price.Tokens{Input: cr}, price.Tokens{Input: over}, m.Fast)
			s.CacheReadCost += p.CostSplit(price.Tokens{CacheRead: cr}, price.Tokens{CacheRead: over}, m.Fast)
		}
	})
	if err != nil {
		return Span{}, err
	}
	r := g.row(map[string]bool{})
	s.Cost, s.Tokens = r.cost, r.total
	s.Input, s.Output, s.CacheWrite, s.CacheRead = r.in, r.out, r.cc, r.cr
	return s, nil
}
