package ledger_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/anthropics/cco/internal/transcripts"
	"github.com/anthropics/cco/ledger"
)

// dailyTotals is the ledger's daily report totals (UTC, unfiltered).
func dailyTotals(t *testing.T, l *ledger.Ledger) answer {
	t.Helper()
	return totalsOf(t, reportJSON(t, l, "daily", ledger.Query{}))
}

func wantTotals(t *testing.T, when string, got, want answer) {
	t.Helper()
	if !got.is(want) {
		t.Errorf("%s: totals %+v, want %+v", when, got, want)
	}
}

// Calls beyond A and B of the hand-written trees (ccusage_test.go).
var (
	callC = opus("s1", "msg_C", "req_C", 20, 5000, 6000) // $0.175
	callD = opus("s1", "msg_D", "req_D", 10, 7000, 8000) // $0.235; its line is as long as B's
)

func TestAppendedLineIsInNextSync(t *testing.T) {
	tr := newHandTree(t)
	tr.write("s1.jsonl", callA.AssistantLine())
	l := openLedger(t, []string{tr.root})
	syncLedger(t, l)
	wantTotals(t, "first sync", dailyTotals(t, l), onlyA)
	if err := transcripts.AppendLine(tr.path("s1.jsonl"), callB.AssistantLine()); err != nil {
		t.Fatal(err)
	}
	syncLedger(t, l)
	wantTotals(t, "after B was appended", dailyTotals(t, l), bothAB)
	// a new project and session appear
	c := callC
	c.SessionID = "s2"
	tr.write("../-home-dev-other/s2.jsonl", c.AssistantLine())
	syncLedger(t, l)
	wantTotals(t, "after a new project", dailyTotals(t, l), answer{9000, 12000, 21000, 0.345})
	for _, kind := range reports {
		sameJSON(t, kind, ccusageJSON(t, []string{tr.root}, kind), reportJSON(t, l, kind, ledger.Query{}))
	}
}

func TestPartialLastLineWaitsForItsNewline(t *testing.T) {
	tr := newHandTree(t)
	tr.write("s1.jsonl", callA.AssistantLine())
	l := openLedger(t, []string{tr.root})
	syncLedger(t, l)
	line := callB.AssistantLine()
	for _, cut := range []int{1, len(line) / 2, len(line) - 1} {
		if err := transcripts.AppendPartial(tr.path("s1.jsonl"), line[:cut]); err != nil {
			t.Fatal(err)
		}
		syncLedger(t, l)
		wantTotals(t, fmt.Sprintf("with %d of %d bytes of B written", cut, len(line)), dailyTotals(t, l), onlyA)
		if st := l.State(); st.Malformed != 0 {
			t.Errorf("a partial line was counted as malformed (%d)", st.Malformed)
		}
		// Claude Code finishes the line: what remains of it is appended.
		if err := transcripts.Replace(tr.path("s1.jsonl"), callA.AssistantLine()); err != nil {
			t.Fatal(err)
		}
		syncLedger(t, l)
	}
	if err := transcripts.AppendPartial(tr.path("s1.jsonl"), line[:40]); err != nil {
		t.Fatal(err)
	}
	syncLedger(t, l)
	if err := transcripts.AppendPartial(tr.path("s1.jsonl"), line[40:]); err != nil {
		t.Fatal(err)
	}
	syncLedger(t, l)
	wantTotals(t, "once B's newline arrived", dailyTotals(t, l), bothAB)
	if st := l.State(); st.Malformed != 0 {
		t.Errorf("%d malformed lines; B was written in two pieces, never malformed", st.Malformed)
	}
}

func TestTruncatedFileIsReadAgain(t *testing.T) {
	tr := newHandTree(t)
	a := callA.AssistantLine()
	tr.write("s1.jsonl", a, callB.AssistantLine())
	l := openLedger(t, []string{tr.root})
	syncLedger(t, l)
	wantTotals(t, "before", dailyTotals(t, l), bothAB)
	if err := os.Truncate(tr.path("s1.jsonl"), int64(len(a))); err != nil {
		t.Fatal(err)
	}
	syncLedger(t, l)
	wantTotals(t, "after truncation to A (B's row stays)", dailyTotals(t, l), bothAB)
	// The file grows past its old size again, with a longer line: a reader
	// that kept its old offset would start in the middle of C.
	c := callC
	c.Block.Text = "A longer answer than B's, so that the file ends beyond where it ended before."
	if err := transcripts.AppendLine(tr.path("s1.jsonl"), c.AssistantLine()); err != nil {
		t.Fatal(err)
	}
	syncLedger(t, l)
	wantTotals(t, "after C was appended", dailyTotals(t, l), answer{9000, 12000, 21000, 0.345})
	if st := l.State(); st.Malformed != 0 {
		t.Errorf("%d malformed lines; the file never held one", st.Malformed)
	}
}

