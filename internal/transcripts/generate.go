// Package transcripts writes deterministic trees of Claude Code transcripts
// (CLAUDE_CONFIG_DIR roots with projects/**/*.jsonl) for tests and
// benchmarks of the usage ledger, and says what they contain: how many
// files, lines and distinct API calls, and their token totals under cco's
// counting rules. The same Spec always writes the same bytes.
package transcripts

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"time"
	"unicode/utf8"
)

// Spec says what tree to write.
type Spec struct {
	Seed     uint64
	Roots    int       // config roots root1…rootN, each with projects/ (default 1)
	Projects int       // projects per root (default 3)
	Bytes    int64     // write sessions until the tree holds this many bytes (default 1 MiB)
	Start    time.Time // the earliest session start (default 2026-01-27T00:00:00Z)
	Days     int       // sessions start within this many days of Start (default 70)
	Cases    Case      // the situations to include beyond plain conversations
}

// Tokens are token totals.
type Tokens struct {
	Input, Output, CacheCreation, CacheRead int64
}

// Total is the sum of the four counts.
func (t Tokens) Total() int64 { return t.Input + t.Output + t.CacheCreation + t.CacheRead }

func (t *Tokens) add(u Usage) {
	t.Input += u.Input
	t.Output += u.Output
	t.CacheCreation += u.CacheCreation()
	t.CacheRead += u.CacheRead
}

// Expect is what Generate wrote.
type Expect struct {
	Roots      []string // the config roots (absolute), in order; each has projects/
	Files      int      // *.jsonl files
	Bytes      int64    // their total size
	Lines      int      // complete lines, malformed ones included
	UsageLines int      // lines that carry a message usage (assistant records and progress mirrors)
	Malformed  int      // lines that cannot be parsed
	// Calls and Tokens are the distinct API calls and their totals as cco
	// counts them: one per (message.id, requestId), or per (sessionId,
	// message.id) without requestId, the largest copy, advisor iterations
	// as calls of their own, every tolerated line included.
	Calls  int
	Tokens Tokens
	Cases  map[string]int // how many times each case was written
}

// Generate writes the tree spec describes under dir (which must be empty
// or absent) and returns what it wrote.
func Generate(dir string, spec Spec) (Expect, error) {
	spec = spec.withDefaults()
	if ents, err := os.ReadDir(dir); err == nil && len(ents) > 0 {
		return Expect{}, fmt.Errorf("transcripts: %s is not empty: generate into a new directory", dir)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return Expect{}, err
	}
	g := &gen{spec: spec, rng: rand.New(rand.NewPCG(spec.Seed, spec.Seed^0x9e3779b97f4a7c15)),
		exp: Expect{Cases: map[string]int{}}, last: map[string][]Call{}}
	for i := 1; i <= spec.Roots; i++ {
		root := filepath.Join(abs, "root"+strconv.Itoa(i))
		if err := os.MkdirAll(filepath.Join(root, "projects"), 0o755); err != nil {
			return Expect{}, err
		}
		g.exp.Roots = append(g.exp.Roots, root)
	}
	for i := 0; g.exp.Bytes < spec.Bytes || g.missing() != 0; i++ {
		if g.exp.Bytes >= spec.Bytes && i > 2000 {
			return Expect{}, fmt.Errorf("transcripts: cannot write the cases %v (do they need Subagents?)", g.missing())
		}
		if err := g.session(); err != nil {
			return Expect{}, err
		}
	}
	return g.exp, nil
}

func (s Spec) withDefaults() Spec {
	if s.Roots <= 0 {
		s.Roots = 1
	}
	if s.Projects <= 0 {
		s.Projects = 3
	}
	if s.Bytes <= 0 {
		s.Bytes = 1 << 20
	}
	if s.Start.IsZero() {
		s.Start = time.Date(2026, 1, 27, 0, 0, 0, 0, time.UTC)
	}
	if s.Days <= 0 {
		s.Days = 70
	}
	if s.Roots < 2 {
		s.Cases &^= RootCopy
	}
	return s
}

