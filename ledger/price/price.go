// Package price prices Claude API calls per model: an embedded table plus a
// user's TOML file that adds or overrides models.
package price

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sort"
	"strings"

	"github.com/pelletier/go-toml/v2"
)

// LongContext is the per-field token count of one call beyond which a model
// with an above_200k tier charges that tier's rate.
const LongContext = 200_000

// Tokens are one call's (or a sum of calls') token counts per priced field.
type Tokens struct {
	Input, Output, Cache5m, Cache1h, CacheRead int64
}

// Above returns each field's tokens beyond LongContext.
func (t Tokens) Above() Tokens {
	ex := func(n int64) int64 { return max(n-LongContext, 0) }
	return Tokens{ex(t.Input), ex(t.Output), ex(t.Cache5m), ex(t.Cache1h), ex(t.CacheRead)}
}

// Rates are dollars per token for each field.
type Rates struct {
	Input, Output, CacheWrite5m, CacheWrite1h, CacheRead float64
}

func (r Rates) cost(t Tokens) float64 {
	return float64(t.Input)*r.Input + float64(t.Output)*r.Output + float64(t.Cache5m)*r.CacheWrite5m +
		float64(t.Cache1h)*r.CacheWrite1h + float64(t.CacheRead)*r.CacheRead
}

// Model is one model's prices.
type Model struct {
	Rates
	Above200k *Rates  // nil: one rate whatever the size
	Fast      float64 // multiplier of a fast-mode call (1 when the model has none)
}

// Table is a set of model prices. It is not changed after Load.
type Table struct {
	models  map[string]Model
	keys    []string // longest first, for fuzzy matching
	premium map[string]float64
}

// Price is what Lookup found for a model id.
type Price struct {
	Key     string // the table's model the id matched
	Model   Model
	Premium float64 // regional multiplier (Bedrock cross-region ids)
}

//go:embed prices.json
var embedded []byte

// Embedded returns the built-in table. It panics only if the embedded file
// is broken, which TestEmbeddedCosts catches.
func Embedded() *Table {
	t, err := parseJSON(embedded)
	if err != nil {
		panic("price: embedded prices.json: " + err.Error())
	}
	return t
}

// rateFile is one model in prices.json or prices.toml: dollars per million
// tokens. Omitted cache rates follow input as Anthropic prices them.
type rateFile struct {
	Input        *float64 `json:"input" toml:"input"`
	Output       *float64 `json:"output" toml:"output"`
	CacheWrite5m *float64 `json:"cache_write_5m" toml:"cache_write_5m"`
	CacheWrite1h *float64 `json:"cache_write_1h" toml:"cache_write_1h"`
	CacheRead    *float64 `json:"cache_read" toml:"cache_read"`
}

type modelFile struct {
	rateFile
	Above200k *rateFile `json:"above_200k" toml:"above_200k"`
	Fast      *float64  `json:"fast" toml:"fast"`
}

// TOML decoding does not flatten embedded structs, so the file form lists
// the fields again.
type modelTOML struct {
	Input        *float64  `toml:"input"`
	Output       *float64  `toml:"output"`
	CacheWrite5m *float64  `toml:"cache_write_5m"`
	CacheWrite1h *float64  `toml:"cache_write_1h"`
	CacheRead    *float64  `toml:"cache_read"`
	Above200k    *rateFile `toml:"above_200k"`
	Fast         *float64  `toml:"fast"`
}

func (r rateFile) rates() (Rates, error) {
	if r.Input == nil || r.Output == nil {
		return Rates{}, errors.New("needs both input and output (dollars per million tokens)")
	}
	or := func(p *float64, def float64) float64 {
		if p == nil {
			return def
		}
		return *p
	}
	in := *r.Input
	rs := Rates{in, *r.Output, or(r.CacheWrite5m, 1.25*in), or(r.CacheWrite1h, 2*in), or(r.CacheRead, 0.1*in)}
	for _, v := range []float64{rs.Input, rs.Output, rs.CacheWrite5m, rs.CacheWrite1h, rs.CacheRead} {
		if v < 0 {
			return Rates{}, errors.New("has a negative rate")
		}
	}
	const perToken = 1e-6
	rs.Input *= perToken
	rs.Output *= perToken
	rs.CacheWrite5m *= perToken
	rs.CacheWrite1h *= perToken
	rs.CacheRead *= perToken
	return rs, nil
}

func (m modelFile) model() (Model, error) {
	base, err := m.rateFile.rates()
	if err != nil {
		return Model{}, err
	}
	out := Model{Rates: base, Fast: 1}
	if m.Above200k != nil {
		a, err := m.Above200k.rates()
		if err != nil {
			return Model{}, fmt.Errorf("above_200k %w", err)
		}
		out.Above200k = &a
	}
	if m.Fast != nil {
		if *m.Fast <= 0 {
			return Model{}, errors.New("has a fast multiplier that is not positive")
		}
		out.Fast = *m.Fast
	}
	return out, nil
}

