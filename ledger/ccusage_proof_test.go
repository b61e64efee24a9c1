package ledger_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/anthropics/cco/internal/ccusage"
	"github.com/anthropics/cco/internal/transcripts"
	"github.com/anthropics/cco/ledger"
)

// openLedgerAt opens (creating) the ledger of the CCO_HOME home reading roots.
func openLedgerAt(t testing.TB, home string, roots []string) *ledger.Ledger {
	t.Helper()
	l, err := ledger.Open(context.Background(), "sqlite://analytics.db", home, ledger.Options{Roots: roots})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// openLedger opens a ledger in a new CCO_HOME.
func openLedger(t testing.TB, roots []string) *ledger.Ledger {
	t.Helper()
	return openLedgerAt(t, t.TempDir(), roots)
}

func syncLedger(t testing.TB, l *ledger.Ledger) ledger.SyncStats {
	t.Helper()
	st, err := l.Sync(context.Background())
	if err != nil {
		t.Fatalf("Sync: %v", err)
	}
	return st
}

// reportJSON is the ledger's report kind (daily, monthly, session) for q, as
// JSON.
func reportJSON(t testing.TB, l *ledger.Ledger, kind string, q ledger.Query) []byte {
	t.Helper()
	ctx := context.Background()
	var v any
	var err error
	switch kind {
	case "daily":
		v, err = l.Daily(ctx, q)
	case "monthly":
		v, err = l.Monthly(ctx, q)
	case "session":
		v, err = l.Sessions(ctx, q)
	default:
		t.Fatalf("no report %q", kind)
	}
	if err != nil {
		t.Fatalf("%s report: %v", kind, err)
	}
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// servedJSON is GET /api/usage/<kind>?<query> from the ledger's Handler.
func servedJSON(t testing.TB, l *ledger.Ledger, kind, query string) []byte {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, "/api/usage/"+kind+"?"+query, nil)
	rec := httptest.NewRecorder()
	l.Handler().ServeHTTP(rec, req)
	body, _ := io.ReadAll(rec.Body)
	if rec.Code != http.StatusOK {
		t.Fatalf("GET %s: %d %s", req.URL, rec.Code, body)
	}
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("GET %s: Content-Type %q, want application/json", req.URL, ct)
	}
	return body
}

// ccusageJSON is ccusage's report kind of roots, extra flags added.
func ccusageJSON(t testing.TB, roots []string, kind string, extra ...string) []byte {
	t.Helper()
	bin := ccusage.Need(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := ccusage.Run(ctx, bin, t.TempDir(), roots, kind, extra...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// sameJSON fails t with every difference between want and got (ccusage's
// rules: keys in order, tokens exact, costs within 1e-9 relative).
func sameJSON(t testing.TB, what string, want, got []byte) {
	t.Helper()
	diffs, err := ccusage.Diff(want, got, 20)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	if len(diffs) > 0 {
		t.Errorf("%s differs:\n  %s", what, strings.Join(diffs, "\n  "))
	}
}

// A tree written line by line, for the cases whose answer is written out
// by hand. Its calls are claude-opus-4-6 ($5 input, $25 output per
// million tokens) in the project -home-dev-w.
type handTree struct {
	t    testing.TB
	root string
}

func newHandTree(t testing.TB) handTree {
	root := filepath.Join(t.TempDir(), "claude")
	if err := os.MkdirAll(filepath.Join(root, "projects"), 0o755); err != nil {
		t.Fatal(err)
	}
	return handTree{t, root}
}

// path is rel under the project directory.
func (tr handTree) path(rel string) string {
	return filepath.Join(tr.root, "projects", "-home-dev-w", rel)
}

// write puts lines in the file rel of the project (created with its
// directories).
func (tr handTree) write(rel string, lines ...[]byte) {
	tr.t.Helper()
	p := tr.path(rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		tr.t.Fatal(err)
	}
	var b []byte
	for _, l := range lines {
		b = append(b, l...)
	}
	if err := os.WriteFile(p, b, 0o644); err != nil {
		tr.t.Fatal(err)
	}
}

// opus is one response of opus-4-6 in session sid with in and out tokens,
// at 2026-02-10 12:00 UTC plus sec seconds.
func opus(sid, msg, req string, sec int, in, out int64) transcripts.Call {
	return transcripts.Call{
		SessionID: sid, CWD: "/home/dev/w", Version: "2.1.9", GitBranch: "main",
		UUID: "uuid-" + msg + "-" + req + "-" + time.Duration(sec).String(), MessageID: msg, RequestID: req,
		Model: "claude-opus-4-6", Time: time.Date(2026, 2, 10, 12, 0, sec, 0, time.UTC),
		Usage: transcripts.Usage{Input: in, Output: out}, Block: transcripts.Block{Kind: "text", Text: "Done."},
	}
}