type gen struct {
	spec Spec
	rng  *rand.Rand
	exp  Expect
	// last holds, per project directory, the plain calls of its latest
	// session: what a resumed session copies.
	last map[string][]Call
}

// missing is the set of wanted cases not yet written: a tree smaller than
// its cases holds them anyway. Midnight is written twice: across a day
// and across a month.
func (g *gen) missing() Case {
	var m Case
	for _, c := range g.spec.Cases.Each() {
		if n := g.exp.Cases[c.String()]; n == 0 || c == Midnight && n < 2 {
			m |= c
		}
	}
	return m
}

func (g *gen) note(c Case) { g.exp.Cases[c.String()]++ }

// want decides whether a situation of case c happens now: always while c
// has not been written yet, else with probability p.
func (g *gen) want(c Case, p float64) bool {
	if !g.spec.Cases.Has(c) {
		return false
	}
	return g.exp.Cases[c.String()] == 0 || g.rng.Float64() < p
}

// file is one transcript file being built.
type file struct {
	path      string
	buf       bytes.Buffer
	malformed int
	usage     int
	lines     int
}

func (f *file) add(line []byte, usage bool) {
	f.buf.Write(line)
	f.lines++
	if usage {
		f.usage++
	}
}

func (g *gen) write(f *file) error {
	if err := os.MkdirAll(filepath.Dir(f.path), 0o755); err != nil {
		return err
	}
	if _, err := os.Stat(f.path); err == nil {
		return fmt.Errorf("transcripts: %s written twice", f.path)
	} else if !errors.Is(err, os.ErrNotExist) {
		return err
	}
	if err := os.WriteFile(f.path, f.buf.Bytes(), 0o644); err != nil {
		return err
	}
	g.exp.Files++
	g.exp.Bytes += int64(f.buf.Len())
	g.exp.Lines += f.lines
	g.exp.UsageLines += f.usage
	g.exp.Malformed += f.malformed
	return nil
}

// sess is the state of one conversation being written.
type sess struct {
	id, cwd, version, branch, model string
	root, project                   string // root dir, project dir name
	t                               time.Time
	parent                          string // uuid of the previous line
	gateway, costUSD                bool
	plain                           []Call // calls a resumed session may copy
	f                               *file
}

var mainModels = []string{
	"claude-opus-4-6", "claude-opus-4-6", "claude-opus-4-6", "claude-sonnet-4-5-20250929", "claude-sonnet-4-5-20250929",
	"claude-sonnet-4-6", "claude-opus-4-5-20251101", "claude-opus-4-1-20250805", "claude-haiku-4-5-20251001",
}

var versions = []string{"2.1.3", "2.1.9", "2.1.14", "2.1.20", "2.0.76"}

