package ledger_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"net/url"
	"testing"
	"time"

	"github.com/anthropics/cco/internal/transcripts"
	"github.com/anthropics/cco/ledger"
)

// TestSameAsCcusage: on generated trees holding every case where ccusage
// counts right (several roots and projects, sessions across days, months,
// a year's end and midnight UTC, streaming snapshots, resumed-session
// copies, the same file under two roots, subagent files and their
// progress mirrors, /btw replays, advisor iterations, <synthetic>, fast
// mode, 1-hour cache writes, long context, costUSD, gateway lines without
// requestId, malformed lines, an unpriced model), the ledger's daily,
// monthly and session reports, from the library and over HTTP, equal
// ccusage's row by row, unfiltered, filtered by date and project, and in
// other time zones.
func TestSameAsCcusage(t *testing.T) {
	for _, spec := range []transcripts.Spec{
		{Seed: 11, Roots: 2, Projects: 4, Bytes: 6 << 20, Cases: transcripts.Agreeing},
		{Seed: 12, Roots: 3, Projects: 2, Bytes: 2 << 20, Cases: transcripts.Agreeing,
			Start: time.Date(2025, 12, 20, 0, 0, 0, 0, time.UTC), Days: 40},
	} {
		t.Run(fmt.Sprintf("seed%d", spec.Seed), func(t *testing.T) {
			exp, err := transcripts.Generate(t.TempDir(), spec)
			if err != nil {
				t.Fatal(err)
			}
			l := openLedger(t, exp.Roots)
			syncLedger(t, l)
			st := l.State()
			if st.Calls != int64(exp.Calls) || st.Malformed != int64(exp.Malformed) || st.Files != int64(exp.Files) {
				t.Errorf("State: %d calls, %d malformed lines, %d files; the tree holds %d, %d, %d",
					st.Calls, st.Malformed, st.Files, exp.Calls, exp.Malformed, exp.Files)
			}
			day0 := spec.Start.AddDate(0, 0, 9)
			day1 := spec.Start.AddDate(0, 0, 30)
			for _, f := range []struct {
				name  string
				q     ledger.Query
				http  url.Values
				flags []string
				daily bool // ccusage has the filter in its daily report only
			}{
				{"all", ledger.Query{Location: time.UTC}, url.Values{"timezone": {"UTC"}}, nil, false},
				{"since-until", ledger.Query{Since: day0.Format("20060102"), Until: day1.Format("2006-01-02"), Location: time.UTC},
					url.Values{"timezone": {"UTC"}, "since": {day0.Format("20060102")}, "until": {day1.Format("20060102")}},
					[]string{"--since", day0.Format("20060102"), "--until", day1.Format("20060102")}, false},
				{"project", ledger.Query{Project: "-home-dev-code-project-1"},
					url.Values{"project": {"-home-dev-code-project-1"}}, []string{"--project=-home-dev-code-project-1"}, true},
				// days derived at query time: a half-hour offset, and a zone
				// whose offset changes (8 March 2026) inside the trees
				{"kolkata", ledger.Query{Location: zone(t, "Asia/Kolkata")},
					url.Values{"timezone": {"Asia/Kolkata"}}, []string{"--timezone", "Asia/Kolkata"}, false},
				{"los-angeles", ledger.Query{Location: zone(t, "America/Los_Angeles"), Since: "20260301", Until: "20260315"},
					url.Values{"timezone": {"America/Los_Angeles"}, "since": {"2026-03-01"}, "until": {"2026-03-15"}},
					[]string{"--timezone", "America/Los_Angeles", "--since", "20260301", "--until", "20260315"}, false},
			} {
				for _, kind := range reports {
					if f.daily && kind != "daily" {
						continue
					}
					want := ccusageJSON(t, exp.Roots, kind, f.flags...)
					sameJSON(t, kind+" "+f.name, want, reportJSON(t, l, kind, f.q))
					sameJSON(t, "GET "+kind+" "+f.name, want, servedJSON(t, l, kind, f.http.Encode()))
				}
			}
		})
	}
}

