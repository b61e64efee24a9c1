package supervisor

import (
	"testing"
	"time"
)

func TestBackoff(t *testing.T) {
	b := &backoff{p: DefaultPolicy}
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	// Four failures within a minute: 100, 200, 400, 800 ms; the fifth is
	// a crash loop.
	for i, want := range []time.Duration{100 * time.Millisecond, 200 * time.Millisecond, 400 * time.Millisecond, 800 * time.Millisecond} {
		got, gaveUp := b.failed(now.Add(time.Duration(i)*time.Second), time.Second)
		if gaveUp || got != want {
			t.Fatalf("failure %d: delay %v, gave up %v; want %v", i+1, got, gaveUp, want)
		}
	}
	if _, gaveUp := b.failed(now.Add(5*time.Second), time.Second); !gaveUp {
		t.Fatal("5 failures within a minute: want a crash loop")
	}
}

// Failures spread wider than the window are no crash loop, and the delay
// stops growing at MaxDelay.
func TestBackoffCapAndWindow(t *testing.T) {
	b := &backoff{p: DefaultPolicy}
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	var last time.Duration
	for i := range 20 {
		got, gaveUp := b.failed(now.Add(time.Duration(i)*20*time.Second), time.Second)
		if gaveUp {
			t.Fatalf("failure %d, 20 s apart: gave up; want no crash loop (at most 3 within a minute)", i+1)
		}
		last = got
	}
	if last != DefaultPolicy.MaxDelay {
		t.Errorf("after 20 failures the delay is %v, want the cap %v", last, DefaultPolicy.MaxDelay)
	}
}

// A daemon healthy for ResetAfter starts the count afresh: its failure is
// the first again.
func TestBackoffReset(t *testing.T) {
	b := &backoff{p: DefaultPolicy}
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	for i := range 4 {
		b.failed(now.Add(time.Duration(i)*time.Second), time.Second)
	}
	got, gaveUp := b.failed(now.Add(50*time.Second), DefaultPolicy.ResetAfter)
	if gaveUp || got != DefaultPolicy.FirstDelay {
		t.Errorf("after %v of health: delay %v, gave up %v; want %v", DefaultPolicy.ResetAfter, got, gaveUp, DefaultPolicy.FirstDelay)
	}
}
