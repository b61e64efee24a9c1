package ledger

import (
	"strings"
	"testing"
	"time"

	"github.com/anthropics/cco/ledger/price"
)

func us(s string) int64 {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t.UnixMicro()
}

// view is a record with its byte fields as strings, to compare.
type view struct {
	msgID, reqID, session string
	ts                    int64
	model                 string
	fast, sidechain       bool
	tok                   price.Tokens
	cost                  float64
	hasCost               bool
}

func viewOf(r record) view {
	return view{string(r.msgID), string(r.reqID), r.session, r.ts, r.model, r.fast, r.sidechain, r.tok, r.cost, r.hasCost}
}

const plain = `{"parentUuid":"p","isSidechain":false,"userType":"external","cwd":"/home/dev/app","sessionId":"s-1","version":"2.1.3","type":"assistant","message":{"id":"msg_1","type":"message","role":"assistant","model":"claude-opus-4-6","content":[{"type":"text","text":"hi {\"usage\":1} ]"}],"stop_reason":null,"usage":{"input_tokens":10,"cache_creation_input_tokens":300,"cache_read_input_tokens":4000,"cache_creation":{"ephemeral_5m_input_tokens":100,"ephemeral_1h_input_tokens":200},"output_tokens":20,"service_tier":"standard"}},"requestId":"req_1","uuid":"u","timestamp":"2026-03-11T23:19:28.186Z"}`

func TestParseLine(t *testing.T) {
	want1 := view{msgID: "msg_1", reqID: "req_1", session: "s-1", ts: us("2026-03-11T23:19:28.186Z"), model: "claude-opus-4-6",
		tok: price.Tokens{Input: 10, Output: 20, Cache5m: 100, Cache1h: 200, CacheRead: 4000}}
	cases := []struct {
		name string
		line string
		want []view
	}{
		{"plain", plain, []view{want1}},
		{"whitespace JSON (ccusage drops it)", ` { "type" : "assistant", "sessionId" : "s-1", "requestId" : "req_1", "timestamp" : "2026-03-11T23:19:28.186Z",
			"message" : { "id" : "msg_1", "model" : "claude-opus-4-6", "usage" : { "input_tokens" : 10 , "output_tokens" : 20, "cache_read_input_tokens" : 4000,
			"cache_creation" : { "ephemeral_5m_input_tokens" : 100 , "ephemeral_1h_input_tokens" : 200 } } } } `, []view{want1}},
		{"nulls inside tool input and usage (ccusage drops it)", strings.Replace(plain, `"content":[`, `"content":[{"type":"tool_use","input":{"id":null,"model":null,"cwd":null,"cache_read_input_tokens":null}},`, 1), []view{want1}},
		{"microsecond timestamp (ccusage drops it)", strings.Replace(plain, `.186Z`, `.186123Z`, 1), []view{func() view { r := want1; r.ts += 123; return r }()}},
		{"offset timestamp", strings.Replace(plain, `23:19:28.186Z`, `23:19:28.186+01:00`, 1), []view{func() view { r := want1; r.ts -= 3600e6; return r }()}},
		{"non-semver version (ccusage drops it)", strings.Replace(plain, `"2.1.3"`, `"dev-build"`, 1), []view{want1}},
		{"bad UTF-8 in a text block (ccusage drops it)", strings.Replace(plain, `"text":"hi`, "\"text\":\"h\xff\xfei", 1), []view{want1}},
		{"escaped ids", strings.Replace(plain, `"msg_1"`, `"msg_\u0031"`, 1), []view{want1}},
		{"no cache split: all writes are 5-minute", `{"type":"assistant","timestamp":"2026-03-11T23:19:28.186Z","message":{"id":"m","model":"x","usage":{"input_tokens":1,"output_tokens":2,"cache_creation_input_tokens":300}}}`,
			[]view{{msgID: "m", model: "x", ts: us("2026-03-11T23:19:28.186Z"), tok: price.Tokens{Input: 1, Output: 2, Cache5m: 300}}}},
		{"split wins over a disagreeing total", `{"timestamp":"2026-03-11T23:19:28.186Z","message":{"usage":{"input_tokens":0,"output_tokens":0,"cache_creation_input_tokens":500,"cache_creation":{"ephemeral_5m_input_tokens":100}}}}`,
			[]view{{ts: us("2026-03-11T23:19:28.186Z"), tok: price.Tokens{Cache5m: 100}}}},
		{"fast, sidechain, costUSD, float count", `{"isSidechain":true,"costUSD":0.25,"timestamp":"2026-03-11T23:19:28Z","message":{"id":"m","model":"claude-opus-4-6","usage":{"input_tokens":100.0,"output_tokens":2,"speed":"fast"}}}`,
			[]view{{msgID: "m", model: "claude-opus-4-6", ts: us("2026-03-11T23:19:28Z"), fast: true, sidechain: true, cost: 0.25, hasCost: true, tok: price.Tokens{Input: 100, Output: 2}}}},
		{"progress mirror", `{"type":"progress","sessionId":"parent","isSidechain":false,"timestamp":"2026-03-11T23:19:30.000Z","data":{"type":"agent_progress","agentId":"a1","message":{"type":"assistant","timestamp":"2026-03-11T23:19:28.186Z","requestId":"req_9","message":{"id":"msg_9","model":"claude-haiku-4-5","usage":{"input_tokens":5,"output_tokens":6}}}}}`,
			[]view{{msgID: "msg_9", reqID: "req_9", session: "parent", ts: us("2026-03-11T23:19:28.186Z"), model: "claude-haiku-4-5", sidechain: true, tok: price.Tokens{Input: 5, Output: 6}}}},
		{"advisor iterations", `{"requestId":"r1","timestamp":"2026-01-01T10:00:00.000Z","message":{"id":"m1","model":"claude-sonnet-4-6","usage":{"input_tokens":100,"output_tokens":10,"iterations":[{"type":"message","input_tokens":100,"output_tokens":10},{"type":"advisor_message","model":"claude-opus-4-6","input_tokens":1000,"output_tokens":50,"cache_read_input_tokens":7,"cache_creation_input_tokens":3},{"type":"advisor_message","model":"claude-opus-4-6","input_tokens":2000,"output_tokens":60}]}}}`,
			[]view{
				{msgID: "m1", reqID: "r1", ts: us("2026-01-01T10:00:00Z"), model: "claude-sonnet-4-6", tok: price.Tokens{Input: 100, Output: 10}},
				{msgID: "m1:advisor:1", reqID: "r1", ts: us("2026-01-01T10:00:00Z"), model: "claude-opus-4-6", tok: price.Tokens{Input: 1000, Output: 50, Cache5m: 3, CacheRead: 7}},
				{msgID: "m1:advisor:2", reqID: "r1", ts: us("2026-01-01T10:00:00Z"), model: "claude-opus-4-6", tok: price.Tokens{Input: 2000, Output: 60}},
			}},
		{"no usage", `{"type":"user","message":{"role":"user","content":"hello"}}`, nil},
		{"tool result usage is no call", `{"type":"user","timestamp":"2026-01-01T10:00:00.000Z","message":{"role":"user","content":[]},"toolUseResult":{"usage":{"input_tokens":5,"output_tokens":5},"totalTokens":10}}`, nil},
		{"not JSON and no usage: not even looked at", `garbage`, nil},
	}
	for _, c := range cases {
		got, err := parseLine([]byte(c.line), nil, nil)
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if len(got) != len(c.want) {
			t.Errorf("%s: %d calls %+v, want %d", c.name, len(got), got, len(c.want))
			continue
		}
		for i := range got {
			if viewOf(got[i]) != c.want[i] {
				t.Errorf("%s: call %d\n got %+v\nwant %+v", c.name, i, got[i], c.want[i])
			}
		}
	}
}