func (g *gen) session() error {
	r := g.rng
	root := g.exp.Roots[r.IntN(len(g.exp.Roots))]
	pn := r.IntN(g.spec.Projects)
	s := &sess{
		id:      g.uuid(),
		cwd:     "/home/dev/code/project-" + strconv.Itoa(pn),
		version: versions[r.IntN(len(versions))],
		branch:  []string{"main", "feature/ledger", "fix-123"}[r.IntN(3)],
		model:   mainModels[r.IntN(len(mainModels))],
		root:    root,
		project: "-home-dev-code-project-" + strconv.Itoa(pn),
	}
	s.t = g.spec.Start.Add(time.Duration(r.Int64N(int64(g.spec.Days) * int64(24*time.Hour))))
	midnight := false
	if g.spec.Cases.Has(Midnight) && (g.exp.Cases[Midnight.String()] < 2 || r.Float64() < 0.02) {
		// A response across midnight; the next such session crosses a month's end.
		day := s.t.Truncate(24 * time.Hour)
		if g.exp.Cases[Midnight.String()]%2 == 1 {
			day = time.Date(day.Year(), day.Month()+1, 1, 0, 0, 0, 0, time.UTC).Add(-24 * time.Hour)
		}
		s.t = day.Add(24*time.Hour - 300*time.Millisecond)
		midnight = true
		g.note(Midnight)
	}
	if g.want(CostUSD, 0.03) {
		s.costUSD, s.version, s.model = true, "1.0.58", "claude-sonnet-4-20250514"
		g.note(CostUSD)
	} else if g.want(Gateway, 0.03) {
		s.gateway = true
		g.note(Gateway)
	}
	dir := filepath.Join(root, "projects", s.project)
	s.f = &file{path: filepath.Join(dir, s.id+".jsonl")}
	if g.want(LegacyNested, 0.02) {
		s.f.path = filepath.Join(dir, s.id, g.uuid()+".jsonl")
		g.note(LegacyNested)
	}
	var extra []*file
	if prev := g.last[dir]; len(prev) > 0 && !midnight && g.want(Resumed, 0.08) {
		// Claude Code copies the conversation so far into the new session's
		// file: same ids and timestamps, new uuids and sessionId.
		n := 1 + r.IntN(len(prev))
		for _, c := range prev[:n] {
			c.SessionID, c.UUID, c.ParentUUID = s.id, g.uuid(), s.parent
			s.parent = c.UUID
			s.f.add(c.AssistantLine(), true)
			if c.Time.After(s.t) {
				s.t = c.Time
			}
		}
		s.t = s.t.Add(time.Duration(1+r.IntN(48)) * time.Hour)
		g.note(Resumed)
	}

	want := int(math.Round(math.Exp(math.Log(37) + 0.9*r.NormFloat64())))
	want = min(max(want, 2), 600)
	for turn := 0; s.f.usage < want; turn++ {
		extra = append(extra, g.turn(s, midnight && turn == 0)...)
		s.t = s.t.Add(time.Duration(10+r.IntN(900)) * time.Second)
	}
	if err := g.write(s.f); err != nil {
		return err
	}
	for _, f := range extra {
		if err := g.write(f); err != nil {
			return err
		}
	}
	if len(s.plain) > 0 {
		g.last[dir] = s.plain
	}
	if g.want(RootCopy, 0.03) {
		other := g.exp.Roots[0]
		if other == root {
			other = g.exp.Roots[1]
		}
		rel, err := filepath.Rel(root, s.f.path)
		if err != nil {
			return err
		}
		cp := &file{path: filepath.Join(other, rel), lines: s.f.lines, usage: s.f.usage, malformed: s.f.malformed}
		cp.buf.Write(s.f.buf.Bytes())
		if _, err := os.Stat(cp.path); err == nil {
			return nil // that root has its own file of this name; leave it
		}
		if err := g.write(cp); err != nil {
			return err
		}
		g.note(RootCopy)
	}
	return nil
}

// turn writes one user prompt and the calls that answer it, and returns
// the subagent files it spawned.
func (g *gen) turn(s *sess, straddle bool) []*file {
	r := g.rng
	base := g.base(s)
	s.f.add(base.UserLine(g.text(40+r.IntN(1500))), false)
	s.parent = base.UUID
	calls := 1 + r.IntN(8)
	var extra []*file
	for i := 0; i < calls; i++ {
		last := i == calls-1
		extra = append(extra, g.call(s, last, straddle && i == 0)...)
		s.t = s.t.Add(time.Duration(2000+r.IntN(38000)) * time.Millisecond)
	}
	if r.Float64() < 0.3 {
		b := g.base(s)
		s.f.add(b.SystemLine(time.Duration(r.IntN(600000))*time.Millisecond), false)
	}
	return extra
}

// base is the envelope of a new line of s, at s.t.
func (g *gen) base(s *sess) Call {
	return Call{SessionID: s.id, CWD: s.cwd, Version: s.version, GitBranch: s.branch,
		ParentUUID: s.parent, UUID: g.uuid(), Time: s.t}
}

