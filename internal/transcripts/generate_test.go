package transcripts

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	_ "github.com/anthropics/cco/internal/golden" // its -update flag: `go test ./... -update` works from the root
)

// reparsed is what a plain reading of a tree finds, independently of the
// generator's bookkeeping.
type reparsed struct {
	files, lines, usageLines, malformed int
	bytes                               int64
	calls                               map[string]int64 // key → largest token total
	tokens                              map[string]Tokens
	cases                               map[Case]int // lines showing each line-level case
}

type rawUsage struct {
	Input         int64 `json:"input_tokens"`
	Output        int64 `json:"output_tokens"`
	CacheCreation int64 `json:"cache_creation_input_tokens"`
	CacheRead     int64 `json:"cache_read_input_tokens"`
	Split         *struct {
		M5 int64 `json:"ephemeral_5m_input_tokens"`
		H1 int64 `json:"ephemeral_1h_input_tokens"`
	} `json:"cache_creation"`
	Iterations []struct {
		Type      string `json:"type"`
		Input     int64  `json:"input_tokens"`
		Output    int64  `json:"output_tokens"`
		CacheRead int64  `json:"cache_read_input_tokens"`
	} `json:"iterations"`
}

func (u rawUsage) tokens() Tokens {
	t := Tokens{Input: u.Input, Output: u.Output, CacheCreation: u.CacheCreation, CacheRead: u.CacheRead}
	if u.Split != nil {
		t.CacheCreation = u.Split.M5 + u.Split.H1
	}
	return t
}

type rawMessage struct {
	ID    string    `json:"id"`
	Usage *rawUsage `json:"usage"`
}

type rawLine struct {
	Type        string      `json:"type"`
	SessionID   string      `json:"sessionId"`
	RequestID   string      `json:"requestId"`
	IsSidechain bool        `json:"isSidechain"`
	Timestamp   string      `json:"timestamp"`
	Message     *rawMessage `json:"message"`
	Data        *struct {
		Type    string `json:"type"`
		Message *struct {
			RequestID string      `json:"requestId"`
			Message   *rawMessage `json:"message"`
		} `json:"message"`
	} `json:"data"`
}

var microStamp = regexp.MustCompile(`"timestamp":"[^"]*\.\d{6}Z"`)

