package ccusage

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strconv"
)

// CostTolerance is the relative difference allowed between two costs:
// ccusage's own reports differ in the last digits (summing order).
const CostTolerance = 1e-9

// costKeys are the fields compared within CostTolerance; every other
// number must be equal.
var costKeys = map[string]bool{"totalCost": true, "cost": true}

// Diff compares the JSON document got with want, ccusage's: the same keys
// in the same order, arrays of the same length in the same order, strings,
// booleans and integers equal, costs within CostTolerance. It returns one
// line per difference, naming where (such as daily[3].modelBreakdowns[0].cost),
// at most max of them (0: all).
func Diff(want, got []byte, max int) ([]string, error) {
	w, err := parse(want)
	if err != nil {
		return nil, fmt.Errorf("ccusage's JSON: %w", err)
	}
	g, err := parse(got)
	if err != nil {
		return nil, fmt.Errorf("the JSON compared with ccusage's: %w", err)
	}
	d := &differ{max: max}
	d.node("", "", w, g)
	return d.out, nil
}

type differ struct {
	out []string
	max int
}

func (d *differ) add(format string, args ...any) {
	if d.max == 0 || len(d.out) < d.max {
		d.out = append(d.out, fmt.Sprintf(format, args...))
	}
}

func (d *differ) node(path, key string, w, g *node) {
	at := path
	if at == "" {
		at = "(top)"
	}
	if w.kind != g.kind {
		d.add("%s: want %s, got %s", at, w, g)
		return
	}
	switch w.kind {
	case '{':
		if !equalStrings(w.keys, g.keys) {
			d.add("%s: want keys %q, got %q", at, w.keys, g.keys)
		}
		for i, k := range w.keys {
			j := indexOf(g.keys, k)
			if j < 0 {
				continue
			}
			d.node(join(path, k), k, w.vals[i], g.vals[j])
		}
	case '[':
		if len(w.vals) != len(g.vals) {
			d.add("%s: want %d elements, got %d", at, len(w.vals), len(g.vals))
		}
		for i := range min(len(w.vals), len(g.vals)) {
			d.node(fmt.Sprintf("%s[%d]", path, i), key, w.vals[i], g.vals[i])
		}
	case 'n':
		if costKeys[key] {
			a, _ := strconv.ParseFloat(w.text, 64)
			b, _ := strconv.ParseFloat(g.text, 64)
			if !costsAgree(a, b) {
				d.add("%s: want cost %s, got %s", at, w.text, g.text)
			}
			return
		}
		a, errA := strconv.ParseInt(w.text, 10, 64)
		b, errB := strconv.ParseInt(g.text, 10, 64)
		if errA != nil || errB != nil {
			if w.text != g.text {
				d.add("%s: want %s, got %s", at, w.text, g.text)
			}
			return
		}
		if a != b {
			d.add("%s: want %d, got %d (%+d)", at, a, b, b-a)
		}
	default:
		if w.text != g.text {
			d.add("%s: want %s, got %s", at, w, g)
		}
	}
}

// costsAgree reports whether two costs agree within CostTolerance (relative;
// -0 and 0 are equal).
func costsAgree(a, b float64) bool {
	if a == b {
		return true
	}
	return math.Abs(a-b) <= CostTolerance*math.Max(math.Abs(a), math.Abs(b))
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func indexOf(s []string, k string) int {
	for i, x := range s {
		if x == k {
			return i
		}
	}
	return -1
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// node is a JSON value that keeps its object keys in document order.
type node struct {
	kind byte   // '{', '[', 'n' (number), 's' (string), 'b' (bool), '0' (null)
	text string // number, string, bool
	keys []string
	vals []*node
}

func (n *node) String() string {
	switch n.kind {
	case '{':
		return fmt.Sprintf("an object of %d keys", len(n.keys))
	case '[':
		return fmt.Sprintf("an array of %d", len(n.vals))
	case 's':
		return strconv.Quote(n.text)
	case '0':
		return "null"
	}
	return n.text
}

func parse(b []byte) (*node, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	n, err := parseValue(dec)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("data after the document")
	}
	return n, nil
}

func parseValue(dec *json.Decoder) (*node, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch v := tok.(type) {
	case json.Delim:
		switch v {
		case '{':
			n := &node{kind: '{'}
			for dec.More() {
				k, err := dec.Token()
				if err != nil {
					return nil, err
				}
				val, err := parseValue(dec)
				if err != nil {
					return nil, err
				}
				n.keys = append(n.keys, k.(string))
				n.vals = append(n.vals, val)
			}
			_, err := dec.Token()
			return n, err
		case '[':
			n := &node{kind: '['}
			for dec.More() {
				val, err := parseValue(dec)
				if err != nil {
					return nil, err
				}
				n.vals = append(n.vals, val)
			}
			_, err := dec.Token()
			return n, err
		}
		return nil, fmt.Errorf("unexpected %v", v)
	case json.Number:
		return &node{kind: 'n', text: v.String()}, nil
	case string:
		return &node{kind: 's', text: v}, nil
	case bool:
		return &node{kind: 'b', text: strconv.FormatBool(v)}, nil
	case nil:
		return &node{kind: '0'}, nil
	}
	return nil, fmt.Errorf("unexpected token %v", tok)
}
