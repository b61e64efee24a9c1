package store

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

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

func call(id int64, ts int64, model string, in int64) Call {
	return Call{ID: id, Key: [16]byte{byte(id)}, FileID: 1, TS: ts, Session: "s", Project: "p",
		Model: Model{Name: model}, Tokens: price.Tokens{Input: in, Output: 1}}
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
	if err := s.Commit(ctx, &Batch{Files: []File{{ID: 1, Path: "/x.jsonl", Offset: 10}}, Insert: []Call{call(1, 1e15, "m", 5)}}); err != nil {
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
	if err := ro.Commit(ctx, &Batch{Insert: []Call{call(2, 1e15, "m", 5)}}); err == nil {
		t.Error("a read-only store committed")
	}
	sum, err := ro.Summary(ctx)
	if err != nil || sum.Calls != 1 || sum.Files != 1 {
		t.Errorf("read-only summary %+v, %v", sum, err)
	}
	s.Close()
}

// A database made by migration 1 (before the aggregates existed) opens and
// upgrades: its calls reach the aggregates.
func TestMigrationFromVersion1(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "old.db")
	db, err := sql.Open("sqlite", dsn(path, ""))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`CREATE TABLE schema_version (version INTEGER NOT NULL); INSERT INTO schema_version VALUES (1);` + migrations[0] + `
		INSERT INTO models VALUES (1, 'claude-opus-4-6', 0, 0);
		INSERT INTO projects VALUES (1, 'p');
		INSERT INTO sessions VALUES (1, 's');
		INSERT INTO calls VALUES (1, x'01', 0, 0, 1, 0, 1000000000000000, 1, 1, 1, 300000, 2, 3, 4, 5, 0);
		INSERT INTO calls VALUES (2, x'02', 0, 0, 1, 9, 1000000000000001, 1, 1, 1, 10, 20, 30, 40, 50, 0);`); err != nil {
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
	bs, err := s.Buckets(ctx, 0, 1<<40, "")
	if err != nil {
		t.Fatal(err)
	}
	want := Bucket{Bucket: 1_000_000_000 / BucketSeconds, Model: Model{Name: "claude-opus-4-6"}, Tokens: price.Tokens{Input: 300010, Output: 22, Cache5m: 33, Cache1h: 44, CacheRead: 55},
		Above: price.Tokens{Input: 100000}, FirstTS: 1e15}
	if len(bs) != 1 || bs[0] != want {
		t.Fatalf("buckets after migration: %+v\nwant %+v", bs, want)
	}
	var v int
	if err := s.(*sqliteStore).w.QueryRow(`SELECT version FROM schema_version`).Scan(&v); err != nil || v != Version {
		t.Fatalf("schema version %d, %v; want %d", v, err, Version)
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

// Replacing a call moves its contribution between aggregates exactly.
func TestReplaceMovesAggregates(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, "sqlite://a.db", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	const hour = 3600e6
	if err := s.Commit(ctx, &Batch{Insert: []Call{call(1, 10*hour, "a", 5), call(2, 10*hour, "a", 7)}}); err != nil {
		t.Fatal(err)
	}
	moved := call(1, 20*hour, "b", 9)
	if err := s.Commit(ctx, &Batch{Replace: []Call{moved}}); err != nil {
		t.Fatal(err)
	}
	bs, err := s.Buckets(ctx, 0, 1<<40, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(bs) != 2 || bs[0].Model.Name != "a" || bs[0].Tokens.Input != 7 || bs[1].Model.Name != "b" || bs[1].Tokens.Input != 9 {
		t.Fatalf("buckets %+v", bs)
	}
	ss, err := s.Sessions(ctx, 0, 1<<62, "p")
	if err != nil || len(ss) != 2 {
		t.Fatalf("sessions %+v %v", ss, err)
	}
}