// usage draws a plausible usage for a call of model at this point of a
// session.
func (g *gen) usage(model string) Usage {
	r := g.rng
	u := Usage{
		Input:     int64(1 + r.IntN(12)),
		Output:    int64(8 + r.IntN(1800)),
		CacheRead: int64(r.IntN(160000)),
		Cache5m:   int64(r.IntN(9000)),
	}
	if r.Float64() < 0.1 {
		u.Input = int64(r.IntN(30000))
	}
	if model == "claude-haiku-4-5-20251001" {
		u.CacheRead /= 4
	}
	return u
}

// call writes one API response: one line per content block.
func (g *gen) call(s *sess, last, straddle bool) []*file {
	r := g.rng
	c := g.base(s)
	c.Model = s.model
	if r.Float64() < 0.1 {
		c.Model = "claude-haiku-4-5-20251001"
	}
	c.MessageID = "msg_01" + g.token(22)
	if !s.gateway {
		c.RequestID = "req_011C" + g.token(20)
	}
	c.Usage = g.usage(c.Model)
	if s.costUSD {
		c.Usage.NoSplit = true
		c.CostUSD = float64(1+r.IntN(900000)) / 1e7
	}
	if straddle {
		c.Time = s.t
	}

	// What kind of response this is.
	var variant Case
	if !s.costUSD && !s.gateway {
		for _, v := range []Case{Fast, Cache1h, CacheMismatch, LongContext, Advisor, Synthetic, UnknownModel,
			Whitespace, NullInput, Micro, NonSemver, BadUTF8, GatewaySpread} {
			if g.want(v, 0.012) {
				variant = v
				break
			}
		}
	}
	if s.gateway && g.want(GatewaySpread, 0.2) {
		variant = GatewaySpread
	}
	if variant != 0 {
		g.note(variant)
	}
	switch variant {
	case Fast:
		c.Model, c.Usage.Speed = "claude-opus-4-6", "fast"
	case Cache1h:
		c.Usage.Cache1h = int64(1000 + r.IntN(40000))
	case CacheMismatch:
		c.Usage.Cache1h = int64(r.IntN(5000))
		c.Usage.CreationTotal = c.Usage.CacheCreation() + int64(1+r.IntN(3000))
	case LongContext:
		c.Model = "claude-sonnet-4-5-20250929"
		c.Usage.CacheRead = int64(150000 + r.IntN(300000))
		c.Usage.Cache5m = int64(r.IntN(40000))
		if r.IntN(2) == 0 {
			c.Usage.Input = int64(190000 + r.IntN(30000))
		}
	case Advisor:
		c.Model = "claude-sonnet-4-6"
		for n := 1 + r.IntN(2); n > 0; n-- {
			c.Usage.Advisor = append(c.Usage.Advisor, AdvisorUsage{Model: "claude-opus-4-6",
				Input: int64(100 + r.IntN(20000)), Output: int64(10 + r.IntN(900)), CacheRead: int64(r.IntN(50000))})
		}
	case Synthetic:
		c.Model, c.Usage, c.RequestID, c.APIError = "<synthetic>", Usage{}, "", true
		c.MessageID = g.uuid()
	case UnknownModel:
		c.Model = "claude-sonnet-4-7"
	case Micro:
		c.Micro = true
	case NonSemver:
		c.Version = "dev"
	case GatewaySpread:
		c.RequestID = ""
	}

	// The content blocks: thinking and text are optional, a tool call ends
	// every response but a turn's last.
	var blocks []Block
	single := variant == Whitespace || variant == NullInput || variant == BadUTF8 || variant == Synthetic
	if !single && (straddle || r.Float64() < 0.5) {
		blocks = append(blocks, Block{Kind: "thinking", Text: g.text(100 + r.IntN(2500))})
	}
	if last || variant == BadUTF8 || variant == Synthetic || r.Float64() < 0.4 {
		if !(single && variant == NullInput) {
			blocks = append(blocks, Block{Kind: "text", Text: g.text(20 + r.IntN(1200))})
		}
	}
	if variant == BadUTF8 {
		blocks[len(blocks)-1].Text += " café"
	}
	task := false
	if (!last || variant == NullInput) && variant != BadUTF8 && variant != Synthetic {
		tool := g.toolUse(variant == NullInput)
		task = tool.Name == "Task"
		blocks = append(blocks, tool)
	}
	if single && len(blocks) > 1 {
		blocks = blocks[len(blocks)-1:]
	}
	if variant == Synthetic {
		blocks = []Block{{Kind: "text", Text: "API Error: Request was aborted."}}
	}

	final := c.Usage
	var kept Call // the copy a counter keeps: the first of the largest
	streaming := len(blocks) > 1 && variant == 0 && g.want(Streaming, 0.3)
	// A streamed response's early lines carry the output so far (1, 3, …);
	// sometimes the first carries the final value and the later ones less.
	early := r.IntN(3) == 0 && len(blocks) > 2
	if streaming {
		g.note(Streaming)
	}
	for i, b := range blocks {
		line := c
		line.Block = b
		if i > 0 {
			line.UUID, line.ParentUUID = g.uuid(), s.parent
		}
		switch {
		case straddle && c.RequestID != "":
			line.Time = c.Time.Add(time.Duration(i) * 700 * time.Millisecond)
		case variant == GatewaySpread:
			line.Time = c.Time.Add(time.Duration(i) * 400 * time.Millisecond)
		case c.RequestID == "":
			// behind a gateway the lines of one response share its time
		default:
			line.Time = c.Time.Add(time.Duration(i*(50+r.IntN(900))) * time.Millisecond)
		}
		if streaming && i < len(blocks)-1 {
			line.Usage.Output = int64(1 + 2*i)
		}
		if streaming && early {
			line.Usage.Output = int64(1 + 2*i)
			if i == 0 {
				line.Usage.Output = final.Output
			}
		}
		raw := line.AssistantLine()
		switch variant {
		case Whitespace:
			raw = Spaced(raw)
		case BadUTF8:
			raw = bytes.Replace(raw, []byte("café"), []byte("caf\xe9"), 1)
		}
		s.f.add(raw, true)
		if i == 0 || line.Usage.Total() > kept.Usage.Total() {
			kept = line
		}
		s.parent = line.UUID
		if g.want(Malformed, 0.004) {
			g.note(Malformed)
			cut := bytes.Index(raw, []byte(`"usage":{`)) + 12
			s.f.buf.Write(raw[:cut])
			s.f.buf.WriteByte('\n')
			s.f.lines++
			s.f.malformed++
		}
	}
	g.count(c, final)
	if variant == 0 && c.RequestID != "" && !s.costUSD {
		p := c
		p.Usage = final
		p.Block = blocks[len(blocks)-1]
		s.plain = append(s.plain, p)
	}

	var extra []*file
	if len(blocks) > 0 && blocks[len(blocks)-1].Kind == "tool_use" {
		tc := c
		tc.Block = blocks[len(blocks)-1]
		tc.Time = s.t.Add(time.Duration(1+r.IntN(20)) * time.Second)
		var result json.RawMessage
		if task {
			var f *file
			var agg Usage
			f, agg = g.subagent(s, tc)
			if f != nil {
				extra = append(extra, f)
			}
			result = json.RawMessage(fmt.Sprintf(`{"status":"completed","prompt":"Investigate the failing tests","agentId":"%s","totalDurationMs":%d,"totalTokens":%d,"totalToolUseCount":%d,"usage":{"input_tokens":%d,"cache_creation_input_tokens":%d,"cache_read_input_tokens":%d,"output_tokens":%d}}`,
				g.token(7), r.IntN(300000), agg.Total(), r.IntN(30), agg.Input, agg.CacheCreation(), agg.CacheRead, agg.Output))
			tc.Time = s.t
		}
		s.t = tc.Time
		u := g.base(s)
		u.Block = tc.Block
		s.f.add(u.ToolResultLine(g.text(g.resultSize()), result), false)
		s.parent = u.UUID
	}
	if c.RequestID != "" && variant == 0 && g.want(Btw, 0.01) {
		extra = append(extra, g.btw(s, kept))
	}
	return extra
}

