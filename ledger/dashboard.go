package ledger

import (
	"context"
	"time"

	"github.com/anthropics/cco/ledger/price"
	"github.com/anthropics/cco/ledger/store"
)

// DayExtra is what a dashboard shows of a local day beyond the daily
// report: how many calls, and what prompt caching saved.
type DayExtra struct {
	Calls int64 `json:"calls"`
	// CacheReadAsInput is what the day's cache reads would have cost at
	// their model's input rate; CacheReadCost is what they cost. Both count
	// priced models only (a costUSD line is priced from the table here).
	CacheReadAsInput float64 `json:"cacheReadAsInput"`
	CacheReadCost    float64 `json:"cacheReadCost"`
}

// DailyExtras returns a DayExtra per local day of q (YYYY-MM-DD), for the
// days that have calls.
func (l *Ledger) DailyExtras(ctx context.Context, q Query) (map[string]DayExtra, error) {
	loc, from, to, err := q.span()
	if err != nil {
		return nil, err
	}
	out := map[string]DayExtra{}
	if from >= to {
		return out, nil
	}
	const bucketUS = store.BucketSeconds * 1e6
	buckets, err := l.st.Buckets(ctx, floorDiv(from, bucketUS), floorDiv(to+bucketUS-1, bucketUS), q.Project)
	if err != nil {
		return nil, err
	}
	var lastB int64 = -1 << 62
	var day string
	for i := range buckets {
		b := &buckets[i]
		start := b.Bucket * bucketUS
		if start < from || start >= to {
			continue
		}
		if b.Bucket != lastB {
			lastB, day = b.Bucket, time.UnixMicro(start).In(loc).Format("2006-01-02")
		}
		e := out[day]
		e.Calls += b.Calls
		if p, ok := l.prices.Lookup(b.Model.Name); ok && !noModel(b.Model.Name) {
			cr, above := b.Tokens.CacheRead, b.Above.CacheRead
			e.CacheReadAsInput += p.CostSplit(price.Tokens{Input: cr}, price.Tokens{Input: above}, b.Model.Fast)
			e.CacheReadCost += p.CostSplit(price.Tokens{CacheRead: cr}, price.Tokens{CacheRead: above}, b.Model.Fast)
		}
		out[day] = e
	}
	return out, nil
}
