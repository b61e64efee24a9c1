package ledger

import (
	"context"
	"testing"
	"time"

	"github.com/anthropics/cco/internal/testhost"
)

// Run leaves its watcher watching nothing once its context ends, and Close
// closes it (see retire): the daemon's stop depends on both.
func TestRunRetiresItsWatcher(t *testing.T) {
	before := testhost.InotifyFDs(t)
	tr := newTree(t)
	tr.write("p/s.jsonl", line("s", "m1", "r1", false, ts, 1, 1))
	l, err := Open(context.Background(), "sqlite://analytics.db", t.TempDir(), Options{Roots: []string{tr.root}, RescanEvery: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- l.Run(ctx) }()
	testhost.Eventually(t, "the first sync", func() bool { return l.State().Calls == 1 })
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	l.retiredMu.Lock()
	retired := l.retired
	l.retiredMu.Unlock()
	if len(retired) != 1 {
		t.Fatalf("Run left %d watchers for Close, want 1", len(retired))
	}
	if left := retired[0].WatchList(); len(left) != 0 {
		t.Errorf("Run's watcher still watches %v once Run returned", left)
	}
	if n := testhost.InotifyFDs(t) - before; n != 1 {
		t.Errorf("%d inotify instances open between Run and Close, want 1", n)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if n := testhost.InotifyFDs(t) - before; n != 0 {
		t.Errorf("Close left %d inotify instances open", n)
	}
}
