package transcripts

import (
	"bytes"
	"encoding/json"
	"strconv"
	"time"
)

// Usage is the token count of one API call as Claude Code writes it under
// message.usage.
type Usage struct {
	Input, Output, CacheRead int64
	// Cache5m and Cache1h are the cache writes by lifetime. Without
	// NoSplit they are written both as cache_creation_input_tokens (their
	// sum, or CreationTotal when set) and as the cache_creation object.
	Cache5m, Cache1h int64
	// CreationTotal, when not zero, is written as cache_creation_input_tokens
	// instead of Cache5m+Cache1h: the object and the total disagree, and the
	// object is what counts.
	CreationTotal int64
	// NoSplit writes only cache_creation_input_tokens (= Cache5m), as
	// Claude Code 1.0.x did.
	NoSplit bool
	Speed   string // "", "standard" or "fast"
	// Advisor lists advisor_message iterations: calls of their own model
	// whose tokens are not in the top-level fields.
	Advisor []AdvisorUsage
}

// AdvisorUsage is one advisor_message iteration inside a call's usage.
type AdvisorUsage struct {
	Model                    string
	Input, Output, CacheRead int64
}

// CacheCreation is the cache-write total that counts: the 5m and 1h split
// when it is written, the plain total otherwise.
func (u Usage) CacheCreation() int64 { return u.Cache5m + u.Cache1h }

// Total is the four token counts summed, the measure by which the largest
// copy of a call is chosen.
func (u Usage) Total() int64 { return u.Input + u.Output + u.CacheRead + u.CacheCreation() }

// Call is one line of an assistant record: one content block of one API
// response, with the envelope Claude Code writes around it.
type Call struct {
	SessionID, CWD, Version, GitBranch string
	ParentUUID, UUID                   string
	Sidechain                          bool
	AgentID                            string
	MessageID, RequestID               string // "" leaves the field out
	Model                              string
	Time                               time.Time
	Micro                              bool // a timestamp with microseconds
	Usage                              Usage
	Block                              Block
	CostUSD                            float64 // > 0: written as costUSD
	APIError                           bool    // isApiErrorMessage (with <synthetic>)
}

// Block is one content block of a message.
type Block struct {
	Kind  string          // "text", "thinking" or "tool_use"
	Text  string          // text or thinking
	Name  string          // tool_use
	ID    string          // tool_use id
	Input json.RawMessage // tool_use input
}

// Timestamp formats t as Claude Code does (UTC, milliseconds), or with
// microseconds.
func Timestamp(t time.Time, micro bool) string {
	if micro {
		return t.UTC().Format("2006-01-02T15:04:05.000000Z")
	}
	return t.UTC().Format("2006-01-02T15:04:05.000Z")
}

type jsonEnvelope struct {
	ParentUUID    *string         `json:"parentUuid"`
	IsSidechain   bool            `json:"isSidechain"`
	UserType      string          `json:"userType"`
	CWD           string          `json:"cwd"`
	SessionID     string          `json:"sessionId"`
	Version       string          `json:"version"`
	GitBranch     string          `json:"gitBranch"`
	AgentID       string          `json:"agentId,omitempty"`
	Type          string          `json:"type"`
	Message       any             `json:"message,omitempty"`
	Data          any             `json:"data,omitempty"`
	ToolUseID     string          `json:"toolUseID,omitempty"`
	RequestID     string          `json:"requestId,omitempty"`
	CostUSD       *float64        `json:"costUSD,omitempty"`
	APIError      bool            `json:"isApiErrorMessage,omitempty"`
	ToolUseResult json.RawMessage `json:"toolUseResult,omitempty"`
	UUID          string          `json:"uuid"`
	Timestamp     string          `json:"timestamp"`
}

type jsonMessage struct {
	Model        string          `json:"model,omitempty"`
	ID           string          `json:"id,omitempty"`
	Type         string          `json:"type,omitempty"`
	Role         string          `json:"role"`
	Content      any             `json:"content"`
	StopReason   *string         `json:"stop_reason,omitempty"`
	StopSequence json.RawMessage `json:"stop_sequence,omitempty"`
	Usage        *jsonUsage      `json:"usage,omitempty"`
}

