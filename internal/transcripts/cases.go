package transcripts

import (
	"math/bits"
	"strings"
)

// Case is a set of the situations a generated tree contains beyond plain
// conversations. Each is named after what Claude Code does that a counter
// must get right.
type Case uint64

const (
	// Streaming: the lines of one response carry a growing output_tokens
	// (1, 3, …, final), and sometimes a later line a smaller snapshot.
	Streaming Case = 1 << iota
	// Resumed: a session that begins with copies of an earlier session's
	// calls (same message.id and requestId, new sessionId and uuids).
	Resumed
	// RootCopy: a session file present under two config roots.
	RootCopy
	// Subagents: Task subagents in <session>/subagents/agent-<id>.jsonl,
	// and the parent's tool_result carrying toolUseResult.usage (an
	// aggregate that is not a call).
	Subagents
	// Mirrors: each subagent line mirrored into the parent file as an
	// agent_progress record.
	Mirrors
	// Btw: a /btw side question in subagents/agent-aside_question-<id>.jsonl
	// that replays parent calls under new requestIds (sidechain).
	Btw
	// LegacyNested: a session written as <project>/<session>/<uuid>.jsonl.
	LegacyNested
	// Advisor: usage.iterations with advisor_message entries of another model.
	Advisor
	// Synthetic: <synthetic> API-error replies.
	Synthetic
	// Fast: opus-4-6 calls with usage.speed "fast".
	Fast
	// Cache1h: cache writes with a 1-hour lifetime.
	Cache1h
	// CacheMismatch: a cache_creation object that disagrees with
	// cache_creation_input_tokens (the object counts).
	CacheMismatch
	// LongContext: sonnet-4-5 calls with fields above 200k tokens.
	LongContext
	// CostUSD: 1.0.x lines carrying a precomputed costUSD.
	CostUSD
	// Gateway: sessions behind a gateway, without requestId; the lines of
	// one response share a timestamp.
	Gateway
	// Malformed: truncated lines (never counted, reported as malformed).
	Malformed
	// Midnight: a response whose lines straddle midnight UTC, and a session
	// that runs across a month's end.
	Midnight
	// UnknownModel: calls of a model without a price.
	UnknownModel

	// The cases below are where ccusage 20.0.24 and cco deliberately differ.

	// FlatAgents: 2.0.x subagent logs, <project>/agent-<id>.jsonl, whose
	// sessionId is the parent's (ccusage groups them as their own session).
	FlatAgents
	// MirrorOnly: agent_progress mirrors whose subagent file is gone (ccusage
	// counts them in daily only).
	MirrorOnly
	// GatewaySpread: requestless responses whose lines carry different
	// timestamps (ccusage's daily report counts each line).
	GatewaySpread
	// Whitespace: a call written as JSON with spaces (`"usage": {`).
	Whitespace
	// NullInput: a tool_use input holding "model":null.
	NullInput
	// Micro: timestamps with microseconds.
	Micro
	// NonSemver: a version field that is not digits.digits.digit….
	NonSemver
	// BadUTF8: a Latin-1 byte inside a text block.
	BadUTF8

	caseEnd
)

// Agreeing is every case where ccusage and cco count the same.
const Agreeing = Streaming | Resumed | RootCopy | Subagents | Mirrors | Btw | LegacyNested | Advisor |
	Synthetic | Fast | Cache1h | CacheMismatch | LongContext | CostUSD | Gateway | Malformed | Midnight | UnknownModel

// Divergent is every case where cco deliberately differs from ccusage.
const Divergent = FlatAgents | MirrorOnly | GatewaySpread | Whitespace | NullInput | Micro | NonSemver | BadUTF8

// All is every case.
const All = Agreeing | Divergent

var caseNames = []string{
	"streaming", "resumed", "root-copy", "subagents", "mirrors", "btw", "legacy-nested", "advisor",
	"synthetic", "fast", "cache-1h", "cache-mismatch", "long-context", "cost-usd", "gateway", "malformed",
	"midnight", "unknown-model",
	"flat-agents", "mirror-only", "gateway-spread", "whitespace", "null-input", "micro", "non-semver", "bad-utf8",
}

// String names the cases of c, joined by '|'.
func (c Case) String() string {
	var names []string
	for _, one := range c.Each() {
		names = append(names, caseNames[bits.TrailingZeros64(uint64(one))])
	}
	return strings.Join(names, "|")
}

// Each lists the single cases of c in order.
func (c Case) Each() []Case {
	var out []Case
	for one := Case(1); one < caseEnd; one <<= 1 {
		if c&one != 0 {
			out = append(out, one)
		}
	}
	return out
}

// Has reports whether c includes every case of d.
func (c Case) Has(d Case) bool { return c&d == d }
