package store

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	_ "github.com/anthropics/cco/internal/golden" // its -update flag: `go test ./... -update` works from the root

	"github.com/anthropics/cco/ledger/price"
)

func TestPath(t *testing.T) {
	for _, c := range []struct{ url, want, err string }{
		{"sqlite://analytics.db", "/home/u/.cco/analytics.db", ""},
		{"sqlite://data/a.db", "/home/u/.cco/data/a.db", ""},
		{"sqlite:///var/lib/cco/a.db", "/var/lib/cco/a.db", ""},
		{"postgres://db", "", "postgres:// scheme is not supported"},
		{"analytics.db", "", "no scheme"},
		{"sqlite://", "", "names no database file"},
		{"sqlite://a.db?mode=rwc", "", "options"},
	} {
		got, err := Path(c.url, "/home/u/.cco")
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%s: %q, %v; want an error with %q", c.url, got, err, c.err)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("%s: %q, %v; want %q", c.url, got, err, c.want)
		}
	}
}

func call(ts int64, model string, in int64) Call {
	return Call{Key: [16]byte{byte(in)}, FileID: 1, TS: ts, Session: "s", Project: "p",
		Model: Model{Name: model}, Tokens: price.Tokens{Input: in, Output: 1}, OrderFile: 1}
}

func TestCreateModeAndReadOnly(t *testing.T) {
	ctx := context.Background()
	home := t.TempDir()
	if _, err := OpenReadOnly(ctx, "sqlite://sub/a.db", home); !errors.Is(err, ErrMissing) {
		t.Fatalf("read-only open of a missing database: %v, want ErrMissing", err)
	}
	if _, err := os.Stat(filepath.Join(home, "sub")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("read-only open created something: %v", err)
	}
	s, err := Open(ctx, "sqlite://sub/a.db", home)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Commit(ctx, &Batch{Files: []File{{ID: 1, Path: "/x.jsonl", Offset: 10}},
		Chunks: []Chunk{{ID: 1, FileID: 1, Calls: []Call{call(1e15, "m", 5)}}}}); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"a.db", "a.db-wal"} {
		fi, err := os.Stat(filepath.Join(home, "sub", name))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %v, want 0600", name, fi.Mode().Perm())
		}
	}
	ro, err := OpenReadOnly(ctx, "sqlite://sub/a.db", home)
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	if err := ro.Commit(ctx, &Batch{Chunks: []Chunk{{ID: 2, FileID: 1, Calls: []Call{call(1e15, "m", 5)}}}}); err == nil {
		t.Error("a read-only store committed")
	}
	sum, err := ro.Summary(ctx)
	if err != nil || sum.Calls != 1 || sum.Files != 1 || sum.Oldest != 0 {
		t.Errorf("read-only summary %+v, %v", sum, err)
	}
	s.Close()
}

// Calls go in packed and come out whole; an update rewrites one in place.
func TestChunksRoundTrip(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, "sqlite://a.db", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	a := Call{Key: [16]byte{1, 2, 3}, Msg: -5, Sidechain: true, FileID: 7, Offset: 1 << 40, TS: -3, Session: "sess", Project: "proj",
		Model: Model{Name: "claude-opus-4-6", Fast: true, Fixed: true}, Tokens: price.Tokens{Input: 1, Output: 2, Cache5m: 3, Cache1h: 4, CacheRead: 5},
		Cost: 0.25, OrderFile: 6, OrderOff: 99}
	b := call(2e15, "other", 9)
	if err := s.Commit(ctx, &Batch{Chunks: []Chunk{{ID: 3, FileID: 7, Calls: []Call{a, b}}}}); err != nil {
		t.Fatal(err)
	}
	got, err := s.Chunk(ctx, 3)
	if err != nil || len(got) != 2 || got[0] != a || got[1] != b {
		t.Fatalf("chunk: %+v %v\nwant %+v %+v", got, err, a, b)
	}
	b2 := b
	b2.Tokens.Input = 1000
	if err := s.Commit(ctx, &Batch{Updates: []Update{{At: Loc{3, 1}, Call: b2}}}); err != nil {
		t.Fatal(err)
	}
	var all []Call
	if err := s.Calls(ctx, Always, func(at Loc, c *Call) error {
		all = append(all, *c)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(all) != 2 || all[0] != a || all[1] != b2 {
		t.Fatalf("calls after the update: %+v", all)
	}
}

// A database made by migration 1 (before days were kept) opens and
// upgrades; its calls are still there, found by their time, and days can
// be kept.
func TestMigrationFromVersion1(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "old.db")
	db, err := sql.Open("sqlite", dsn(path, ""))
	if err != nil {
		t.Fatal(err)
	}
	data := make([]byte, recSize)
	c := call(1e15, "claude-opus-4-6", 300000)
	encode(data, &c, ids{1, 1, 1})
	if _, err := db.Exec(`CREATE TABLE schema_version (version INTEGER NOT NULL); INSERT INTO schema_version VALUES (1);` + migrations[0].sql + `
		INSERT INTO models VALUES (1, 'claude-opus-4-6', 0, 0);
		INSERT INTO projects VALUES (1, 'p');
		INSERT INTO sessions VALUES (1, 's');`); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`INSERT INTO chunks VALUES (1, 1, 1, ?)`, data); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if _, err := OpenReadOnly(ctx, "sqlite://"+path, ""); err == nil || !strings.Contains(err.Error(), "schema version 1") {
		t.Fatalf("read-only open of an old schema: %v", err)
	}
	s, err := Open(ctx, "sqlite://"+path, "")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var v int
	if err := s.(*sqliteStore).w.QueryRow(`SELECT version FROM schema_version`).Scan(&v); err != nil || v != Version {
		t.Fatalf("schema version %d, %v; want %d", v, err, Version)
	}
	got, err := s.Chunk(ctx, 1)
	if err != nil || len(got) != 1 || got[0] != c {
		t.Fatalf("the old call: %+v %v", got, err)
	}
	for _, sp := range []struct {
		span Span
		want int
	}{{Span{c.TS, c.TS + 1}, 1}, {Span{c.TS - 10, c.TS}, 0}, {Span{c.TS + 1, c.TS + 10}, 0}} {
		if n := count(t, s, sp.span); n != sp.want {
			t.Errorf("the old chunk gives %d calls in %+v, want %d", n, sp.span, sp.want)
		}
	}
	if err := s.Commit(ctx, &Batch{Zones: []string{"UTC"}, Days: []DayDelta{{Zone: "UTC", Day: 11574, Model: c.Model, Calls: 1, Tokens: c.Tokens, First: []byte("a")}}}); err != nil {
		t.Fatal(err)
	}
	days, err := s.Days(ctx, "UTC", 0, 1<<40, "")
	if err != nil || len(days) != 1 || days[0].Tokens != c.Tokens || string(days[0].First) != "a" {
		t.Fatalf("days %+v %v", days, err)
	}
}

