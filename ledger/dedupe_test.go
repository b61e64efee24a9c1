package ledger

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// line writes one assistant line by hand.
func line(session, msg, req string, sidechain bool, ts string, in, out int64) string {
	ids := ""
	if msg != "" {
		ids += fmt.Sprintf(`"id":%q,`, msg)
	}
	r := ""
	if req != "" {
		r = fmt.Sprintf(`"requestId":%q,`, req)
	}
	return fmt.Sprintf(`{"type":"assistant","sessionId":%q,%s"isSidechain":%v,"timestamp":%q,"message":{%s"model":"claude-haiku-4-5","usage":{"input_tokens":%d,"output_tokens":%d}}}`+"\n",
		session, r, sidechain, ts, ids, in, out)
}

type tree struct {
	t    *testing.T
	root string
}

func newTree(t *testing.T) *tree {
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "projects"), 0o755); err != nil {
		t.Fatal(err)
	}
	return &tree{t, root}
}

func (tr *tree) write(rel string, lines ...string) {
	tr.t.Helper()
	p := filepath.Join(tr.root, "projects", rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		tr.t.Fatal(err)
	}
	s := ""
	for _, l := range lines {
		s += l
	}
	if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
		tr.t.Fatal(err)
	}
}

func (tr *tree) append(rel string, s string) {
	tr.t.Helper()
	f, err := os.OpenFile(filepath.Join(tr.root, "projects", rel), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		tr.t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(s); err != nil {
		tr.t.Fatal(err)
	}
}

func syncOK(t *testing.T, l *Ledger) SyncStats {
	t.Helper()
	st, err := l.Sync(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// want checks the ledger's call count and input/output totals.
func want(t *testing.T, l *Ledger, calls, in, out int64) {
	t.Helper()
	tot := totals(t, l)
	if got := l.State().Calls; got != calls || tot.InputTokens != in || tot.OutputTokens != out {
		t.Fatalf("calls %d, in %d, out %d; want %d, %d, %d", got, tot.InputTokens, tot.OutputTokens, calls, in, out)
	}
}

const ts = "2026-03-01T10:00:00.000Z"

func TestDedupeStreamingKeepsLargestNotLast(t *testing.T) {
	tr := newTree(t)
	tr.write("p/s.jsonl",
		line("s", "m1", "r1", false, ts, 10, 1),
		line("s", "m1", "r1", false, ts, 10, 50),
		line("s", "m1", "r1", false, ts, 10, 7), // a smaller snapshot after the largest
	)
	l, _ := open(t, []string{tr.root})
	syncOK(t, l)
	want(t, l, 1, 10, 50)
}

func TestDedupeAcrossFilesSessionsAndRoots(t *testing.T) {
	a, b := newTree(t), newTree(t)
	a.write("p/s1.jsonl", line("s1", "m1", "r1", false, ts, 10, 20))
	a.write("q/s2.jsonl", line("s2", "m1", "r1", false, ts, 10, 20)) // resumed copy in another project
	b.write("p/s1.jsonl", line("s1", "m1", "r1", false, ts, 10, 20)) // the same file under a second root
	l, _ := open(t, []string{a.root, b.root})
	syncOK(t, l)
	want(t, l, 1, 10, 20)
}

func TestDedupeSidechainReplay(t *testing.T) {
	for _, replayFirst := range []bool{false, true} {
		t.Run(fmt.Sprint("replayFirst=", replayFirst), func(t *testing.T) {
			tr := newTree(t)
			// In path order "s1.jsonl" comes before "s1/…": name the main
			// file so that it comes after the replay when asked.
			main := "p/s1.jsonl"
			if replayFirst {
				main = "p/z1.jsonl"
			}
			tr.write(main, line("s1", "m1", "r1", false, ts, 10, 100))
			tr.write("p/s1/subagents/agent-aside_question-x.jsonl", line("s1", "m1", "r2", true, "2026-03-01T10:00:05.000Z", 10, 100))
			l, home := open(t, []string{tr.root})
			syncOK(t, l)
			want(t, l, 1, 10, 100)
			// The surviving copy is the non-sidechain one.
			rep, err := l.Sessions(context.Background(), Query{})
			if err != nil || len(rep.Sessions) != 1 || rep.Sessions[0].LastActivity != ts {
				t.Fatalf("sessions %+v %v: want the main copy's time %s", rep, err, ts)
			}
			// Another copy of the main line, after a restart (the index is
			// rebuilt from the database): still one call.
			l.Close()
			tr.write("q/s9.jsonl", line("s9", "m1", "r1", false, ts, 10, 100))
			tr.write("q/s9/subagents/agent-y.jsonl", line("s9", "m1", "r3", true, ts, 10, 100))
			l2, err := Open(context.Background(), "sqlite://analytics.db", home, Options{Roots: []string{tr.root}})
			if err != nil {
				t.Fatal(err)
			}
			defer l2.Close()
			syncOK(t, l2)
			want(t, l2, 1, 10, 100)
		})
	}
}

// Two requests under one message.id, neither a sidechain: two calls.
func TestSameMessageTwoRequestsNoSidechain(t *testing.T) {
	tr := newTree(t)
	tr.write("p/s.jsonl", line("s", "m1", "r1", false, ts, 10, 1), line("s", "m1", "r2", false, ts, 10, 2))
	l, _ := open(t, []string{tr.root})
	syncOK(t, l)
	want(t, l, 2, 20, 3)
}

func TestDedupeNonSidechainBeatsLargerSidechain(t *testing.T) {
	tr := newTree(t)
	tr.write("p/a.jsonl", line("s", "m1", "r1", true, ts, 10, 999))
	tr.write("p/b.jsonl", line("s", "m1", "r1", false, ts, 10, 5))
	l, _ := open(t, []string{tr.root})
	syncOK(t, l)
	want(t, l, 1, 10, 5)
}

func TestDedupeWithoutRequestIDIsPerSession(t *testing.T) {
	tr := newTree(t)
	tr.write("p/s1.jsonl",
		line("s1", "m1", "", false, ts, 10, 1),
		line("s1", "m1", "", false, "2026-03-01T10:00:01.000Z", 10, 30), // another line of the response, later
	)
	tr.write("p/s2.jsonl", line("s2", "m1", "", false, ts, 10, 30)) // same message.id in another session
	l, _ := open(t, []string{tr.root})
	syncOK(t, l)
	want(t, l, 2, 20, 60)
}

func TestNoMessageIDNeverDeduplicatedNorDoubled(t *testing.T) {
	tr := newTree(t)
	same := line("s1", "", "r1", false, ts, 10, 1)
	tr.write("p/s1.jsonl", same, same)
	l, _ := open(t, []string{tr.root})
	syncOK(t, l)
	want(t, l, 2, 20, 2)
	// A rewrite of the file with the same bytes plus one more line: read
	// again from the start, nothing doubles.
	tr.write("p/s1.jsonl", same, same, same)
	syncOK(t, l)
	want(t, l, 3, 30, 3)
}

// The tie rule makes the survivor independent of reading order: equal
// copies in two files keep the smaller path's, whichever was read first.
func TestTieKeepsSmallerPath(t *testing.T) {
	tr := newTree(t)
	tr.write("p/b.jsonl", line("sb", "m1", "r1", false, "2026-03-02T10:00:00.000Z", 10, 5))
	l, _ := open(t, []string{tr.root})
	syncOK(t, l)
	tr.write("p/a.jsonl", line("sa", "m1", "r1", false, "2026-03-01T10:00:00.000Z", 10, 5))
	syncOK(t, l)
	rep, err := l.Daily(context.Background(), Query{})
	if err != nil || len(rep.Daily) != 1 || rep.Daily[0].Date != "2026-03-01" {
		t.Fatalf("daily %+v %v: want the copy of p/a.jsonl (2026-03-01)", rep, err)
	}
	want(t, l, 1, 10, 5)
}

// A replay read first, then the main copy, then another main copy (the
// same session under a second root): one call, in one process.
func TestDedupeReplayThenMainThenCopy(t *testing.T) {
	tr := newTree(t)
	tr.write("p/s1/subagents/agent-aside_question-x.jsonl", line("s1", "m1", "r2", true, ts, 10, 100))
	l, _ := open(t, []string{tr.root})
	syncOK(t, l)
	tr.write("p/s1.jsonl", line("s1", "m1", "r1", false, ts, 10, 100))
	syncOK(t, l)
	tr.write("q/s1.jsonl", line("s1", "m1", "r1", false, ts, 10, 100))
	syncOK(t, l)
	want(t, l, 1, 10, 100)
}
