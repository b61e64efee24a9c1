package history

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/anthropics/cco/config"
	_ "github.com/anthropics/cco/internal/golden" // its -update flag: `go test ./... -update` works from the root
)

func newLog(t *testing.T) *Log {
	t.Helper()
	p := config.Paths{Home: t.TempDir()}
	return Open(p)
}

var t0 = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

func start(at time.Duration, pid int, by string) Event {
	return Event{Time: t0.Add(at), Kind: KindStart, PID: pid, ProcStart: uint64(pid) * 10, By: by}
}

func exitCode(at time.Duration, pid, code int, errText string) Event {
	return Event{Time: t0.Add(at), Kind: KindExit, PID: pid, Code: Code(code), Error: errText}
}

func killed(at time.Duration, pid int, sig string) Event {
	return Event{Time: t0.Add(at), Kind: KindExit, PID: pid, Signal: sig}
}

func TestAppendRead(t *testing.T) {
	l := newLog(t)
	if ev, err := l.Read(); err != nil || ev != nil {
		t.Fatalf("no history yet: got %v, %v", ev, err)
	}
	want := []Event{start(0, 100, BySupervisor), killed(time.Second, 100, "SIGKILL"), exitCode(2*time.Second, 101, 1, "cannot listen on 127.0.0.1:3000")}
	for _, e := range want {
		if err := l.Append(e); err != nil {
			t.Fatal(err)
		}
	}
	got, err := l.Read()
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("read %d events, want %d", len(got), len(want))
	}
	for i := range want {
		a, _ := json.Marshal(got[i])
		b, _ := json.Marshal(want[i])
		if !bytes.Equal(a, b) {
			t.Errorf("event %d: %s, want %s", i, a, b)
		}
	}
	fi, err := os.Stat(l.Path())
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("history has mode %04o, want 0600", fi.Mode().Perm())
	}
}

// A writer killed in the middle of its line leaves a torn last line: the
// reader skips it, and the next append starts on a line of its own.
func TestTornLine(t *testing.T) {
	l := newLog(t)
	if err := l.Append(start(0, 100, ByHand)); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(l.Path(), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(`{"time":"2026-11-25T12:00:01Z","event":"ex`)
	f.Close()
	got, err := l.Read()
	if err != nil || len(got) != 1 {
		t.Fatalf("with a torn last line: %d events, %v; want the 1 whole one", len(got), err)
	}
	if err := l.Append(killed(2*time.Second, 100, "SIGKILL")); err != nil {
		t.Fatal(err)
	}
	got, err = l.Read()
	if err != nil || len(got) != 2 || got[1].Signal != "SIGKILL" {
		t.Fatalf("after an append behind a torn line: %+v, %v; want the start and the SIGKILL", got, err)
	}
}

// The file stays bounded: past MaxBytes it holds its last events (at most
// Keep), the newest among them, in order.
func TestCompaction(t *testing.T) {
	l := newLog(t)
	n := 3 * Keep
	for i := range n {
		if err := l.Append(exitCode(time.Duration(i)*time.Second, 1000+i, 1, strings.Repeat("x", 300))); err != nil {
			t.Fatal(err)
		}
	}
	fi, err := os.Stat(l.Path())
	if err != nil {
		t.Fatal(err)
	}
	if fi.Size() > MaxBytes {
		t.Errorf("history is %d bytes, want at most %d", fi.Size(), MaxBytes)
	}
	got, err := l.Read()
	if err != nil {
		t.Fatal(err)
	}
	if len(got) < MaxBytes/2/400 || len(got) >= n {
		t.Errorf("kept %d events of %d, want the last ones that fit in %d bytes", len(got), n, MaxBytes/2)
	}
	if last := got[len(got)-1]; last.PID != 1000+n-1 {
		t.Errorf("the last event is pid %d, want %d (the newest)", last.PID, 1000+n-1)
	}
	for i := 1; i < len(got); i++ {
		if got[i].PID != got[i-1].PID+1 {
			t.Fatalf("events %d and %d are not consecutive (pids %d, %d): compaction lost or reordered some", i-1, i, got[i-1].PID, got[i].PID)
		}
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("compacted history has mode %04o, want 0600", fi.Mode().Perm())
	}
}

// Concurrent writers (the daemon and the supervisor, or several daemons
// under a service manager) never tear or lose a line, compaction included.
func TestConcurrentAppends(t *testing.T) {
	for round := range 200 {
		l := newLog(t)
		const writers, each = 8, 20
		var wg sync.WaitGroup
		for w := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range each {
					// Long errors, so that the rounds cross MaxBytes and compact.
					e := exitCode(time.Duration(i), w*1000+i, 1, strings.Repeat("x", 400))
					if err := l.Append(e); err != nil {
						t.Error(err)
					}
				}
			}()
		}
		wg.Wait()
		data, err := os.ReadFile(l.Path())
		if err != nil {
			t.Fatal(err)
		}
		lines := bytes.Split(bytes.TrimSuffix(data, []byte("\n")), []byte("\n"))
		for _, line := range lines {
			var e Event
			if err := json.Unmarshal(line, &e); err != nil {
				t.Fatalf("round %d: a torn line: %q", round, line)
			}
		}
		if len(lines) > writers*each || len(lines) < MaxBytes/2/500 {
			t.Fatalf("round %d: %d lines, want all %d or the last that fit in %d bytes", round, len(lines), writers*each, MaxBytes/2)
		}
		if round == 0 && t.Failed() {
			return
		}
	}
}