func TestParseMalformed(t *testing.T) {
	for name, line := range map[string]string{
		"truncated":          plain[:strings.Index(plain, `"output_tokens"`)],
		"trailing garbage":   plain + `x`,
		"string count":       strings.Replace(plain, `"input_tokens":10`, `"input_tokens":"10"`, 1),
		"negative count":     strings.Replace(plain, `"input_tokens":10`, `"input_tokens":-10`, 1),
		"fractional count":   strings.Replace(plain, `"input_tokens":10`, `"input_tokens":10.5`, 1),
		"no timestamp":       strings.Replace(plain, `"timestamp":"2026-03-11T23:19:28.186Z"`, `"ts":1`, 1),
		"bad timestamp":      strings.Replace(plain, `2026-03-11T23`, `2026-02-31T23`, 1),
		"unterminated value": `{"message":{"usage":{"input_tokens":1`,
	} {
		if got, err := parseLine([]byte(line), nil, nil); err == nil {
			t.Errorf("%s: read as %+v, want malformed", name, got)
		}
	}
}

func TestParseTime(t *testing.T) {
	for in, want := range map[string]string{
		"2026-03-11T23:19:28.186Z":       "2026-03-11T23:19:28.186Z",
		"2026-03-11T23:19:28Z":           "2026-03-11T23:19:28Z",
		"2026-03-11T23:19:28.186123Z":    "2026-03-11T23:19:28.186123Z",
		"2026-03-11T23:19:28.186123456Z": "2026-03-11T23:19:28.186123Z",
		"2026-03-11 23:19:28.5Z":         "2026-03-11T23:19:28.5Z",
		"2026-03-12T01:19:28.186+02:00":  "2026-03-11T23:19:28.186Z",
	} {
		got, ok := parseTime([]byte(in))
		if !ok || got != us(want) {
			t.Errorf("%s: %v %v, want %v", in, got, ok, us(want))
		}
	}
	for _, bad := range []string{"", "2026-03-11", "2026-13-11T23:19:28Z", "2026-03-11T23:19:28.Z", "yesterday"} {
		if got, ok := parseTime([]byte(bad)); ok {
			t.Errorf("%q read as %v", bad, got)
		}
	}
}
