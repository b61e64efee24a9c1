package supervisor

import "time"

// backoff is the restart policy's memory: the delay before the next
// restart and the failures within the crash-loop window.
type backoff struct {
	p        Policy
	delay    time.Duration
	failures []time.Time
}

// failed records a failure at now of a daemon that was healthy for
// healthy, and returns the delay before the restart, or gaveUp when the
// failures within the window make a crash loop. A daemon healthy for
// ResetAfter clears what came before: its failure is the first again.
func (b *backoff) failed(now time.Time, healthy time.Duration) (delay time.Duration, gaveUp bool) {
	if healthy >= b.p.ResetAfter {
		b.delay, b.failures = 0, nil
	}
	kept := b.failures[:0]
	for _, t := range b.failures {
		if now.Sub(t) < b.p.LoopWindow {
			kept = append(kept, t)
		}
	}
	b.failures = append(kept, now)
	if len(b.failures) >= b.p.LoopFailures {
		return 0, true
	}
	if b.delay == 0 {
		b.delay = b.p.FirstDelay
	} else {
		b.delay = min(2*b.delay, b.p.MaxDelay)
	}
	return b.delay, false
}
