package ledger

import (
	"bytes"
	"errors"
	"strconv"
	"time"

	"github.com/anthropics/cco/ledger/price"
)

// record is one billable API call as one transcript line tells it.
type record struct {
	msgID     []byte // message.id (nil = none); advisor iterations get "<id>:advisor:<n>"
	reqID     []byte // requestId (nil = none); both may be the line's bytes
	session   string // sessionId field ("" = none)
	ts        int64  // Unix microseconds, UTC
	model     string // message.model ("" or "<synthetic>" = no model)
	fast      bool   // usage.speed == "fast"
	sidechain bool
	tok       price.Tokens
	cost      float64 // costUSD, when hasCost
	hasCost   bool
}

func (r *record) total() int64 {
	return r.tok.Input + r.tok.Output + r.tok.Cache5m + r.tok.Cache1h + r.tok.CacheRead
}

// usageMarker is the cheap pre-filter: a line without it holds no usage.
var usageMarker = []byte(`"usage"`)

// errNoTime: a line with usage whose timestamp is missing or unreadable.
var errNoTime = errors.New("usage without a readable timestamp")

// usage is message.usage (or an advisor iteration) as read.
type usage struct {
	tok      price.Tokens
	cc       int64 // cache_creation_input_tokens
	split    bool  // a cache_creation object was present
	fast     bool
	advisors []advisor
}

type advisor struct {
	n     int
	model string
	u     usage
}

func (u *usage) tokens() price.Tokens {
	t := u.tok
	if !u.split {
		// Without the 5m/1h split, every write is priced as a 5-minute one.
		t.Cache5m, t.Cache1h = u.cc, 0
	}
	return t
}

type message struct {
	id    []byte
	model string
	usage *usage
}

// parseLine appends to out the calls that line records: none for a line
// without usage (most lines), one for an assistant record or its progress
// mirror, plus one per advisor iteration. err != nil means the line may
// hold usage but cannot be read: the caller counts it as malformed.
func parseLine(line []byte, out []record, names map[string]string) ([]record, error) {
	if !bytes.Contains(line, usageMarker) {
		return out, nil
	}
	if names == nil {
		names = map[string]string{}
	}
	s := scanner{b: line, names: names}
	var (
		typ, timestamp, req []byte
		session             string
		sidechain           bool
		cost                float64
		hasCost             bool
		msg                 message
		data                progressData
	)
	err := s.object(func(key []byte) error {
		var err error
		switch string(key) {
		case "type":
			typ, err = s.bytes()
		case "timestamp":
			timestamp, err = s.bytes()
		case "sessionId":
			session, err = s.str(true)
		case "requestId":
			req, err = s.bytes()
		case "isSidechain":
			sidechain, err = s.boolean()
		case "costUSD":
			cost, hasCost, err = s.float()
		case "message":
			msg, err = s.message()
		case "data":
			data, err = s.progress()
		default:
			err = s.skip()
		}
		return err
	})
	if err != nil {
		return out, err
	}
	if s.peek() != 0 {
		return out, errSyntax
	}
	if msg.usage == nil && string(typ) == "progress" && data.msg.usage != nil {
		// A subagent's call mirrored into the parent's transcript.
		msg, timestamp, req, sidechain, hasCost = data.msg, data.timestamp, data.req, true, false
		if data.session != "" && session == "" {
			session = data.session
		}
	}
	if msg.usage == nil {
		return out, nil
	}
	ts, ok := parseTime(timestamp)
	if !ok {
		return out, errNoTime
	}
	u := msg.usage
	out = append(out, record{
		msgID: msg.id, reqID: req, session: session, ts: ts, model: msg.model,
		fast: u.fast, sidechain: sidechain, tok: u.tokens(), cost: cost, hasCost: hasCost,
	})
	for _, a := range u.advisors {
		var id []byte
		if len(msg.id) > 0 {
			id = append(append([]byte(nil), msg.id...), ":advisor:"+strconv.Itoa(a.n)...)
		}
		out = append(out, record{
			msgID: id, reqID: req, session: session, ts: ts, model: a.model,
			fast: a.u.fast, sidechain: sidechain, tok: a.u.tokens(),
		})
	}
	return out, nil
}

type progressData struct {
	timestamp, req []byte
	session        string
	msg            message
}

// progress reads a progress line's data: {type, message: {timestamp,
// requestId, sessionId, message: {…usage…}}}.
func (s *scanner) progress() (progressData, error) {
	var d progressData
	if s.peek() != '{' {
		return d, s.skip()
	}
	err := s.object(func(key []byte) error {
		if string(key) != "message" || s.peek() != '{' {
			return s.skip()
		}
		return s.object(func(key []byte) error {
			var err error
			switch string(key) {
			case "timestamp":
				d.timestamp, err = s.bytes()
			case "requestId":
				d.req, err = s.bytes()
			case "sessionId":
				d.session, err = s.str(true)
			case "message":
				d.msg, err = s.message()
			default:
				err = s.skip()
			}
			return err
		})
	})
	return d, err
}