// count records one distinct call (and its advisor iterations).
func (g *gen) count(c Call, final Usage) {
	g.exp.Calls++
	g.exp.Tokens.add(final)
	for _, a := range final.Advisor {
		g.exp.Calls++
		g.exp.Tokens.add(Usage{Input: a.Input, Output: a.Output, CacheRead: a.CacheRead})
	}
}

// subagent runs a Task subagent for the tool call tc of s: its own file
// (nested or flat layout), mirrors in the parent, or mirrors only.
// It returns the file (nil when only mirrors remain) and the subagent's
// aggregate usage.
func (g *gen) subagent(s *sess, tc Call) (*file, Usage) {
	r := g.rng
	var layout Case
	switch {
	case g.want(MirrorOnly, 0.05):
		layout = MirrorOnly
	case g.want(FlatAgents, 0.15):
		layout = FlatAgents
	case g.spec.Cases.Has(Subagents):
		layout = Subagents
	default:
		return nil, Usage{}
	}
	g.note(layout)
	mirrors := layout == MirrorOnly || (layout == Subagents && g.want(Mirrors, 0.5))
	if mirrors && layout == Subagents {
		g.note(Mirrors)
	}
	aid := g.hex(17)
	dir := filepath.Join(s.root, "projects", s.project)
	f := &file{path: filepath.Join(dir, s.id, "subagents", "agent-"+aid+".jsonl")}
	if layout == FlatAgents {
		f.path = filepath.Join(dir, "agent-"+aid+".jsonl")
	}
	model := []string{"claude-haiku-4-5-20251001", s.model}[r.IntN(2)]
	a := Call{SessionID: s.id, CWD: s.cwd, Version: s.version, GitBranch: s.branch, Sidechain: true, AgentID: aid, Time: tc.Time}
	parent := ""
	var agg Usage
	n := 2 + r.IntN(12)
	for i := 0; i < n; i++ {
		c := a
		c.UUID, c.ParentUUID = g.uuid(), parent
		if i == 0 {
			f.add(c.UserLine(g.text(200+r.IntN(1500))), false)
			parent = c.UUID
			continue
		}
		c.UUID, c.ParentUUID = g.uuid(), parent
		c.Model, c.MessageID, c.RequestID = model, "msg_01"+g.token(22), "req_011C"+g.token(20)
		c.Usage = g.usage(model)
		c.Usage.CacheRead /= 3
		c.Block = Block{Kind: "text", Text: g.text(50 + r.IntN(600))}
		if i < n-1 {
			c.Block = g.toolUse(false)
		}
		c.Time = a.Time.Add(time.Duration(i*(1500+r.IntN(20000))) * time.Millisecond)
		line := c.AssistantLine()
		f.add(line, true)
		parent = c.UUID
		if mirrors {
			s.f.add(c.ProgressLine(tc, c.Time.Add(time.Duration(5+r.IntN(200))*time.Millisecond)), true)
		}
		g.count(c, c.Usage)
		agg.Input += c.Usage.Input
		agg.Output += c.Usage.Output
		agg.CacheRead += c.Usage.CacheRead
		agg.Cache5m += c.Usage.Cache5m
		if c.Block.Kind == "tool_use" {
			u := c
			u.UUID, u.ParentUUID = g.uuid(), parent
			f.add(u.ToolResultLine(g.text(g.resultSize()/2), nil), false)
			parent = u.UUID
		}
		if c.Time.After(s.t) {
			s.t = c.Time
		}
	}
	if layout == MirrorOnly {
		return nil, agg
	}
	return f, agg
}