// A history that is a symlink is not written through.
func TestSymlinkRefused(t *testing.T) {
	l := newLog(t)
	target := filepath.Join(t.TempDir(), "elsewhere")
	if err := os.WriteFile(target, []byte("precious\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, l.Path()); err != nil {
		t.Fatal(err)
	}
	if err := l.Append(start(0, 1, ByHand)); err == nil {
		t.Fatal("appended through a symlink")
	}
	if data, _ := os.ReadFile(target); string(data) != "precious\n" {
		t.Errorf("the symlink's target changed: %q", data)
	}
	if _, err := l.Read(); err == nil {
		t.Error("read through a symlink")
	}
}

func TestSummarize(t *testing.T) {
	dead := func(int, uint64) bool { return false }
	alive := func(int, uint64) bool { return true }
	now := t0.Add(time.Hour)
	tests := []struct {
		name      string
		events    []Event
		alive     Alive
		restarts  int
		lastWords string // "" when no last exit
		crashLoop bool
	}{
		{name: "no history", alive: dead},
		{name: "running, started by hand", events: []Event{start(0, 1, ByHand)}, alive: alive},
		{
			name:   "three SIGKILLs under the supervisor",
			events: []Event{start(0, 1, BySupervisor), killed(time.Second, 1, "SIGKILL"), start(2*time.Second, 2, BySupervisor), killed(3*time.Second, 2, "SIGKILL"), start(4*time.Second, 3, BySupervisor), killed(5*time.Second, 3, "SIGKILL"), start(6*time.Second, 4, BySupervisor)},
			alive:  alive, restarts: 3, lastWords: "killed by SIGKILL 59 min ago",
		},
		{
			name:   "a clean stop, then a start: no restart",
			events: []Event{start(0, 1, BySupervisor), {Time: t0.Add(time.Second), Kind: KindExit, PID: 1, Code: Code(0), Reason: ReasonStop}, start(2*time.Second, 2, BySupervisor)},
			alive:  alive, lastWords: "exited 0 59 min ago (stopped by `cco daemon stop`)",
		},
		{
			name:   "a start by hand after a crash is not a restart",
			events: []Event{start(0, 1, ByHand), exitCode(time.Second, 1, 1, "cannot listen on 127.0.0.1:3000: address already in use"), start(2*time.Second, 2, ByHand)},
			alive:  alive, lastWords: "exited 1 59 min ago: cannot listen on 127.0.0.1:3000: address already in use",
		},
		{
			name:   "SIGKILL under systemd: a start without an exit, then systemd's restart",
			events: []Event{start(0, 1, BySystemd), start(10*time.Second, 2, BySystemd)},
			alive:  alive, restarts: 1, lastWords: "killed or crashed at an unknown time (pid 1, started 1 h ago, left no exit record)",
		},
		{
			name:   "the last daemon is gone without a record",
			events: []Event{start(0, 1, ByHand)},
			alive:  dead, lastWords: "killed or crashed at an unknown time (pid 1, started 1 h ago, left no exit record)",
		},
		{
			name:   "restarted for not answering, with a clean exit status",
			events: []Event{start(0, 1, BySupervisor), {Time: t0.Add(time.Second), Kind: KindExit, PID: 1, Code: Code(0), Reason: ReasonUnhealthy, Error: "did not answer GET /health 3 times in a row"}, start(2*time.Second, 2, BySupervisor)},
			alive:  alive, restarts: 1, lastWords: "exited 0 59 min ago (restarted by the supervisor): did not answer GET /health 3 times in a row",
		},
		{
			name: "a crash loop: the supervisor gave up",
			events: []Event{start(0, 1, BySupervisor), killed(time.Second, 1, "SIGKILL"),
				start(2*time.Second, 2, BySupervisor), exitCode(3*time.Second, 2, 1, "config.toml: bad"),
				{Time: t0.Add(4 * time.Second), Kind: KindCrashLoop, Error: "5 failures within 1m0s"}},
			alive: dead, restarts: 1, lastWords: "exited 1 59 min ago: config.toml: bad", crashLoop: true,
		},
		{
			name: "a start after a crash loop ends it, and is no restart",
			events: []Event{start(0, 1, BySupervisor), exitCode(time.Second, 1, 1, "bad"),
				{Time: t0.Add(2 * time.Second), Kind: KindCrashLoop}, start(3*time.Second, 2, BySupervisor)},
			alive: alive, lastWords: "exited 1 59 min ago: bad",
		},
		{
			name:   "restarts older than 24 h are not counted",
			events: []Event{start(-30*time.Hour, 1, BySupervisor), killed(-30*time.Hour, 1, "SIGKILL"), start(-25*time.Hour, 2, BySupervisor), killed(-time.Minute, 2, "SIGSEGV"), start(0, 3, BySupervisor)},
			alive:  alive, restarts: 1, lastWords: "killed by SIGSEGV 1 h ago",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := Summarize(tt.events, now, tt.alive)
			if s.Restarts24h != tt.restarts {
				t.Errorf("restarts in 24 h: %d, want %d", s.Restarts24h, tt.restarts)
			}
			words := ""
			if s.LastExit != nil {
				words = s.LastExit.Words(now)
			}
			if words != tt.lastWords {
				t.Errorf("last exit: %q, want %q", words, tt.lastWords)
			}
			if (s.CrashLoop != nil) != tt.crashLoop {
				t.Errorf("crash loop: %v, want %v", s.CrashLoop != nil, tt.crashLoop)
			}
		})
	}
}

