package ledger

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/anthropics/cco/internal/transcripts"
)

// open opens a fresh ledger over roots in a temporary CCO_HOME.
func open(t testing.TB, roots []string) (*Ledger, string) {
	t.Helper()
	home := t.TempDir()
	l, err := Open(context.Background(), "sqlite://analytics.db", home, Options{Roots: roots})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l, home
}

func totals(t testing.TB, l *Ledger) Totals {
	t.Helper()
	rep, err := l.Daily(context.Background(), Query{})
	if err != nil {
		t.Fatal(err)
	}
	return rep.Totals
}

func sameTokens(t testing.TB, got Totals, want transcripts.Tokens) {
	t.Helper()
	if got.InputTokens != want.Input || got.OutputTokens != want.Output || got.CacheCreationTokens != want.CacheCreation || got.CacheReadTokens != want.CacheRead {
		t.Fatalf("tokens in/out/cc/cr %d/%d/%d/%d, want %d/%d/%d/%d", got.InputTokens, got.OutputTokens, got.CacheCreationTokens, got.CacheReadTokens,
			want.Input, want.Output, want.CacheCreation, want.CacheRead)
	}
}

// A generated tree with every case: the ledger holds exactly the calls and
// tokens the generator says it wrote, and counts its malformed lines.
func TestSyncGeneratedTree(t *testing.T) {
	dir := t.TempDir()
	exp, err := transcripts.Generate(dir, transcripts.Spec{Seed: 7, Roots: 2, Bytes: 4 << 20, Cases: transcripts.All})
	if err != nil {
		t.Fatal(err)
	}
	l, _ := open(t, exp.Roots)
	st, err := l.Sync(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if st.Files != exp.Files || st.Lines != exp.Lines {
		t.Errorf("sync saw %d files, %d lines; the tree has %d, %d", st.Files, st.Lines, exp.Files, exp.Lines)
	}
	s := l.State()
	if s.Calls != int64(exp.Calls) || s.Malformed != int64(exp.Malformed) || s.Files != int64(exp.Files) {
		t.Errorf("state calls %d malformed %d files %d; want %d, %d, %d", s.Calls, s.Malformed, s.Files, exp.Calls, exp.Malformed, exp.Files)
	}
	sameTokens(t, totals(t, l), exp.Tokens)

	// A second sync finds nothing new and changes nothing.
	gen := l.State().Generation
	st, err = l.Sync(context.Background())
	if err != nil || st.Read != 0 || st.Calls != 0 || l.State().Generation != gen {
		t.Fatalf("second sync: %+v %v, generation %d→%d", st, err, gen, l.State().Generation)
	}
	sameTokens(t, totals(t, l), exp.Tokens)
}

// Reading in any order and any number of rounds gives the same ledger:
// a fresh ledger over the same tree, synced in one go, agrees.
func TestReopenKeepsLedger(t *testing.T) {
	dir := t.TempDir()
	exp, err := transcripts.Generate(dir, transcripts.Spec{Seed: 3, Roots: 1, Bytes: 1 << 20, Cases: transcripts.All})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	home := t.TempDir()
	l, err := Open(ctx, "sqlite://analytics.db", home, Options{Roots: exp.Roots})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	l.Close()
	l, err = Open(ctx, "sqlite://"+filepath.Join(home, "analytics.db"), "", Options{Roots: exp.Roots})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	st, err := l.Sync(ctx)
	if err != nil || st.Read != 0 {
		t.Fatalf("sync after reopening read %d files: %v", st.Read, err)
	}
	if s := l.State(); s.Calls != int64(exp.Calls) {
		t.Fatalf("calls %d, want %d", s.Calls, exp.Calls)
	}
	sameTokens(t, totals(t, l), exp.Tokens)
	_ = time.Second
}
