package lifecycle

import "time"

// poll is watch without a way to be told: a wake every interval.
func poll(interval time.Duration) (<-chan struct{}, func()) {
	wake := make(chan struct{}, 1)
	done := make(chan struct{})
	go func() {
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				signal(wake)
			}
		}
	}()
	return wake, func() { close(done) }
}

// signal wakes the receiver of wake unless a wake is pending already.
func signal(wake chan<- struct{}) {
	select {
	case wake <- struct{}{}:
	default:
	}
}