type jsonCacheCreation struct {
	Ephemeral5m int64 `json:"ephemeral_5m_input_tokens"`
	Ephemeral1h int64 `json:"ephemeral_1h_input_tokens"`
}

type jsonServerTools struct {
	WebSearch int64 `json:"web_search_requests"`
	WebFetch  int64 `json:"web_fetch_requests"`
}

type jsonIteration struct {
	Type                     string `json:"type"`
	Model                    string `json:"model,omitempty"`
	InputTokens              int64  `json:"input_tokens"`
	OutputTokens             int64  `json:"output_tokens"`
	CacheReadInputTokens     int64  `json:"cache_read_input_tokens"`
	CacheCreationInputTokens int64  `json:"cache_creation_input_tokens"`
}

type jsonUsage struct {
	InputTokens              int64              `json:"input_tokens"`
	CacheCreationInputTokens int64              `json:"cache_creation_input_tokens"`
	CacheReadInputTokens     int64              `json:"cache_read_input_tokens"`
	CacheCreation            *jsonCacheCreation `json:"cache_creation,omitempty"`
	OutputTokens             int64              `json:"output_tokens"`
	ServerToolUse            *jsonServerTools   `json:"server_tool_use,omitempty"`
	ServiceTier              string             `json:"service_tier,omitempty"`
	Speed                    string             `json:"speed,omitempty"`
	Iterations               []jsonIteration    `json:"iterations,omitempty"`
	InferenceGeo             string             `json:"inference_geo,omitempty"`
}

type jsonBlock struct {
	Type      string          `json:"type"`
	Text      *string         `json:"text,omitempty"`
	Thinking  *string         `json:"thinking,omitempty"`
	Signature string          `json:"signature,omitempty"`
	ID        string          `json:"id,omitempty"`
	Name      string          `json:"name,omitempty"`
	Input     json.RawMessage `json:"input,omitempty"`
}

type jsonToolResult struct {
	ToolUseID string `json:"tool_use_id"`
	Type      string `json:"type"`
	Content   string `json:"content"`
}

func (u Usage) json() *jsonUsage {
	j := &jsonUsage{
		InputTokens:          u.Input,
		CacheReadInputTokens: u.CacheRead,
		OutputTokens:         u.Output,
		Speed:                u.Speed,
	}
	if u.NoSplit {
		j.CacheCreationInputTokens = u.Cache5m + u.Cache1h
	} else {
		j.CacheCreationInputTokens = u.CacheCreation()
		if u.CreationTotal != 0 {
			j.CacheCreationInputTokens = u.CreationTotal
		}
		j.CacheCreation = &jsonCacheCreation{Ephemeral5m: u.Cache5m, Ephemeral1h: u.Cache1h}
		j.ServerToolUse = &jsonServerTools{}
		j.ServiceTier = "standard"
		j.InferenceGeo = "not_available"
	}
	if len(u.Advisor) > 0 {
		j.Iterations = append(j.Iterations, jsonIteration{Type: "message", InputTokens: u.Input, OutputTokens: u.Output,
			CacheReadInputTokens: u.CacheRead, CacheCreationInputTokens: u.CacheCreation()})
		for _, a := range u.Advisor {
			j.Iterations = append(j.Iterations, jsonIteration{Type: "advisor_message", Model: a.Model,
				InputTokens: a.Input, OutputTokens: a.Output, CacheReadInputTokens: a.CacheRead})
		}
	}
	return j
}

func (b Block) json() jsonBlock {
	switch b.Kind {
	case "thinking":
		t := b.Text
		return jsonBlock{Type: "thinking", Thinking: &t, Signature: "EqQBCkYIBxgCKkB" + strconv.Itoa(len(t))}
	case "tool_use":
		return jsonBlock{Type: "tool_use", ID: b.ID, Name: b.Name, Input: b.Input}
	default:
		t := b.Text
		return jsonBlock{Type: "text", Text: &t}
	}
}