// btw writes a /btw side question that replays c (same message.id, a new
// requestId, sidechain): a duplicate, never a call of its own. The replay
// carries the time of the copy kept (ccusage's monthly and session reports
// count a replay with another time twice; see the ledger's tests).
func (g *gen) btw(s *sess, c Call) *file {
	g.note(Btw)
	aid := "aside_question-" + g.hex(16)
	f := &file{path: filepath.Join(s.root, "projects", s.project, s.id, "subagents", "agent-"+aid+".jsonl")}
	rp := c
	rp.Sidechain, rp.AgentID, rp.UUID, rp.RequestID = true, aid, g.uuid(), "req_011C"+g.token(20)
	rp.Block = Block{Kind: "text", Text: g.text(100)}
	f.add(rp.AssistantLine(), true)
	return f
}

var tools = []string{"Read", "Bash", "Edit", "Grep", "Glob", "Write", "TodoWrite"}

// toolUse draws a tool call; withNull puts "model":null in its input.
func (g *gen) toolUse(withNull bool) Block {
	r := g.rng
	name := tools[r.IntN(len(tools))]
	if withNull || r.Float64() < 0.02 {
		name = "Task"
	}
	var in string
	switch name {
	case "Task":
		model := `"sonnet"`
		if withNull {
			model = "null"
		}
		in = fmt.Sprintf(`{"description":"Investigate failures","prompt":%s,"subagent_type":"general-purpose","model":%s}`, quote(g.text(200+r.IntN(800))), model)
	case "Bash":
		in = fmt.Sprintf(`{"command":%s,"description":"Run the tests"}`, quote(g.text(20+r.IntN(200))))
	case "Edit":
		in = fmt.Sprintf(`{"file_path":"/home/dev/code/src/main.go","old_string":%s,"new_string":%s}`, quote(g.text(50+r.IntN(600))), quote(g.text(50+r.IntN(600))))
	default:
		in = fmt.Sprintf(`{"file_path":"/home/dev/code/src/%s.go","pattern":%s}`, g.token(8), quote(g.text(10+r.IntN(40))))
	}
	return Block{Kind: "tool_use", Name: name, ID: "toolu_01" + g.token(22), Input: json.RawMessage(in)}
}