func zone(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

// TestSameAsCcusageAfterReopen: a second process's view (the CLI reading
// the database while the daemon is stopped) answers the same.
func TestSameAsCcusageAfterReopen(t *testing.T) {
	exp, err := transcripts.Generate(t.TempDir(), transcripts.Spec{Seed: 13, Roots: 2, Bytes: 1 << 20, Cases: transcripts.Agreeing})
	if err != nil {
		t.Fatal(err)
	}
	home := t.TempDir()
	l := openLedgerAt(t, home, exp.Roots)
	syncLedger(t, l)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	ro, err := ledger.OpenReadOnly(t.Context(), "sqlite://analytics.db", home, ledger.Options{Roots: exp.Roots})
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	for _, kind := range []string{"daily", "monthly", "session"} {
		sameJSON(t, kind+" read-only", ccusageJSON(t, exp.Roots, kind), reportJSON(t, ro, kind, ledger.Query{}))
	}
}

// answer is one report's totals, written out by hand.
type answer struct {
	in, out, total int64
	cost           float64
}

// is reports whether a and b agree: tokens exactly, cost within 1e-9
// relative.
func (a answer) is(b answer) bool {
	return a.in == b.in && a.out == b.out && a.total == b.total &&
		math.Abs(a.cost-b.cost) <= 1e-9*math.Max(math.Abs(a.cost), math.Abs(b.cost))
}

// doc is a report of one row of claude-opus-4-6 calls, in ccusage's JSON:
// kind daily (key the date), monthly (the month) or session (key the
// session id, first and last its activity).
func doc(kind, key string, a answer, first, last string) []byte {
	bd := fmt.Sprintf(`"modelBreakdowns":[{"cacheCreationTokens":0,"cacheReadTokens":0,"cost":%v,"inputTokens":%d,"modelName":"claude-opus-4-6","outputTokens":%d}],"modelsUsed":["claude-opus-4-6"]`, a.cost, a.in, a.out)
	tail := fmt.Sprintf(`"outputTokens":%d,"totalCost":%v,"totalTokens":%d`, a.out, a.cost, a.total)
	totals := fmt.Sprintf(`"totals":{"cacheCreationTokens":0,"cacheReadTokens":0,"inputTokens":%d,"outputTokens":%d,"totalCost":%v,"totalTokens":%d}`, a.in, a.out, a.cost, a.total)
	var row string
	switch kind {
	case "daily":
		row = fmt.Sprintf(`{"cacheCreationTokens":0,"cacheReadTokens":0,"date":%q,"inputTokens":%d,%s,%s}`, key, a.in, bd, tail)
	case "monthly":
		row = fmt.Sprintf(`{"cacheCreationTokens":0,"cacheReadTokens":0,"inputTokens":%d,%s,"month":%q,%s}`, a.in, bd, key, tail)
	case "session":
		row = fmt.Sprintf(`{"cacheCreationTokens":0,"cacheReadTokens":0,"firstActivity":%q,"inputTokens":%d,"lastActivity":%q,%s,%s,"projectPath":"-home-dev-w","sessionId":%q,"totalCost":%v,"totalTokens":%d}`,
			first, a.in, last, bd, fmt.Sprintf(`"outputTokens":%d`, a.out), key, a.cost, a.total)
		return []byte(`{"sessions":[` + row + `],` + totals + `}`)
	}
	key = map[string]string{"daily": "daily", "monthly": "monthly"}[kind]
	return []byte(`{"` + key + `":[` + row + `],` + totals + `}`)
}

// totalsOf is the totals object of a report.
func totalsOf(t *testing.T, report []byte) answer {
	t.Helper()
	var v struct {
		Totals struct {
			In    int64   `json:"inputTokens"`
			Out   int64   `json:"outputTokens"`
			Total int64   `json:"totalTokens"`
			Cost  float64 `json:"totalCost"`
		} `json:"totals"`
	}
	if err := json.Unmarshal(report, &v); err != nil {
		t.Fatal(err)
	}
	return answer{v.Totals.In, v.Totals.Out, v.Totals.Total, v.Totals.Cost}
}

// The deliberate differences. Each tree holds the call A (session s1, 1000
// input and 2000 output tokens of opus-4-6: $0.055) and, but for the last
// case, the call B (3000 and 4000: $0.115), written in the way the case
// names, on 2026-02-10 from 12:00:00 UTC. ccusage's answer is asserted
// too: the difference is real, and a later ccusage that fixes it shows up
// here.
var (
	onlyA   = answer{1000, 2000, 3000, 0.055}
	bothAB  = answer{4000, 6000, 10000, 0.17}
	callA   = opus("s1", "msg_A", "req_A", 0, 1000, 2000)
	callB   = opus("s1", "msg_B", "req_B", 10, 3000, 4000)
	first   = "2026-02-10T12:00:00.000Z"
	lastB   = "2026-02-10T12:00:10.000Z"
	reports = []string{"daily", "monthly", "session"}
)

func TestDiffersFromCcusage(t *testing.T) {
	for _, c := range []struct {
		name  string
		build func(tr handTree)
		// ccusage's totals per report; cco's answer is bothAB in every
		// report, s1 its one session, unless cco says otherwise.
		ccusage map[string]answer
		cco     answer
		lastAct string
	}{
		{
			name: "whitespace JSON: a line written with spaces is skipped by ccusage's byte search for \"usage\":{",
			build: func(tr handTree) {
				tr.write("s1.jsonl", callA.AssistantLine(), transcripts.Spaced(callB.AssistantLine()))
			},
			ccusage: map[string]answer{"daily": onlyA, "monthly": onlyA, "session": onlyA},
		},
		{
			name: "null in a tool input: ccusage drops a line with \"model\":null anywhere in it",
			build: func(tr handTree) {
				b := callB
				b.Block = transcripts.Block{Kind: "tool_use", Name: "Task", ID: "toolu_1",
					Input: json.RawMessage(`{"description":"Look","prompt":"Find it","subagent_type":"general-purpose","model":null}`)}
				tr.write("s1.jsonl", callA.AssistantLine(), b.AssistantLine())
			},
			ccusage: map[string]answer{"daily": onlyA, "monthly": onlyA, "session": onlyA},
		},
		{
			name: "microsecond timestamps: ccusage accepts only milliseconds",
			build: func(tr handTree) {
				b := callB
				b.Micro = true
				tr.write("s1.jsonl", callA.AssistantLine(), b.AssistantLine())
			},
			ccusage: map[string]answer{"daily": onlyA, "monthly": onlyA, "session": onlyA},
		},
		{
			name: "non-semver version: ccusage drops a line whose version is not digits.digits.digit",
			build: func(tr handTree) {
				b := callB
				b.Version = "dev"
				tr.write("s1.jsonl", callA.AssistantLine(), b.AssistantLine())
			},
			ccusage: map[string]answer{"daily": onlyA, "monthly": onlyA, "session": onlyA},
		},
		{
			name: "bad UTF-8 in a text block: ccusage drops the whole line",
			build: func(tr handTree) {
				b := callB
				b.Block.Text = "café"
				tr.write("s1.jsonl", callA.AssistantLine(), bytes.Replace(b.AssistantLine(), []byte("café"), []byte("caf\xe9"), 1))
			},
			ccusage: map[string]answer{"daily": onlyA, "monthly": onlyA, "session": onlyA},
		},
		{
			name: "progress-only call: a subagent call left only as its agent_progress mirror counts in ccusage's daily report alone",
			build: func(tr handTree) {
				task := callA
				task.Block = transcripts.Block{Kind: "tool_use", Name: "Task", ID: "toolu_task"}
				b := callB
				b.Sidechain, b.AgentID = true, "a1b2c3"
				tr.write("s1.jsonl", callA.AssistantLine(), b.ProgressLine(task, b.Time.Add(50*time.Millisecond)))
			},
			ccusage: map[string]answer{"daily": bothAB, "monthly": onlyA, "session": onlyA},
		},
		{
			name: "session by the sessionId field: a 2.0.x subagent log agent-<id>.jsonl belongs to its parent session, not a session of its own",
			build: func(tr handTree) {
				b := callB
				b.Sidechain, b.AgentID = true, "x1"
				tr.write("s1.jsonl", callA.AssistantLine())
				tr.write("agent-x1.jsonl", b.AssistantLine())
			},
			// ccusage's totals agree; its rows do not (asserted below).
			ccusage: map[string]answer{"daily": bothAB, "monthly": bothAB, "session": bothAB},
		},
		{
			name: "requestless copies: the lines of one gateway response (no requestId) at different times are one call, not one per line as in ccusage's daily report",
			build: func(tr handTree) {
				b1, b2 := callB, callB
				b1.RequestID, b2.RequestID = "", ""
				b2.UUID, b2.Time, b2.Block = "uuid-b2", b2.Time.Add(time.Second), transcripts.Block{Kind: "text", Text: "More."}
				tr.write("s1.jsonl", callA.AssistantLine(), b1.AssistantLine(), b2.AssistantLine())
			},
			ccusage: map[string]answer{"daily": {7000, 10000, 17000, 0.285}, "monthly": bothAB, "session": bothAB},
		},
		{
			name: "/btw replay at another time: a sidechain replay of A under a new requestId is A again (ccusage's monthly and session reports count it twice unless the times are equal)",
			build: func(tr handTree) {
				rp := callA
				rp.Sidechain, rp.AgentID, rp.RequestID, rp.UUID = true, "aside_question-1", "req_A2", "uuid-replay"
				rp.Time = rp.Time.Add(5 * time.Second)
				tr.write("s1.jsonl", callA.AssistantLine())
				tr.write("s1/subagents/agent-aside_question-1.jsonl", rp.AssistantLine())
			},
			ccusage: map[string]answer{"daily": onlyA, "monthly": {2000, 4000, 6000, 0.11}, "session": {2000, 4000, 6000, 0.11}},
			cco:     onlyA,
			lastAct: first,
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			tr := newHandTree(t)
			c.build(tr)
			roots := []string{tr.root}
			for _, kind := range reports {
				if got := totalsOf(t, ccusageJSON(t, roots, kind)); !got.is(c.ccusage[kind]) {
					t.Errorf("ccusage %s: totals %+v; this case expects %+v", kind, got, c.ccusage[kind])
				}
			}
			l := openLedger(t, roots)
			syncLedger(t, l)
			want := c.cco
			if want == (answer{}) {
				want = bothAB
			}
			last := c.lastAct
			if last == "" {
				last = lastB
			}
			for _, kind := range reports {
				key := map[string]string{"daily": "2026-02-10", "monthly": "2026-02", "session": "s1"}[kind]
				d := doc(kind, key, want, first, last)
				sameJSON(t, "cco "+kind, d, reportJSON(t, l, kind, ledger.Query{}))
				sameJSON(t, "cco GET "+kind, d, servedJSON(t, l, kind, "timezone=UTC"))
			}
		})
	}
}

