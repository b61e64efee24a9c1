package lifecycle

import "time"

// poll is watch without a way to be told: a wake every interval.
func poll(interval time.Duration) (<-chan struct{}, func()) {
	wake := make(chan struct{}, 1)
	done := make(chan struct{})
	go tick(wake, done, interval)
	return wake, func() { close(done) }
}

// tick wakes wake every interval until done is closed.
func tick(wake chan<- struct{}, done <-chan struct{}, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-done:
			return
		case <-t.C:
			signal(wake)
		}
	}
}

// signal wakes the receiver of wake unless a wake is pending already.
func signal(wake chan<- struct{}) {
	select {
	case wake <- struct{}{}:
	default:
	}
}