// count counts the calls s gives for span.
func count(t *testing.T, s Store, span Span) int {
	t.Helper()
	n := 0
	if err := s.Calls(context.Background(), span, func(Loc, *Call) error { n++; return nil }); err != nil {
		t.Fatal(err)
	}
	return n
}

// A span gives exactly the calls made in it, whichever chunks hold them,
// also once an update moved a call's time.
func TestCallsInSpan(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, "sqlite://a.db", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Commit(ctx, &Batch{Chunks: []Chunk{
		{ID: 1, FileID: 1, Calls: []Call{call(100, "m", 1), call(300, "m", 2)}},
		{ID: 2, FileID: 1, Calls: []Call{call(200, "m", 3)}},
		{ID: 3, FileID: 1, Calls: []Call{call(1000, "m", 4), call(-50, "m", 5)}},
	}}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		span Span
		want int
	}{
		{Always, 5}, {Span{100, 301}, 3}, {Span{101, 300}, 1}, {Span{200, 201}, 1}, {Span{301, 1000}, 0},
		{Span{-50, -49}, 1}, {Span{-100, 1001}, 5}, {Span{400, 999}, 0}, {Span{1000, 1001}, 1},
	} {
		if n := count(t, s, c.span); n != c.want {
			t.Errorf("%+v gives %d calls, want %d", c.span, n, c.want)
		}
	}
	moved := call(5000, "m", 3)
	if err := s.Commit(ctx, &Batch{Updates: []Update{{At: Loc{2, 0}, Call: moved}}}); err != nil {
		t.Fatal(err)
	}
	if n := count(t, s, Span{5000, 5001}); n != 1 {
		t.Errorf("the moved call: %d calls at its new time, want 1", n)
	}
	if n := count(t, s, Span{200, 201}); n != 0 {
		t.Errorf("the moved call: %d calls at its old time, want 0", n)
	}
}

func TestNewerSchemaRefused(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "new.db")
	db, _ := sql.Open("sqlite", dsn(path, ""))
	if _, err := db.Exec(`CREATE TABLE schema_version (version INTEGER NOT NULL); INSERT INTO schema_version VALUES (99);`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if _, err := Open(ctx, "sqlite://"+path, ""); err == nil || !strings.Contains(err.Error(), "newer") {
		t.Fatalf("opening a newer schema: %v", err)
	}
}

// Day sums add up, the first-seen position keeps the smallest, and
// projects are kept apart from the sums over all of them.
func TestDaysUpsert(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, "sqlite://a.db", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	m := Model{Name: "x"}
	d := func(project string, in int64, first string) DayDelta {
		return DayDelta{Zone: "UTC", Day: 5, Model: m, Project: project, Calls: 1, Tokens: price.Tokens{Input: in}, First: []byte(first)}
	}
	for _, b := range []*Batch{
		{Zones: []string{"UTC"}, Days: []DayDelta{d("", 1, "b"), d("p", 1, "b")}},
		{Days: []DayDelta{d("", 2, "a"), d("q", 2, "a")}},
		{Days: []DayDelta{d("", 4, "c")}},
	} {
		if err := s.Commit(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	all, err := s.Days(ctx, "UTC", 0, 10, "")
	if err != nil || len(all) != 1 || all[0].Tokens.Input != 7 || string(all[0].First) != "a" {
		t.Fatalf("all projects: %+v %v", all, err)
	}
	p, err := s.Days(ctx, "UTC", 0, 10, "p")
	if err != nil || len(p) != 1 || p[0].Tokens.Input != 1 {
		t.Fatalf("project p: %+v %v", p, err)
	}
	if none, err := s.Days(ctx, "UTC", 6, 10, ""); err != nil || len(none) != 0 {
		t.Fatalf("days 6…9: %+v %v", none, err)
	}
}

// TestReadOnlyRefusesAFIFO: a FIFO where the database belongs is refused,
// naming it, instead of blocking the reader forever.
func TestReadOnlyRefusesAFIFO(t *testing.T) {
	home := t.TempDir()
	if err := syscall.Mkfifo(filepath.Join(home, "analytics.db"), 0o600); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := OpenReadOnly(context.Background(), "sqlite://analytics.db", home)
		done <- err
	}()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "analytics.db is a FIFO") {
			t.Fatalf("a FIFO database: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("opening a FIFO database blocked")
	}
}