func parseJSON(data []byte) (*Table, error) {
	var f struct {
		Comment string               `json:"_comment"`
		Premium map[string]float64   `json:"regional_premium"`
		Models  map[string]modelFile `json:"models"`
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return nil, err
	}
	t := &Table{models: map[string]Model{}, premium: f.Premium}
	for name, mf := range f.Models {
		m, err := mf.model()
		if err != nil {
			return nil, fmt.Errorf("model %q %w", name, err)
		}
		t.models[name] = m
	}
	t.index()
	return t, nil
}

func (t *Table) index() {
	t.keys = t.keys[:0]
	for k := range t.models {
		t.keys = append(t.keys, k)
	}
	sort.Slice(t.keys, func(i, j int) bool {
		if len(t.keys[i]) != len(t.keys[j]) {
			return len(t.keys[i]) > len(t.keys[j])
		}
		return t.keys[i] < t.keys[j]
	})
}

// Load returns the built-in table with the user file at path applied: each
// model it names is added or replaces the built-in entry. A missing file is
// not an error.
func Load(path string) (*Table, error) {
	t := Embedded()
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return t, nil
	}
	if err != nil {
		return nil, err
	}
	var f struct {
		Models map[string]modelTOML `toml:"models"`
	}
	dec := toml.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		var se *toml.StrictMissingError
		if errors.As(err, &se) && len(se.Errors) > 0 {
			row, _ := se.Errors[0].Position()
			return nil, fmt.Errorf("%s:%d: unknown key %q (a model takes input, output, cache_write_5m, cache_write_1h, cache_read, fast, above_200k)",
				path, row, strings.Join(se.Errors[0].Key(), "."))
		}
		var de *toml.DecodeError
		if errors.As(err, &de) {
			row, col := de.Position()
			return nil, fmt.Errorf("%s:%d:%d: %s", path, row, col, de.Error())
		}
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	for name, m := range f.Models {
		mf := modelFile{rateFile{m.Input, m.Output, m.CacheWrite5m, m.CacheWrite1h, m.CacheRead}, m.Above200k, m.Fast}
		model, err := mf.model()
		if err != nil {
			return nil, fmt.Errorf("%s: model %q %w", path, name, err)
		}
		t.models[name] = model
	}
	t.index()
	return t, nil
}

// Lookup finds the price of a model id: the exact id, else (with dots
// between digits read as dashes, "claude-opus-4.6") the longest known id
// found inside it on word boundaries ("claude-opus-4-6-20260101",
// "us.anthropic.claude-sonnet-4-5-20250929-v1:0"). Bedrock cross-region ids
// carry their regional premium.
func (t *Table) Lookup(model string) (Price, bool) {
	if m, ok := t.models[model]; ok {
		return Price{Key: model, Model: m, Premium: 1}, true
	}
	id := undot(model)
	premium := 1.0
	for prefix, p := range t.premium {
		if strings.HasPrefix(id, prefix) {
			premium = p
		}
	}
	for _, k := range t.keys {
		if containsWord(id, k) {
			return Price{Key: k, Model: t.models[k], Premium: premium}, true
		}
	}
	return Price{}, false
}

func isAlnum(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// wordEnd says whether rest, what follows a match, ends the word. A version
// continuation is not an end ("claude-sonnet-4" is not in
// "claude-sonnet-4-7"), a date is ("claude-opus-4-6-20260101").
func wordEnd(rest string) bool {
	if rest == "" {
		return true
	}
	if isAlnum(rest[0]) {
		return false
	}
	if rest[0] != '-' {
		return true
	}
	digits := 0
	for digits+1 < len(rest) && isDigit(rest[digits+1]) {
		digits++
	}
	return digits == 0 || digits >= 8
}

func undot(s string) string {
	if !strings.Contains(s, ".") {
		return s
	}
	b := []byte(s)
	for i := 1; i+1 < len(b); i++ {
		if b[i] == '.' && isDigit(b[i-1]) && isDigit(b[i+1]) {
			b[i] = '-'
		}
	}
	return string(b)
}

func containsWord(s, w string) bool {
	for from := 0; ; {
		i := strings.Index(s[from:], w)
		if i < 0 {
			return false
		}
		i += from
		end := i + len(w)
		if (i == 0 || !isAlnum(s[i-1])) && wordEnd(s[end:]) {
			return true
		}
		from = i + 1
	}
}

// Cost prices one call.
func (p Price) Cost(t Tokens, fast bool) float64 {
	return p.CostSplit(t, t.Above(), fast)
}

// CostSplit prices tokens summed over calls, given the sum of each call's
// excess over LongContext (Tokens.Above): the long-context tier applies per
// call and per field, so the excess must be summed call by call.
func (p Price) CostSplit(total, above Tokens, fast bool) float64 {
	c := p.Model.Rates.cost(total)
	if a := p.Model.Above200k; a != nil {
		c += a.cost(above) - p.Model.Rates.cost(above)
	}
	if fast {
		c *= p.Model.Fast
	}
	return c * p.Premium
}
