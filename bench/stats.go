package main

import (
	"fmt"
	"sort"
	"time"
)

// stats summarises the timings of one measure: the median and the
// 10th and 90th percentiles, over n runs after warm-up.
type stats struct {
	n             int
	med, p10, p90 time.Duration
	err           error // why the measure has no figure
}

func (s stats) ok() bool { return s.err == nil && s.n > 0 }

// summarise returns the median and spread of d (nearest-rank percentiles).
func summarise(d []time.Duration) stats {
	if len(d) == 0 {
		return stats{err: fmt.Errorf("no samples")}
	}
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	pick := func(p float64) time.Duration {
		i := int(p*float64(len(s)-1) + 0.5)
		return s[i]
	}
	return stats{n: len(s), med: pick(0.5), p10: pick(0.1), p90: pick(0.9)}
}

// timeN runs f warm times untimed, then n times timed. after, if not nil,
// runs untimed after every run (to settle the system between runs).
func timeN(n, warm int, f func() error, after func() error) stats {
	var d []time.Duration
	for i := 0; i < warm+n; i++ {
		t0 := time.Now()
		err := f()
		el := time.Since(t0)
		if err != nil {
			return stats{err: err}
		}
		if after != nil {
			if err := after(); err != nil {
				return stats{err: err}
			}
		}
		if i >= warm {
			d = append(d, el)
		}
	}
	return summarise(d)
}

// ms formats a duration in milliseconds with a precision that suits it.
func ms(d time.Duration) string {
	f := float64(d) / float64(time.Millisecond)
	switch {
	case f < 10:
		return fmt.Sprintf("%.2f", f)
	case f < 100:
		return fmt.Sprintf("%.1f", f)
	default:
		return fmt.Sprintf("%.0f", f)
	}
}

// cell is a table cell: "median ms (p10–p90)".
func (s stats) cell() string {
	if !s.ok() {
		if s.err != nil {
			return "n/a"
		}
		return "–"
	}
	return fmt.Sprintf("%s ms (%s–%s)", ms(s.med), ms(s.p10), ms(s.p90))
}

// ratio is cco's median over a peer's, or "" when either is missing.
func ratio(a, b stats) (float64, bool) {
	if !a.ok() || !b.ok() || b.med == 0 {
		return 0, false
	}
	return float64(a.med) / float64(b.med), true
}