// TestCcusageSplitsSessionsByPath shows the rows behind the sessionId case
// above: ccusage reports the 2.0.x subagent log as a session named after
// its file.
func TestCcusageSplitsSessionsByPath(t *testing.T) {
	tr := newHandTree(t)
	b := callB
	b.Sidechain, b.AgentID = true, "x1"
	tr.write("s1.jsonl", callA.AssistantLine())
	tr.write("agent-x1.jsonl", b.AssistantLine())
	var v struct {
		Sessions []struct {
			SessionID string  `json:"sessionId"`
			Cost      float64 `json:"totalCost"`
		} `json:"sessions"`
	}
	if err := json.Unmarshal(ccusageJSON(t, []string{tr.root}, "session"), &v); err != nil {
		t.Fatal(err)
	}
	got := fmt.Sprint(v.Sessions)
	if want := "[{agent-x1 0.115} {s1 0.055}]"; got != want {
		t.Errorf("ccusage's sessions: %s, want %s", got, want)
	}
}

// TestSameAsCcusageSmallTrees: the order rules of ccusage's rows, each on
// the smallest tree that shows it, compared with ccusage itself.
func TestSameAsCcusageSmallTrees(t *testing.T) {
	haiku := func(c transcripts.Call) transcripts.Call {
		c.Model = "claude-haiku-4-5-20251001"
		return c
	}
	for _, c := range []struct {
		name  string
		build func(tr handTree)
	}{
		{"a day's models in file path order and not time order", func(tr handTree) {
			tr.write("s1.jsonl", haiku(opus("s1", "msg_H", "req_H", 50, 10, 10)).AssistantLine())
			tr.write("s2.jsonl", opus("s2", "msg_O", "req_O", 5, 10, 10).AssistantLine())
		}},
		{"a month's models by day then path order within each day and a session's in path order", func(tr handTree) {
			h := haiku(opus("s1", "msg_H", "req_H", 50, 10, 10))
			h.Time = h.Time.AddDate(0, 0, 1)
			tr.write("s1.jsonl", h.AssistantLine())
			tr.write("s1/subagents/agent-x.jsonl", opus("s1", "msg_O", "req_O", 5, 10, 10).AssistantLine())
		}},
		{"a line's own call before its advisor iterations", func(tr handTree) {
			c := opus("s1", "msg_A", "req_A", 0, 1000, 2000)
			c.Model = "claude-sonnet-4-6"
			c.Usage.Advisor = []transcripts.AdvisorUsage{{Model: "claude-opus-4-6", Input: 100, Output: 10}}
			tr.write("s1.jsonl", c.AssistantLine())
		}},
		{"a call placed where its first copy is though a later copy is kept", func(tr handTree) {
			small := opus("s2", "msg_X", "req_X", 0, 10, 1)
			big := opus("s9", "msg_X", "req_X", 0, 10, 500)
			tr.write("s2.jsonl", small.AssistantLine())
			tr.write("s3.jsonl", haiku(opus("s3", "msg_H", "req_H", 1, 10, 10)).AssistantLine())
			tr.write("s9.jsonl", big.AssistantLine())
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			tr := newHandTree(t)
			c.build(tr)
			roots := []string{tr.root}
			l := openLedger(t, roots)
			syncLedger(t, l)
			for _, kind := range reports {
				sameJSON(t, kind, ccusageJSON(t, roots, kind), reportJSON(t, l, kind, ledger.Query{}))
			}
		})
	}
}