func (s *scanner) message() (message, error) {
	var m message
	if s.peek() != '{' {
		return m, s.skip()
	}
	err := s.object(func(key []byte) error {
		var err error
		switch string(key) {
		case "id":
			m.id, err = s.bytes()
		case "model":
			m.model, err = s.str(true)
		case "usage":
			if s.peek() != '{' {
				return s.skip()
			}
			var u usage
			u, err = s.usage(true)
			m.usage = &u
		default:
			err = s.skip()
		}
		return err
	})
	return m, err
}

// usage reads a usage object (top says whether iterations may follow).
func (s *scanner) usage(top bool) (usage, error) {
	var u usage
	err := s.object(func(key []byte) error {
		var err error
		switch string(key) {
		case "input_tokens":
			u.tok.Input, err = s.count()
		case "output_tokens":
			u.tok.Output, err = s.count()
		case "cache_read_input_tokens":
			u.tok.CacheRead, err = s.count()
		case "cache_creation_input_tokens":
			u.cc, err = s.count()
		case "cache_creation":
			if s.peek() != '{' {
				return s.skip()
			}
			u.split = true
			err = s.object(func(key []byte) error {
				var err error
				switch string(key) {
				case "ephemeral_5m_input_tokens":
					u.tok.Cache5m, err = s.count()
				case "ephemeral_1h_input_tokens":
					u.tok.Cache1h, err = s.count()
				default:
					err = s.skip()
				}
				return err
			})
		case "speed":
			var sp []byte
			sp, err = s.bytes()
			u.fast = string(sp) == "fast"
		case "iterations":
			if !top || s.peek() != '[' {
				return s.skip()
			}
			err = s.array(func(n int) error {
				a, isAdvisor, err := s.iteration()
				if isAdvisor {
					a.n = n
					u.advisors = append(u.advisors, a)
				}
				return err
			})
		default:
			err = s.skip()
		}
		return err
	})
	return u, err
}

// iteration reads one element of usage.iterations; only advisor_message
// iterations are calls of their own (their tokens are not in the top-level
// fields).
func (s *scanner) iteration() (advisor, bool, error) {
	if s.peek() != '{' {
		return advisor{}, false, s.skip()
	}
	start := s.i
	var typ []byte
	var model string
	if err := s.object(func(key []byte) error {
		var err error
		switch string(key) {
		case "type":
			typ, err = s.bytes()
		case "model":
			model, err = s.str(true)
		default:
			err = s.skip()
		}
		return err
	}); err != nil {
		return advisor{}, false, err
	}
	if string(typ) != "advisor_message" {
		return advisor{}, false, nil
	}
	end := s.i
	s.i = start
	u, err := s.usage(false)
	s.i = end
	return advisor{model: model, u: u}, true, err
}

// parseTime reads an ISO 8601 timestamp to Unix microseconds: any number of
// fraction digits (ccusage drops microsecond ones), Z or an offset, and a
// space instead of the T.
func parseTime(b []byte) (int64, bool) {
	if len(b) >= 20 && b[len(b)-1] == 'Z' && b[10] == 'T' {
		if us, ok := fastTime(b); ok {
			return us, true
		}
	}
	v := string(b)
	if len(v) > 10 && v[10] == ' ' {
		v = v[:10] + "T" + v[11:]
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return 0, false
	}
	return t.UnixMicro(), true
}

// fastTime parses YYYY-MM-DDTHH:MM:SS[.f…]Z without time.Parse's cost.
func fastTime(v []byte) (int64, bool) {
	num := func(s []byte) (int, bool) {
		n := 0
		for i := 0; i < len(s); i++ {
			c := s[i]
			if c < '0' || c > '9' {
				return 0, false
			}
			n = n*10 + int(c-'0')
		}
		return n, true
	}
	if v[4] != '-' || v[7] != '-' || v[13] != ':' || v[16] != ':' {
		return 0, false
	}
	y, ok1 := num(v[0:4])
	mo, ok2 := num(v[5:7])
	d, ok3 := num(v[8:10])
	h, ok4 := num(v[11:13])
	mi, ok5 := num(v[14:16])
	se, ok6 := num(v[17:19])
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 60 {
		return 0, false
	}
	frac := v[19 : len(v)-1]
	us := 0
	if len(frac) > 0 {
		if frac[0] != '.' || len(frac) < 2 {
			return 0, false
		}
		digits := frac[1:]
		f, ok := num(digits)
		if !ok || len(digits) > 9 {
			return 0, false
		}
		for i := len(digits); i < 6; i++ {
			f *= 10
		}
		for i := len(digits); i > 6; i-- {
			f /= 10
		}
		us = f
	}
	t := time.Date(y, time.Month(mo), d, h, mi, se, 0, time.UTC)
	if t.Day() != d {
		return 0, false // 31 February
	}
	return t.Unix()*1e6 + int64(us), true
}
