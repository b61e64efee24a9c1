package ledger

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/anthropics/cco/ledger/store"
)

func TestPartialLineWaitsForItsNewline(t *testing.T) {
	tr := newTree(t)
	full := line("s", "m2", "r2", false, ts, 7, 8)
	tr.write("p/s.jsonl", line("s", "m1", "r1", false, ts, 10, 20), full[:len(full)/2])
	l, _ := open(t, []string{tr.root})
	syncOK(t, l)
	want(t, l, 1, 10, 20)
	if m := l.State().Malformed; m != 0 {
		t.Fatalf("a partial line counted as malformed (%d)", m)
	}
	tr.append("p/s.jsonl", full[len(full)/2:])
	syncOK(t, l)
	want(t, l, 2, 17, 28)
}

func TestTruncatedTranscriptIsReadAgain(t *testing.T) {
	tr := newTree(t)
	// A first line longer than the head the ledger checks, so that only
	// the size tells the truncation.
	long := strings.Replace(line("s", "m1", "r1", false, ts, 10, 20), `"model"`, `"content":[{"type":"text","text":"`+strings.Repeat("x", 2*headBytes)+`"}],"model"`, 1)
	padded := strings.Replace(line("s", "m2", "r2", false, ts, 10, 20), `"model"`, `"pad":"`+strings.Repeat("y", 200)+`","model"`, 1)
	tr.write("p/s.jsonl", long, padded)
	l, _ := open(t, []string{tr.root})
	syncOK(t, l)
	want(t, l, 2, 20, 40)
	// Shorter than what was read: read from the start; what was counted
	// stays counted.
	tr.write("p/s.jsonl", long, line("s", "m3", "r3", false, ts, 1, 2))
	syncOK(t, l)
	want(t, l, 3, 21, 42)
}

func TestRewrittenFileIsReadAgain(t *testing.T) {
	for _, replace := range []bool{false, true} {
		t.Run(map[bool]string{false: "in place", true: "by rename"}[replace], func(t *testing.T) {
			tr := newTree(t)
			a := line("s", "m1", "r1", false, ts, 10, 20)
			tr.write("p/s.jsonl", a)
			l, _ := open(t, []string{tr.root})
			syncOK(t, l)
			// Same length, other bytes at the start, then more: the head
			// no longer matches, so the file is read from the start.
			b := strings.Replace(a, `"m1"`, `"m9"`, 1) + line("s", "m4", "r4", false, ts, 1, 1)
			if replace {
				tmp := filepath.Join(tr.root, "projects", "p", "new.tmp")
				if err := os.WriteFile(tmp, []byte(b), 0o644); err != nil {
					t.Fatal(err)
				}
				if err := os.Rename(tmp, filepath.Join(tr.root, "projects", "p", "s.jsonl")); err != nil {
					t.Fatal(err)
				}
			} else {
				f, err := os.OpenFile(filepath.Join(tr.root, "projects", "p", "s.jsonl"), os.O_WRONLY, 0)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := f.WriteAt([]byte(b), 0); err != nil {
					t.Fatal(err)
				}
				f.Close()
			}
			syncOK(t, l)
			want(t, l, 3, 21, 41)
		})
	}
}

func TestDeletedTranscriptKeepsItsCalls(t *testing.T) {
	tr := newTree(t)
	tr.write("p/s.jsonl", line("s", "m1", "r1", false, ts, 10, 20))
	l, home := open(t, []string{tr.root})
	syncOK(t, l)
	if err := os.RemoveAll(filepath.Join(tr.root, "projects", "p")); err != nil {
		t.Fatal(err)
	}
	syncOK(t, l)
	want(t, l, 1, 10, 20)
	l.Close()
	l2, err := Open(context.Background(), "sqlite://analytics.db", home, Options{Roots: []string{tr.root}})
	if err != nil {
		t.Fatal(err)
	}
	defer l2.Close()
	syncOK(t, l2)
	want(t, l2, 1, 10, 20)
}

