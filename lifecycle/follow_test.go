package lifecycle

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/anthropics/cco/daemon"
	"github.com/anthropics/cco/internal/testhost"
)

// gatedBuffer collects what Follow writes. While the gate is held, Follow's
// writes wait: the test holds it while it logs a batch, so that the log
// rotates many times between two reads of the follower.
type gatedBuffer struct {
	gate sync.Mutex
	syncBuffer
}

func (g *gatedBuffer) Write(p []byte) (int, error) {
	g.gate.Lock()
	defer g.gate.Unlock()
	return g.syncBuffer.Write(p)
}

// followLines follows path from its end while log writes lines seq=0 … n-1
// through the daemon's own log writer, in batches during which the follower
// cannot write out (so dozens of rotations fall between two of its reads),
// and checks that every line arrived exactly once, in order.
func followLines(t *testing.T, n, batch int, rotateAt int64, interval time.Duration) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "daemon.log")
	log, err := daemon.OpenLog(path, rotateAt, 1000, false)
	if err != nil {
		t.Fatal(err)
	}
	defer log.Close()
	fmt.Fprintln(log, "before the follower started")
	end, err := Tail(&bytes.Buffer{}, path, 0)
	if err != nil {
		t.Fatal(err)
	}
	var out gatedBuffer
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Follow(ctx, &out, path, end, interval) }()
	last := fmt.Sprintf("seq=%d ", n-1)
	for i := 0; i < n; {
		out.gate.Lock()
		for stop := min(i+batch, n); i < stop; i++ {
			if _, err := fmt.Fprintf(log, "seq=%d padding=%s\n", i, "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"); err != nil {
				t.Fatal(err)
			}
		}
		out.gate.Unlock()
	}
	testhost.Eventually(t, "the last line to be followed", func() bool { return strings.Contains(out.String(), last) })
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	checkSequence(t, out.String(), n)
}

// checkSequence checks that got is the lines seq=0 … n-1, each once, in
// order, and reports the first few that are not.
func checkSequence(t *testing.T, got string, n int) {
	t.Helper()
	lines := strings.Split(strings.TrimSuffix(got, "\n"), "\n")
	seen := make([]int, n)
	var problems []string
	next := 0
	for _, l := range lines {
		f, _, _ := strings.Cut(strings.TrimPrefix(l, "seq="), " ")
		i, err := strconv.Atoi(f)
		if err != nil || i < 0 || i >= n || !strings.HasPrefix(l, "seq=") {
			problems = append(problems, fmt.Sprintf("foreign or torn line %q", l))
			continue
		}
		if seen[i]++; seen[i] == 1 && i != next {
			problems = append(problems, fmt.Sprintf("seq=%d came after seq=%d", i, next-1))
		}
		next = i + 1
	}
	missing, twice := 0, 0
	for i, c := range seen {
		switch {
		case c == 0:
			if missing++; missing <= 3 {
				problems = append(problems, fmt.Sprintf("seq=%d missing", i))
			}
		case c > 1:
			if twice++; twice <= 3 {
				problems = append(problems, fmt.Sprintf("seq=%d printed %d times", i, c))
			}
		}
	}
	if len(problems) > 0 {
		if len(problems) > 10 {
			problems = problems[:10]
		}
		t.Errorf("of %d lines, %d missing and %d printed more than once:\n%s", n, missing, twice, strings.Join(problems, "\n"))
	}
}

// TestFollowFastWriter: 100,000 lines from the daemon's log writer, which
// rotates it hundreds of times, dozens of them between two reads of the
// follower; every line comes out once, in order.
func TestFollowFastWriter(t *testing.T) {
	followLines(t, 100_000, 4_000, 8<<10, 2*time.Millisecond)
}

// TestFollowFastWriterRepeated is the same race in small, many times over.
func TestFollowFastWriterRepeated(t *testing.T) {
	rounds := 200
	if testing.Short() {
		rounds = 20
	}
	for r := range rounds {
		t.Run(strconv.Itoa(r), func(t *testing.T) {
			followLines(t, 2_000, 300, 2<<10, time.Millisecond)
		})
	}
}

// followFrom starts Follow at the end of path and returns what it wrote
// and a function that stops it.
func followFrom(t *testing.T, path string) (*syncBuffer, func()) {
	t.Helper()
	end, err := Tail(&bytes.Buffer{}, path, 0)
	if err != nil {
		t.Fatal(err)
	}
	out := &syncBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Follow(ctx, out, path, end, 2*time.Millisecond) }()
	return out, func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
}

// TestFollowExternalRotation: logrotate moves daemon.log aside, creates a
// new one, and the daemon keeps writing the old file until SIGHUP makes it
// reopen. Lines written to the moved file meanwhile come out; the rotated
// files that were there before are not replayed.
func TestFollowExternalRotation(t *testing.T) {
	path := filepath.Join(t.TempDir(), "daemon.log")
	log, err := daemon.OpenLog(path, 1<<10, 100, false)
	if err != nil {
		t.Fatal(err)
	}
	defer log.Close()
	for i := range 100 { // a few rotations before anyone follows
		fmt.Fprintf(log, "old=%d padding=xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n", i)
	}
	out, stop := followFrom(t, path)
	has := func(s string) func() bool { return func() bool { return strings.Contains(out.String(), s) } }
	fmt.Fprintln(log, "one")
	testhost.Eventually(t, "one", has("one\n"))
	if err := os.Rename(path, path+"-20261125"); err != nil {
		t.Fatal(err)
	}
	fmt.Fprintln(log, "two") // still into the moved file
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	fmt.Fprintln(log, "three") // the new file exists, the daemon has not reopened yet
	testhost.Eventually(t, "three", has("three\n"))
	if err := log.Reopen(); err != nil { // SIGHUP
		t.Fatal(err)
	}
	fmt.Fprintln(log, "four")
	testhost.Eventually(t, "four", has("four\n"))
	stop()
	if got, want := out.String(), "one\ntwo\nthree\nfour\n"; got != want {
		t.Errorf("followed %.400q, want %q", got, want)
	}
}

// TestFollowRecreated: daemon.log removed and made anew (the daemon does so
// when it finds it gone): the follower reads the new file from its start and
// replays none of the rotated files.
func TestFollowRecreated(t *testing.T) {
	path := filepath.Join(t.TempDir(), "daemon.log")
	log, err := daemon.OpenLog(path, 1<<10, 100, false)
	if err != nil {
		t.Fatal(err)
	}
	defer log.Close()
	for i := range 100 {
		fmt.Fprintf(log, "old=%d padding=xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n", i)
	}
	out, stop := followFrom(t, path)
	has := func(s string) func() bool { return func() bool { return strings.Contains(out.String(), s) } }
	fmt.Fprintln(log, "one")
	testhost.Eventually(t, "one", has("one\n"))
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	fmt.Fprintln(log, "two") // into the removed file
	if again, err := log.ReopenIfGone(); !again || err != nil {
		t.Fatalf("ReopenIfGone: %v %v", again, err)
	}
	fmt.Fprintln(log, "three")
	testhost.Eventually(t, "three", has("three\n"))
	stop()
	if got, want := out.String(), "one\ntwo\nthree\n"; got != want {
		t.Errorf("followed %.400q, want %q", got, want)
	}
}