func (c Call) message() *jsonMessage {
	m := &jsonMessage{
		Model: c.Model, ID: c.MessageID, Type: "message", Role: "assistant",
		Content: []jsonBlock{c.Block.json()}, StopSequence: json.RawMessage("null"),
		Usage: c.Usage.json(),
	}
	if c.Block.Kind == "tool_use" {
		s := "tool_use"
		m.StopReason = &s
	}
	return m
}

func (c Call) envelope(typ string) jsonEnvelope {
	e := jsonEnvelope{
		IsSidechain: c.Sidechain, UserType: "external", CWD: c.CWD, SessionID: c.SessionID,
		Version: c.Version, GitBranch: c.GitBranch, AgentID: c.AgentID, Type: typ,
		UUID: c.UUID, Timestamp: Timestamp(c.Time, c.Micro),
	}
	if c.ParentUUID != "" {
		p := c.ParentUUID
		e.ParentUUID = &p
	}
	return e
}

// AssistantLine is c as a top-level assistant record, newline included.
func (c Call) AssistantLine() []byte {
	e := c.envelope("assistant")
	e.Message = c.message()
	e.RequestID = c.RequestID
	e.APIError = c.APIError
	if c.CostUSD > 0 {
		v := c.CostUSD
		e.CostUSD = &v
	}
	return marshalLine(e)
}

// ProgressLine is c mirrored into its parent's file as an agent_progress
// record, as Claude Code 2.1.x wrote it: the envelope is the parent's
// (parent session, not a sidechain, written at written), the assistant
// record is nested under data.message.
func (c Call) ProgressLine(parent Call, written time.Time) []byte {
	e := parent.envelope("progress")
	e.Timestamp = Timestamp(written, false)
	e.ToolUseID = parent.Block.ID
	type nested struct {
		Type      string       `json:"type"`
		Timestamp string       `json:"timestamp"`
		RequestID string       `json:"requestId,omitempty"`
		UUID      string       `json:"uuid"`
		Message   *jsonMessage `json:"message"`
	}
	e.Data = struct {
		Type    string `json:"type"`
		AgentID string `json:"agentId"`
		Message nested `json:"message"`
	}{"agent_progress", c.AgentID, nested{"assistant", Timestamp(c.Time, c.Micro), c.RequestID, c.UUID, c.message()}}
	return marshalLine(e)
}

// UserLine is a user prompt (text) from the same envelope as c.
func (c Call) UserLine(text string) []byte {
	e := c.envelope("user")
	e.Message = &jsonMessage{Role: "user", Content: text}
	return marshalLine(e)
}

// ToolResultLine is the user record that carries the result of the tool
// call c.Block, with an optional toolUseResult object (raw JSON).
func (c Call) ToolResultLine(content string, toolUseResult json.RawMessage) []byte {
	e := c.envelope("user")
	e.Message = &jsonMessage{Role: "user", Content: []jsonToolResult{{ToolUseID: c.Block.ID, Type: "tool_result", Content: content}}}
	e.ToolUseResult = toolUseResult
	return marshalLine(e)
}

// SystemLine is a system record (subtype turn_duration).
func (c Call) SystemLine(d time.Duration) []byte {
	e := struct {
		jsonEnvelope
		Subtype    string `json:"subtype"`
		DurationMs int64  `json:"durationMs"`
	}{c.envelope("system"), "turn_duration", d.Milliseconds()}
	return marshalLine(e)
}

func marshalLine(v any) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false) // as JSON.stringify writes: "<synthetic>", not "\u003csynthetic\u003e"
	if err := enc.Encode(v); err != nil {
		panic(err) // only our own types are encoded
	}
	return b.Bytes()
}

// Spaced rewrites a compact JSON line with a space after every ':' and ','
// outside strings: valid JSON that a byte search for `"usage":{` misses.
func Spaced(line []byte) []byte {
	out := make([]byte, 0, len(line)+len(line)/8)
	in, esc := false, false
	for _, c := range line {
		out = append(out, c)
		switch {
		case esc:
			esc = false
		case in && c == '\\':
			esc = true
		case c == '"':
			in = !in
		case !in && (c == ':' || c == ','):
			out = append(out, ' ')
		}
	}
	return out
}