func TestMalformedLinesAreCountedNotFatal(t *testing.T) {
	tr := newTree(t)
	good := line("s", "m1", "r1", false, ts, 10, 20)
	tr.write("p/s.jsonl", good[:40]+"\n", "not json at all\n", "\n", good, `{"message":{"usage":{"input_tokens":"x"}}}`+"\n")
	l, _ := open(t, []string{tr.root})
	st := syncOK(t, l)
	want(t, l, 1, 10, 20)
	if st.Malformed != 3 || l.State().Malformed != 3 {
		t.Fatalf("malformed %d (state %d), want 3", st.Malformed, l.State().Malformed)
	}
}

func TestReadOnly(t *testing.T) {
	ctx := context.Background()
	home := t.TempDir()
	if _, err := OpenReadOnly(ctx, "sqlite://analytics.db", home, Options{}); !errors.Is(err, store.ErrMissing) {
		t.Fatalf("a missing database: %v", err)
	}
	if ents, _ := os.ReadDir(home); len(ents) != 0 {
		t.Fatalf("read-only open created %v", ents)
	}
	tr := newTree(t)
	tr.write("p/s.jsonl", line("s", "m1", "r1", false, ts, 10, 20))
	l, err := Open(ctx, "sqlite://analytics.db", home, Options{Roots: []string{tr.root}})
	if err != nil {
		t.Fatal(err)
	}
	syncOK(t, l)
	l.Close()
	ro, err := OpenReadOnly(ctx, "sqlite://analytics.db", home, Options{Roots: []string{tr.root}})
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	if _, err := ro.Sync(ctx); err == nil {
		t.Error("a read-only ledger synced")
	}
	if err := ro.Run(ctx); err == nil {
		t.Error("a read-only ledger ran")
	}
	want(t, ro, 1, 10, 20)
	// A zone the daemon does not keep days in: added up from the calls.
	rep, err := ro.Daily(ctx, Query{Location: mustZone(t, "Pacific/Kiritimati")})
	if err != nil || len(rep.Daily) != 1 || rep.Daily[0].Date != "2026-03-02" {
		t.Fatalf("daily in +14: %+v %v", rep, err)
	}
}