func quote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// resultSize draws the size of a tool result: mostly a few KiB, now and
// then a whole file.
func (g *gen) resultSize() int {
	n := int(math.Exp(math.Log(1550) + 1.3*g.rng.NormFloat64()))
	return min(max(n, 10), len(corpus)-1)
}

const alnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

func (g *gen) token(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = alnum[g.rng.IntN(len(alnum))]
	}
	return string(b)
}

func (g *gen) hex(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = "0123456789abcdef"[g.rng.IntN(16)]
	}
	return string(b)
}

func (g *gen) uuid() string {
	h := g.hex(32)
	return h[:8] + "-" + h[8:12] + "-4" + h[13:16] + "-a" + h[17:20] + "-" + h[20:]
}

// text is n bytes (about) of the corpus from a random place.
func (g *gen) text(n int) string {
	n = min(n, len(corpus)-1)
	i := g.rng.IntN(len(corpus) - n)
	for i > 0 && !utf8.RuneStart(corpus[i]) {
		i--
	}
	j := i + n
	for j < len(corpus) && !utf8.RuneStart(corpus[j]) {
		j++
	}
	return corpus[i:j]
}

// corpus is the text the conversations are cut from: code, prose, quotes,
// backslashes, tabs, newlines and a little non-ASCII, so that escaping is
// exercised as in real transcripts.
var corpus = func() string {
	r := rand.New(rand.NewPCG(1, 2))
	words := []string{"func", "return", "err", "nil", "if", "the", "ledger", "counts", "tokens", "per", "call",
		"\"quoted\"", "path\\to\\file", "\t", "\n", "// comment", "{", "}", "x := 42", "naïve", "日本語", "→", "✓",
		"because", "we", "read", "every", "line", "once", "and", "keep", "the", "largest", "copy", "<div>", "&amp;"}
	var b bytes.Buffer
	for b.Len() < 300<<10 {
		b.WriteString(words[r.IntN(len(words))])
		b.WriteByte(' ')
	}
	return b.String()
}()
