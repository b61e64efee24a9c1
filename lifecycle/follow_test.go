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
	"golang.org/x/sys/unix"
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
	waitFollowing(t, path)
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

// TestFollowPolling: the same fast writer, followed by looking every
// interval, as where inotify is lacking.
func TestFollowPolling(t *testing.T) {
	watcher = func(_ string, interval time.Duration) (<-chan struct{}, func()) { return poll(interval) }
	defer func() { watcher = watch }()
	followLines(t, 100_000, 4_000, 8<<10, time.Millisecond)
	for r := range 50 {
		t.Run(strconv.Itoa(r), func(t *testing.T) {
			followLines(t, 2_000, 300, 2<<10, time.Millisecond)
		})
	}
}

// TestFollowHomeRemoved: CCO_HOME removed under the daemon, which makes it
// and its log anew: the follower goes on with the new log (its watch of the
// old directory is gone).
func TestFollowHomeRemoved(t *testing.T) {
	home := filepath.Join(t.TempDir(), "home")
	os.Mkdir(home, 0o700)
	path := filepath.Join(home, "daemon.log")
	log, err := daemon.OpenLog(path, 1<<20, 5, false)
	if err != nil {
		t.Fatal(err)
	}
	defer log.Close()
	fmt.Fprintln(log, "old")
	out, stop := followFrom(t, path)
	defer stop()
	fmt.Fprintln(log, "one")
	testhost.Eventually(t, "one", func() bool { return strings.Contains(out.String(), "one\n") })
	if err := os.RemoveAll(home); err != nil {
		t.Fatal(err)
	}
	fmt.Fprintln(log, "two") // into the removed file
	os.Mkdir(home, 0o700)
	if again, err := log.ReopenIfGone(); !again || err != nil {
		t.Fatalf("ReopenIfGone: %v %v", again, err)
	}
	fmt.Fprintln(log, "three")
	testhost.Eventually(t, "three", func() bool { return strings.Contains(out.String(), "three\n") })
	fmt.Fprintln(log, "four") // seen by watching the new directory
	testhost.Eventually(t, "four", func() bool { return strings.Contains(out.String(), "four\n") })
	if got, want := out.String(), "one\ntwo\nthree\nfour\n"; got != want {
		t.Errorf("followed %q, want %q", got, want)
	}
}

// TestTailAcrossRotation: -n with fewer lines in daemon.log than asked for
// goes on into the newest rotated files, oldest line first.
func TestTailAcrossRotation(t *testing.T) {
	path := filepath.Join(t.TempDir(), "daemon.log")
	log, err := daemon.OpenLog(path, 100, 1000, false)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 50 { // three lines a file
		fmt.Fprintf(log, "seq=%d padding=xxxxxxxxxx\n", i)
	}
	log.Close()
	for _, n := range []int{0, 1, 2, 3, 7, 50, 80} {
		var out bytes.Buffer
		if _, err := Tail(&out, path, n); err != nil {
			t.Fatal(err)
		}
		var want strings.Builder
		for i := max(0, 50-n); i < 50; i++ {
			fmt.Fprintf(&want, "seq=%d padding=xxxxxxxxxx\n", i)
		}
		if out.String() != want.String() {
			t.Errorf("Tail -n %d:\n%s\nwant:\n%s", n, out.String(), want.String())
		}
	}
}

// TestLogsRefuseFIFO: a FIFO where daemon.log belongs is refused, naming
// it, instead of blocking `cco daemon logs` forever.
func TestLogsRefuseFIFO(t *testing.T) {
	path := filepath.Join(t.TempDir(), "daemon.log")
	if err := unix.Mkfifo(path, 0o600); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := Tail(&bytes.Buffer{}, path, 10)
		done <- err
	}()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "is a FIFO, where cco keeps a regular file") {
			t.Errorf("Tail of a FIFO: %v; want a refusal naming it", err)
		}
	case <-time.After(testhost.EventuallyWithin):
		t.Fatal("Tail blocked on a FIFO")
	}
}

// waitFollowing waits until this process holds the file at path open: the
// follower has moved on to it (the writer holds the old one).
func waitFollowing(t *testing.T, path string) {
	t.Helper()
	testhost.Eventually(t, "the follower to open the new "+filepath.Base(path), func() bool {
		named, err := os.Stat(path)
		if err != nil {
			return false
		}
		fds, _ := filepath.Glob("/proc/self/fd/*")
		for _, fd := range fds {
			if fi, err := os.Stat(fd); err == nil && os.SameFile(fi, named) {
				return true
			}
		}
		return false
	})
}

// TestFollowFromRotatedMark: the log rotates between Tail and Follow
// (between `logs -n` printing and following); Follow goes on from where
// Tail stopped in the file now rotated, then the newer files.
func TestFollowFromRotatedMark(t *testing.T) {
	path := filepath.Join(t.TempDir(), "daemon.log")
	log, err := daemon.OpenLog(path, 200, 100, false)
	if err != nil {
		t.Fatal(err)
	}
	defer log.Close()
	for i := range 20 {
		fmt.Fprintf(log, "seq=-%d padding=xxxxxxxxxxxxxxxxxxxxxxxx\n", i+1)
	}
	end, err := Tail(&bytes.Buffer{}, path, 0)
	if err != nil {
		t.Fatal(err)
	}
	const n = 40 // ten rotations
	for i := range n {
		fmt.Fprintf(log, "seq=%d padding=xxxxxxxxxxxxxxxxxxxxxxxx\n", i)
	}
	var out syncBuffer
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // one pass: what is there now
	if err := Follow(ctx, &out, path, end, time.Millisecond); err != nil {
		t.Fatal(err)
	}
	checkSequence(t, out.String(), n)
}