func mustZone(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

// A call's day is its local date in the query's zone; since and until
// select local dates, for sessions too.
func TestDaysInZones(t *testing.T) {
	tr := newTree(t)
	tr.write("p/s1.jsonl", line("s1", "m1", "r1", false, "2026-03-31T23:30:00.000Z", 1, 0))
	tr.write("p/s2.jsonl", line("s2", "m2", "r2", false, "2026-04-01T12:00:00.000Z", 2, 0))
	l, _ := open(t, []string{tr.root})
	syncOK(t, l)
	ctx := context.Background()
	kol := mustZone(t, "Asia/Kolkata") // +05:30: the first call is on 1 April there
	for _, c := range []struct {
		q     Query
		dates string
	}{
		{Query{}, "2026-03-31:1 2026-04-01:2"},
		{Query{Location: kol}, "2026-04-01:3"},
		{Query{Location: mustZone(t, "America/Los_Angeles")}, "2026-03-31:1 2026-04-01:2"},
		{Query{Since: "20260401"}, "2026-04-01:2"},
		{Query{Until: "2026-03-31"}, "2026-03-31:1"},
		{Query{Since: "2026-04-01", Location: kol}, "2026-04-01:3"},
		{Query{Since: "20260402"}, ""},
	} {
		rep, err := l.Daily(ctx, c.q)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, d := range rep.Daily {
			got = append(got, d.Date+":"+strconv.FormatInt(d.InputTokens, 10))
		}
		if strings.Join(got, " ") != c.dates {
			t.Errorf("%+v: %v, want %s", c.q, got, c.dates)
		}
	}
	s, err := l.Sessions(ctx, Query{Since: "20260401", Location: kol})
	if err != nil || len(s.Sessions) != 2 {
		t.Fatalf("sessions since 1 April in Kolkata: %+v %v", s, err)
	}
	s, err = l.Sessions(ctx, Query{Since: "20260401"})
	if err != nil || len(s.Sessions) != 1 || s.Sessions[0].SessionID != "s2" {
		t.Fatalf("sessions since 1 April in UTC: %+v %v", s, err)
	}
	m, err := l.Monthly(ctx, Query{Location: kol})
	if err != nil || len(m.Monthly) != 1 || m.Monthly[0].Month != "2026-04" {
		t.Fatalf("monthly in Kolkata: %+v %v", m, err)
	}
}

// A database made before days were kept (schema 1: calls only, with no
// time bounds per chunk) opens, upgrades, and reports from the calls it
// holds.
func TestUpgradeFromSchema1(t *testing.T) {
	ctx := context.Background()
	tr := newTree(t)
	tr.write("p/s.jsonl", line("s", "m1", "r1", false, ts, 10, 20))
	l, home := open(t, []string{tr.root})
	syncOK(t, l)
	l.Close()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(home, "analytics.db"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`DROP TABLE days; DROP TABLE zones; DROP INDEX chunks_by_time;
		ALTER TABLE chunks DROP COLUMN min_ts; ALTER TABLE chunks DROP COLUMN max_ts; UPDATE schema_version SET version = 1`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	l2, err := Open(ctx, "sqlite://analytics.db", home, Options{Roots: []string{tr.root}})
	if err != nil {
		t.Fatal(err)
	}
	defer l2.Close()
	want(t, l2, 1, 10, 20)
}

func TestZoneNames(t *testing.T) {
	for _, c := range []struct {
		loc  *time.Location
		want string
	}{
		{nil, "UTC"},
		{time.UTC, "UTC"},
		{mustZone(t, "Etc/UTC"), "UTC"}, // kept once, as UTC
		{mustZone(t, "Europe/Berlin"), "Europe/Berlin"},
		{time.FixedZone("Europe/Berlin", 3600), ""}, // a name that may not match its rules: not kept
		{time.FixedZone("x", 3600), ""},
	} {
		if got := zoneName(c.loc); got != c.want {
			t.Errorf("zoneName(%v) = %q, want %q", c.loc, got, c.want)
		}
	}
}

// TestOverlongLineIsSkipped: a line longer than maxLine (a runaway write)
// is not held in memory: it is skipped whole, counted as malformed, and
// the lines after it are read. While its newline has not come, nothing
// after it is taken for a line.
func TestOverlongLineIsSkipped(t *testing.T) {
	tr := newTree(t)
	// A call of its own, but padded past maxLine: it must not count.
	call := line("s", "m0", "r0", false, ts, 1000, 2000)
	head, tail := `{"pad":"`+strings.Repeat("x", maxLine+readChunk), `",`+call[1:]
	tr.write("p/s.jsonl", head)
	l, _ := open(t, []string{tr.root})
	if st := syncOK(t, l); st.Malformed != 0 {
		t.Fatalf("an unfinished line counted malformed: %+v", st)
	}
	tr.write("p/s.jsonl", head+tail, line("s", "m1", "r1", false, ts, 10, 20))
	st := syncOK(t, l)
	want(t, l, 1, 10, 20)
	if st.Malformed != 1 {
		t.Fatalf("malformed %d, want the long line's 1", st.Malformed)
	}
}

// A session's models are listed in the order ccusage meets them, reading
// files in path order: a transcript that appears later but sorts first
// puts its model first, and a report made before it appeared does not
// keep the ledger from naming its file.
func TestSessionModelsInPathOrder(t *testing.T) {
	tr := newTree(t)
	tr.write("p/b.jsonl", line("s", "m1", "r1", false, ts, 10, 20))
	l, _ := open(t, []string{tr.root})
	syncOK(t, l)
	models := func() string {
		t.Helper()
		rep, err := l.Sessions(context.Background(), Query{})
		if err != nil || len(rep.Sessions) != 1 {
			t.Fatalf("sessions: %+v %v", rep, err)
		}
		return strings.Join(rep.Sessions[0].ModelsUsed, " ")
	}
	if got := models(); got != "claude-haiku-4-5" {
		t.Fatalf("models %q", got)
	}
	tr.write("p/a.jsonl", strings.Replace(line("s", "m2", "r2", false, ts, 1, 2), "claude-haiku-4-5", "claude-sonnet-4-5", 1))
	syncOK(t, l)
	if got := models(); got != "claude-sonnet-4-5 claude-haiku-4-5" {
		t.Fatalf("models %q, want a.jsonl's first", got)
	}
}
