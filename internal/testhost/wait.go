package testhost

import "time"

// Fataler is what a test, a benchmark or a testscript script can be told
// to fail with.
type Fataler interface {
	Fatalf(format string, args ...any)
}

// EventuallyWithin is how long Eventually waits: long enough for a loaded
// CI machine, short enough that a broken test ends.
const EventuallyWithin = 10 * time.Second

// Eventually waits until cond holds, checking every few milliseconds, and
// fails t, naming what it waited for, after EventuallyWithin. Tests wait
// for a state with it instead of sleeping for a fixed time.
func Eventually(t Fataler, what string, cond func() bool) {
	if h, ok := t.(interface{ Helper() }); ok {
		h.Helper()
	}
	for deadline := time.Now().Add(EventuallyWithin); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", EventuallyWithin, what)
		}
	}
}
