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

// Total sums the calls of q's days (in q.Location; q.Project is not
// supported) without a row per day: the store adds them up per model.
func (l *Ledger) Total(ctx context.Context, q Query) (Span, error) {
	_, from, to, err := q.span()
	if err != nil || from >= to {
		return Span{}, err
	}
	const bucketUS = store.BucketSeconds * 1e6
	rows, err := l.st.Totals(ctx, floorDiv(from, bucketUS), floorDiv(to+bucketUS-1, bucketUS))
	if err != nil {
		return Span{}, err
	}
	g := newGroup()
	var s Span
	for i := range rows {
		b := &rows[i]
		l.add(g, b.Model, b.Tokens, b.Above, b.Cost, b.FirstTS)
		s.Calls += b.Calls
		if p, ok := l.prices.Lookup(b.Model.Name); ok && !noModel(b.Model.Name) {
			cr, above := b.Tokens.CacheRead, b.Above.CacheRead
			s.CacheReadAsInput += p.CostSplit(price.Tokens{Input: cr}, price.Tokens{Input: above}, b.Model.Fast)
			s.CacheReadCost += p.CostSplit(price.Tokens{CacheRead: cr}, price.Tokens{CacheRead: above}, b.Model.Fast)
		}
	}
	r := g.row(map[string]bool{})
	s.Cost, s.Tokens = r.cost, r.total
	s.Input, s.Output, s.CacheWrite, s.CacheRead = r.in, r.out, r.cc, r.cr
	return s, nil
}