func TestReplacedFileIsReadAgain(t *testing.T) {
	tr := newHandTree(t)
	a, b, d := callA.AssistantLine(), callB.AssistantLine(), callD.AssistantLine()
	if len(b) != len(d) {
		t.Fatalf("B and D must be as long as each other (%d, %d) for the replacement to keep the size", len(b), len(d))
	}
	tr.write("s1.jsonl", a, b)
	l := openLedger(t, []string{tr.root})
	syncLedger(t, l)
	if err := transcripts.Replace(tr.path("s1.jsonl"), append(append([]byte(nil), a...), d...)); err != nil {
		t.Fatal(err)
	}
	syncLedger(t, l)
	wantTotals(t, "after [A B] was replaced by [A D] of the same size", dailyTotals(t, l), answer{11000, 14000, 25000, 0.405})
}

// TestDeletedTranscriptsKeepTheirCalls: Claude Code deletes transcripts
// after 30 days; the ledger keeps what it read, across a restart too.
func TestDeletedTranscriptsKeepTheirCalls(t *testing.T) {
	exp, err := transcripts.Generate(t.TempDir(), transcripts.Spec{Seed: 21, Roots: 2, Bytes: 1 << 20, Cases: transcripts.All})
	if err != nil {
		t.Fatal(err)
	}
	home := t.TempDir()
	l := openLedgerAt(t, home, exp.Roots)
	syncLedger(t, l)
	before := map[string][]byte{}
	for _, kind := range reports {
		before[kind] = reportJSON(t, l, kind, ledger.Query{})
	}
	if got := dailyTotals(t, l); got.in != exp.Tokens.Input || got.out != exp.Tokens.Output || got.total != exp.Tokens.Total() {
		t.Errorf("totals %+v; the tree holds %+v", got, exp.Tokens)
	}
	for _, root := range exp.Roots {
		ents, err := os.ReadDir(filepath.Join(root, "projects"))
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range ents {
			if err := os.RemoveAll(filepath.Join(root, "projects", e.Name())); err != nil {
				t.Fatal(err)
			}
		}
	}
	syncLedger(t, l)
	for _, kind := range reports {
		sameJSON(t, kind+" after every transcript was deleted", before[kind], reportJSON(t, l, kind, ledger.Query{}))
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l = openLedgerAt(t, home, exp.Roots)
	syncLedger(t, l)
	for _, kind := range reports {
		sameJSON(t, kind+" after a restart", before[kind], reportJSON(t, l, kind, ledger.Query{}))
	}
}

// TestAnswerReflectsLinesWrittenBeforeTheQuestion: under Run (file system
// events), a line appended before a query is in its answer, unless the
// answer says it is partial, and it arrives in the end either way; so is a
// file in a directory created while it runs.
func TestAnswerReflectsLinesWrittenBeforeTheQuestion(t *testing.T) {
	tr := newHandTree(t)
	tr.write("s1.jsonl", callA.AssistantLine())
	l := openLedger(t, []string{tr.root})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- l.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil && err != context.Canceled {
			t.Errorf("Run: %v", err)
		}
	}()
	h := l.Handler()
	get := func() (answer, bool) {
		req := httptest.NewRequest(http.MethodGet, "/api/usage/daily", nil)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			t.Fatalf("GET daily: %d %s", rec.Code, rec.Body)
		}
		return totalsOf(t, rec.Body.Bytes()), rec.Header().Get("X-CCO-Partial") == "1"
	}
	want := onlyA
	for got, partial := get(); partial || !got.is(want); got, partial = get() {
		if !partial {
			t.Fatalf("before any append: %+v without the partial marker, want %+v", got, want)
		}
	}
	partials := 0
	// expect checks the next answer holds what was written before it (what):
	// an answer marked partial may lag, and is asked again until it holds it.
	expect := func(what string) {
		t.Helper()
		got, partial := get()
		if partial {
			partials++
			deadline := time.Now().Add(10 * time.Second)
			for ; partial || !got.is(want); got, partial = get() {
				if time.Now().After(deadline) {
					t.Fatalf("%s never arrived: %+v, want %+v", what, got, want)
				}
			}
		}
		if !got.is(want) {
			t.Fatalf("%s, written before the query, is missing from its answer: %+v, want %+v", what, got, want)
		}
	}
	const rounds = 50
	for i := range rounds {
		c := opus("s1", fmt.Sprintf("msg_L%03d", i), fmt.Sprintf("req_L%03d", i), 30+i, 100, 10) // $0.00075
		if err := transcripts.AppendLine(tr.path("s1.jsonl"), c.AssistantLine()); err != nil {
			t.Fatal(err)
		}
		want = answer{want.in + 100, want.out + 10, want.total + 110, want.cost + 0.00075}
		expect(fmt.Sprintf("round %d: the appended line", i))
	}
	// New directories and files appear while it runs: a project, a
	// session, a subagent's nested directory.
	for i, rel := range []string{"../-home-dev-new/s5.jsonl", "s6.jsonl", "s1/subagents/agent-z.jsonl"} {
		c := opus("s1", fmt.Sprintf("msg_N%d", i), fmt.Sprintf("req_N%d", i), 90+i, 100, 10)
		tr.write(rel, c.AssistantLine())
		want = answer{want.in + 100, want.out + 10, want.total + 110, want.cost + 0.00075}
		expect(rel + ": the new file")
	}
	t.Logf("%d of %d answers were partial", partials, rounds+3)
}