func TestAgo(t *testing.T) {
	for d, want := range map[time.Duration]string{
		300 * time.Millisecond: "just now", 12 * time.Second: "12 s ago", 3 * time.Minute: "3 min ago",
		5 * time.Hour: "5 h ago", 47 * time.Hour: "47 h ago", 72 * time.Hour: "3 days ago",
	} {
		if got := Ago(t0.Add(d), t0); got != want {
			t.Errorf("Ago(%v) = %q, want %q", d, got, want)
		}
	}
}

func TestStartedBy(t *testing.T) {
	const pid = 4242
	tests := []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{}, ByHand},
		{map[string]string{StartedByEnv: "supervisor", "INVOCATION_ID": "x", "SYSTEMD_EXEC_PID": "1"}, BySupervisor},
		{map[string]string{"INVOCATION_ID": "0123", "SYSTEMD_EXEC_PID": fmt.Sprint(pid)}, BySystemd},
		// A terminal started by a systemd service passes both on to its shells.
		{map[string]string{"INVOCATION_ID": "0123", "SYSTEMD_EXEC_PID": "77"}, ByHand},
		{map[string]string{"INVOCATION_ID": "0123"}, BySystemd},
		{map[string]string{"XPC_SERVICE_NAME": "com.anthropic.cco.daemon"}, ByLaunchd},
		// Terminal.app's shells have an XPC_SERVICE_NAME of their own.
		{map[string]string{"XPC_SERVICE_NAME": "application.com.apple.Terminal.1234"}, ByHand},
		{map[string]string{StartedByEnv: "someone"}, ByHand},
	}
	for _, tt := range tests {
		if got := StartedBy(func(k string) string { return tt.env[k] }, pid); got != tt.want {
			t.Errorf("StartedBy(%v) = %q, want %q", tt.env, got, tt.want)
		}
	}
}