// reparse reads every *.jsonl below roots and counts calls by cco's rules.
func reparse(t *testing.T, roots []string) reparsed {
	t.Helper()
	r := reparsed{calls: map[string]int64{}, tokens: map[string]Tokens{}, cases: map[Case]int{}}
	ids := map[string][]string{} // message.id → keys seen
	sidechain := map[string]bool{}
	for _, root := range roots {
		err := filepath.WalkDir(filepath.Join(root, "projects"), func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(path, ".jsonl") {
				return err
			}
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			r.files++
			r.bytes += int64(len(b))
			if len(b) > 0 && b[len(b)-1] != '\n' {
				t.Errorf("%s does not end with a newline", path)
			}
			for _, line := range bytes.SplitAfter(b, []byte("\n")) {
				if len(line) == 0 {
					continue
				}
				r.lines++
				var l rawLine
				if err := json.Unmarshal(line, &l); err != nil {
					r.malformed++
					continue
				}
				if bytes.Contains(line, []byte(`"usage": {`)) {
					r.cases[Whitespace]++
				}
				if !utf8.Valid(line) {
					r.cases[BadUTF8]++
				}
				if microStamp.Match(line) {
					r.cases[Micro]++
				}
				if bytes.Contains(line, []byte(`"model":null`)) {
					r.cases[NullInput]++
				}
				msg, req := l.Message, l.RequestID
				if l.Type == "progress" && l.Data != nil && l.Data.Message != nil {
					msg, req = l.Data.Message.Message, l.Data.Message.RequestID
				}
				if l.Type != "assistant" && l.Type != "progress" || msg == nil || msg.Usage == nil {
					continue
				}
				r.usageLines++
				key := msg.ID + "\x00" + req
				if req == "" {
					key = l.SessionID + "\x00" + msg.ID + "\x00"
				}
				if _, seen := r.calls[key]; !seen {
					// a sidechain replay of a message under another requestId
					for _, k := range ids[msg.ID] {
						if l.IsSidechain || sidechain[k] {
							key = k
							break
						}
					}
				}
				ids[msg.ID] = append(ids[msg.ID], key)
				sidechain[key] = sidechain[key] || l.IsSidechain
				tok := msg.Usage.tokens()
				if old, seen := r.calls[key]; !seen || tok.Total() > old {
					r.calls[key], r.tokens[key] = tok.Total(), tok
				}
				for i, it := range msg.Usage.Iterations {
					if it.Type == "advisor_message" {
						k := key + "\x00advisor" + string(rune('0'+i))
						tok := Tokens{Input: it.Input, Output: it.Output, CacheRead: it.CacheRead}
						r.calls[k], r.tokens[k] = tok.Total(), tok
					}
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return r
}

func (r reparsed) total() Tokens {
	var s Tokens
	for _, t := range r.tokens {
		s.Input += t.Input
		s.Output += t.Output
		s.CacheCreation += t.CacheCreation
		s.CacheRead += t.CacheRead
	}
	return s
}

func TestGenerateCountsWhatItWrites(t *testing.T) {
	specs := []Spec{
		{Seed: 1, Roots: 2, Projects: 4, Bytes: 3 << 20, Cases: All},
		{Seed: 2, Roots: 1, Bytes: 1 << 20, Cases: Agreeing},
		{Seed: 3, Roots: 3, Bytes: 256 << 10},
	}
	// rare combinations show up across many small trees
	for seed := uint64(100); seed < 160; seed++ {
		specs = append(specs, Spec{Seed: seed, Roots: 2, Bytes: 64 << 10, Cases: All})
	}
	specs = append(specs, Spec{Seed: 7, Roots: 2, Bytes: 1 << 20, Cases: Fast | NullInput | Subagents})
	for _, spec := range specs {
		t.Run(fmt.Sprintf("seed%d-%s", spec.Seed, spec.Cases), func(t *testing.T) {
			exp, err := Generate(t.TempDir(), spec)
			if err != nil {
				t.Fatal(err)
			}
			if exp.Bytes < spec.Bytes {
				t.Errorf("wrote %d bytes, asked for %d", exp.Bytes, spec.Bytes)
			}
			for _, c := range spec.Cases.Each() {
				if spec.Roots < 2 && c == RootCopy {
					continue
				}
				if exp.Cases[c.String()] == 0 {
					t.Errorf("case %s was asked for and not written", c)
				}
			}
			for name := range exp.Cases {
				if !strings.Contains("|"+spec.Cases.String()+"|", "|"+name+"|") {
					t.Errorf("case %s was written and not asked for", name)
				}
			}
			r := reparse(t, exp.Roots)
			if r.files != exp.Files || r.bytes != exp.Bytes || r.lines != exp.Lines || r.usageLines != exp.UsageLines || r.malformed != exp.Malformed {
				t.Errorf("reading the tree found files %d bytes %d lines %d usage lines %d malformed %d; Generate said %d %d %d %d %d",
					r.files, r.bytes, r.lines, r.usageLines, r.malformed, exp.Files, exp.Bytes, exp.Lines, exp.UsageLines, exp.Malformed)
			}
			if len(r.calls) != exp.Calls || r.total() != exp.Tokens {
				t.Errorf("reading the tree found %d calls, %+v; Generate said %d, %+v", len(r.calls), r.total(), exp.Calls, exp.Tokens)
			}
			for _, c := range []Case{Whitespace, BadUTF8, Micro, NullInput} {
				if spec.Cases.Has(c) && r.cases[c] == 0 {
					t.Errorf("no line shows the case %s", c)
				}
				if !spec.Cases.Has(c) && r.cases[c] != 0 {
					t.Errorf("%d lines show the case %s, which was not asked for", r.cases[c], c)
				}
			}
		})
	}
}

func TestGenerateIsDeterministic(t *testing.T) {
	spec := Spec{Seed: 7, Roots: 2, Bytes: 512 << 10, Cases: All}
	a, b := t.TempDir(), t.TempDir()
	if _, err := Generate(a, spec); err != nil {
		t.Fatal(err)
	}
	if _, err := Generate(b, spec); err != nil {
		t.Fatal(err)
	}
	if ha, hb := treeHash(t, a), treeHash(t, b); ha != hb {
		t.Error("the same spec wrote two different trees")
	}
	spec.Seed++
	c := t.TempDir()
	if _, err := Generate(c, spec); err != nil {
		t.Fatal(err)
	}
	if treeHash(t, a) == treeHash(t, c) {
		t.Error("two seeds wrote the same tree")
	}
	if _, err := Generate(a, spec); err == nil {
		t.Error("Generate wrote into a directory that was not empty")
	}
}

func treeHash(t *testing.T, dir string) [32]byte {
	h := sha256.New()
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		rel, _ := filepath.Rel(dir, path)
		h.Write([]byte(rel + "\x00"))
		h.Write(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return [32]byte(h.Sum(nil))
}

// TestMidnight checks that the Midnight case writes a response whose lines
// fall on two UTC days, and one on two months.
func TestMidnight(t *testing.T) {
	exp, err := Generate(t.TempDir(), Spec{Seed: 5, Bytes: 64 << 10, Cases: Midnight})
	if err != nil {
		t.Fatal(err)
	}
	days, months := map[string]map[string]bool{}, map[string]map[string]bool{}
	err = filepath.WalkDir(exp.Roots[0], func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		for _, line := range bytes.Split(bytes.TrimSpace(b), []byte("\n")) {
			var l rawLine
			if json.Unmarshal(line, &l) != nil || l.Type != "assistant" {
				continue
			}
			ts, err := time.Parse(time.RFC3339Nano, l.Timestamp)
			if err != nil {
				t.Fatal(err)
			}
			id := l.Message.ID
			if days[id] == nil {
				days[id], months[id] = map[string]bool{}, map[string]bool{}
			}
			days[id][ts.Format(time.DateOnly)] = true
			months[id][ts.Format("2006-01")] = true
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	var acrossDays, acrossMonths int
	for id := range days {
		if len(days[id]) > 1 {
			acrossDays++
		}
		if len(months[id]) > 1 {
			acrossMonths++
		}
	}
	if acrossDays < 2 || acrossMonths < 1 {
		t.Errorf("%d responses across midnight, %d across a month's end; want at least 2 and 1", acrossDays, acrossMonths)
	}
}

func TestEdits(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.jsonl")
	if err := AppendLine(path, []byte(`{"a":1}`)); err != nil {
		t.Fatal(err)
	}
	if err := AppendPartial(path, []byte(`{"b":`)); err != nil {
		t.Fatal(err)
	}
	if err := AppendLine(path, []byte("2}\n")); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(path); string(b) != "{\"a\":1}\n{\"b\":2}\n" {
		t.Errorf("after the appends: %q", b)
	}
	before, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := Replace(path, []byte("{\"c\":3}\n")); err != nil {
		t.Fatal(err)
	}
	after, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(path); string(b) != "{\"c\":3}\n" {
		t.Errorf("after Replace: %q", b)
	}
	if os.SameFile(before, after) {
		t.Error("Replace kept the same file; it must put a new one in its place")
	}
	if ents, _ := os.ReadDir(filepath.Dir(path)); len(ents) != 1 {
		t.Errorf("Replace left %d entries behind", len(ents))
	}
}

func TestSpaced(t *testing.T) {
	in := `{"a":"x:, \"y\":1","usage":{"b":[1,2]}}` + "\n"
	want := `{"a": "x:, \"y\":1", "usage": {"b": [1, 2]}}` + "\n"
	if got := string(Spaced([]byte(in))); got != want {
		t.Errorf("Spaced = %s, want %s", got, want)
	}
}
