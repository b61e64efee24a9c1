package ledger

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"strconv"
)

// scanner is a small JSON reader that walks one line and decodes only the
// values the ledger needs; everything else (message content, tool input) is
// skipped by bracket counting, without validating or allocating. That is
// what makes ingest fast, and also what makes it tolerant: whitespace,
// nulls and bad UTF-8 inside skipped values do not matter.
type scanner struct {
	b     []byte
	i     int
	names map[string]string // interned values of str(true): sessions and models repeat
}

var errSyntax = errors.New("malformed JSON")

func (s *scanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// peek returns the next non-space byte, or 0 at the end.
func (s *scanner) peek() byte {
	s.ws()
	if s.i < len(s.b) {
		return s.b[s.i]
	}
	return 0
}

func (s *scanner) expect(c byte) error {
	if s.peek() != c {
		return errSyntax
	}
	s.i++
	return nil
}

// object calls field for each key of the object that starts here; field
// must consume the value (decode it or call skip).
func (s *scanner) object(field func(key []byte) error) error {
	if err := s.expect('{'); err != nil {
		return err
	}
	if s.peek() == '}' {
		s.i++
		return nil
	}
	for {
		key, err := s.rawString()
		if err != nil {
			return err
		}
		if err := s.expect(':'); err != nil {
			return err
		}
		s.ws()
		if err := field(key); err != nil {
			return err
		}
		switch s.peek() {
		case ',':
			s.i++
		case '}':
			s.i++
			return nil
		default:
			return errSyntax
		}
	}
}

// array calls elem for each element of the array that starts here.
func (s *scanner) array(elem func(i int) error) error {
	if err := s.expect('['); err != nil {
		return err
	}
	if s.peek() == ']' {
		s.i++
		return nil
	}
	for n := 0; ; n++ {
		s.ws()
		if err := elem(n); err != nil {
			return err
		}
		switch s.peek() {
		case ',':
			s.i++
		case ']':
			s.i++
			return nil
		default:
			return errSyntax
		}
	}
}

// rawString returns the bytes between the quotes of the string that starts
// here, escapes left as they are.
func (s *scanner) rawString() ([]byte, error) {
	if s.peek() != '"' {
		return nil, errSyntax
	}
	start := s.i + 1
	end, ok := stringEnd(s.b, start)
	if !ok {
		return nil, errSyntax
	}
	s.i = end + 1
	return s.b[start:end], nil
}

// stringEnd returns the index of the quote closing a string whose contents
// start at from.
func stringEnd(b []byte, from int) (int, bool) {
	for {
		j := bytes.IndexByte(b[from:], '"')
		if j < 0 {
			return 0, false
		}
		j += from
		n := 0
		for k := j - 1; k >= from && b[k] == '\\'; k-- {
			n++
		}
		if n%2 == 0 {
			return j, true
		}
		from = j + 1
	}
}

// str decodes a string value; null reads as "". Values that repeat from
// line to line are shared when intern is set.
func (s *scanner) str(intern bool) (string, error) {
	b, err := s.bytes()
	if err != nil || b == nil {
		return "", err
	}
	if !intern || s.names == nil {
		return string(b), nil
	}
	if v, ok := s.names[string(b)]; ok {
		return v, nil
	}
	if len(s.names) > 4096 {
		clear(s.names)
	}
	v := string(b)
	s.names[v] = v
	return v, nil
}

// bytes decodes a string value without copying it when it has no escapes
// (the bytes are the line's, valid while it is); null reads as nil.
func (s *scanner) bytes() ([]byte, error) {
	if s.null() {
		return nil, nil
	}
	raw, err := s.rawString()
	if err != nil {
		return nil, err
	}
	if bytes.IndexByte(raw, '\\') < 0 {
		return raw, nil
	}
	var out string
	q := s.b[s.i-len(raw)-2 : s.i]
	if err := json.Unmarshal(q, &out); err != nil {
		return nil, errSyntax
	}
	return []byte(out), nil
}

func (s *scanner) null() bool {
	if bytes.HasPrefix(s.b[s.i:], []byte("null")) {
		s.i += 4
		return true
	}
	return false
}

// boolean decodes true/false; anything else (null) reads as false.
func (s *scanner) boolean() (bool, error) {
	if bytes.HasPrefix(s.b[s.i:], []byte("true")) {
		s.i += 4
		return true, nil
	}
	if bytes.HasPrefix(s.b[s.i:], []byte("false")) {
		s.i += 5
		return false, nil
	}
	return false, s.skip()
}

func (s *scanner) numberBytes() []byte {
	start := s.i
	for s.i < len(s.b) {
		c := s.b[s.i]
		if c >= '0' && c <= '9' || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E' {
			s.i++
			continue
		}
		break
	}
	return s.b[start:s.i]
}

var errCount = errors.New("a token count is not a whole number >= 0")

// count decodes a token count: a whole non-negative number (100 or 100.0);
// null reads as 0.
func (s *scanner) count() (int64, error) {
	if s.null() {
		return 0, nil
	}
	nb := s.numberBytes()
	if len(nb) == 0 {
		return 0, errCount
	}
	if n, err := strconv.ParseInt(string(nb), 10, 64); err == nil {
		if n < 0 {
			return 0, errCount
		}
		return n, nil
	}
	f, err := strconv.ParseFloat(string(nb), 64)
	if err != nil || f < 0 || f != math.Trunc(f) || f > 1<<53 {
		return 0, errCount
	}
	return int64(f), nil
}

// float decodes a number; null reads as ok=false.
func (s *scanner) float() (float64, bool, error) {
	if s.null() {
		return 0, false, nil
	}
	nb := s.numberBytes()
	f, err := strconv.ParseFloat(string(nb), 64)
	if err != nil {
		return 0, false, errSyntax
	}
	return f, true, nil
}

// skip passes over one value of any kind.
func (s *scanner) skip() error {
	switch s.peek() {
	case '"':
		_, err := s.rawString()
		return err
	case '{', '[':
		depth := 0
		for s.i < len(s.b) {
			c := s.b[s.i]
			switch c {
			case '"':
				end, ok := stringEnd(s.b, s.i+1)
				if !ok {
					return errSyntax
				}
				s.i = end
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					s.i++
					return nil
				}
			}
			s.i++
		}
		return errSyntax
	case 0:
		return errSyntax
	default:
		start := s.i
		for s.i < len(s.b) {
			c := s.b[s.i]
			if c == ',' || c == '}' || c == ']' || c == ' ' || c == '\t' || c == '\r' || c == '\n' {
				break
			}
			s.i++
		}
		if s.i == start {
			return errSyntax
		}
		return nil
	}
}
