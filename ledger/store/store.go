// Package store keeps the ledger's calls, the per-file ingest positions and
// the aggregates reports read. A Store is chosen by the database URL's
// scheme; sqlite:// is the one there is.
package store

import (
	"context"
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"strings"

	"github.com/anthropics/cco/ledger/price"
)

// ErrMissing is returned by OpenReadOnly when the database does not exist.
var ErrMissing = errors.New("no ledger database yet")

// Store is the ledger's persistence. One process writes (Commit); any
// number read. Calls are kept in chunks (the calls one ingest round read
// from one file, packed): a row per call would make the first ingest of a
// large history several times slower.
type Store interface {
	// Files returns every transcript file the store has read from.
	Files(ctx context.Context) ([]File, error)
	// Calls calls fn for every stored call made in span, chunk by chunk
	// (in the order they were stored). Chunks with no call in span are
	// not read.
	Calls(ctx context.Context, span Span, fn func(Loc, *Call) error) error
	// Chunk returns the calls of one chunk.
	Chunk(ctx context.Context, id int64) ([]Call, error)
	// Commit applies a batch atomically: its calls and the file positions
	// that produced them land together or not at all.
	Commit(ctx context.Context, b *Batch) error
	// Zones lists the time zones whose days are kept (see Days).
	Zones(ctx context.Context) ([]string, error)
	// Days returns, for a kept zone, the per-day and per-model sums of
	// local days [from, to) (days since 1970-01-01), of one project or
	// ("") all.
	Days(ctx context.Context, zone string, from, to int64, project string) ([]Day, error)
	// Summary counts what the store holds.
	Summary(ctx context.Context) (Summary, error)
	Close() error
}

// Model is how calls are grouped for pricing: the model id, whether the
// call ran in fast mode, and whether its cost came with it (costUSD).
type Model struct {
	Name  string
	Fast  bool
	Fixed bool
}

// Label is the model's name in reports.
func (m Model) Label() string {
	if m.Fast {
		return m.Name + "-fast"
	}
	return m.Name
}

// Span is the calls made from From up to, not including, To (Call.TS).
type Span struct{ From, To int64 }

// Always is every call.
var Always = Span{math.MinInt64, math.MaxInt64}

// Holds reports whether a call made at ts is in the span.
func (s Span) Holds(ts int64) bool { return ts >= s.From && ts < s.To }

// Loc is where a call is stored: its chunk and its place in it.
type Loc struct {
	Chunk int64
	Idx   int32
}

// Call is one API call: the copy of it the ledger keeps.
type Call struct {
	Key       [16]byte // dedupe key (a hash)
	Msg       int64    // hash of message.id, for sidechain replays (0 = none)
	Sidechain bool
	FileID    int64 // the kept copy's file
	Offset    int64 // … and line
	TS        int64 // Unix microseconds, UTC
	Session   string
	Project   string
	Model     Model
	Tokens    price.Tokens
	Cost      float64 // costUSD when Model.Fixed
	OrderFile int64   // where the call was first seen (file, and the line's offset × 64 + the
	OrderOff  int64   // call's place in its line): the order ccusage lists models in
}

// Total is the call's token total.
func (c *Call) Total() int64 {
	t := c.Tokens
	return t.Input + t.Output + t.Cache5m + t.Cache1h + t.CacheRead
}

// File is a transcript's ingest position.
type File struct {
	ID        int64
	Path      string
	Dev, Ino  uint64
	Size      int64 // at the last read
	MTime     int64 // nanoseconds, at the last read
	Offset    int64 // bytes consumed: every complete line before it is in the ledger
	HeadHash  [16]byte
	HeadLen   int64 // bytes HeadHash covers (the file's first ones)
	Malformed int64 // unreadable lines before Offset
}

// Chunk is calls stored together.
type Chunk struct {
	ID     int64
	FileID int64
	Calls  []Call
}

// Update rewrites a stored call (another copy of it is now kept).
type Update struct {
	At   Loc
	Call Call
}

// DayDelta changes one day's sums in one zone.
type DayDelta struct {
	Zone    string
	Day     int64 // local days since 1970-01-01
	Model   Model
	Project string // "" for the sums over every project
	Calls   int64
	Tokens  price.Tokens
	Above   price.Tokens // summed per-call excess over price.LongContext
	Cost    float64      // summed costUSD (Fixed models)
	First   []byte       // the smallest first-seen position among its calls (min is kept)
}

// Batch is one transaction's worth of ingest.
type Batch struct {
	Files     []File
	Chunks    []Chunk
	Updates   []Update
	Days      []DayDelta
	Zones     []string // zones whose days this batch starts to keep
	DropZones []string // zones whose days are no longer kept
	Oldest    int64    // the earliest call time in the batch (0: none)
}

// Day is one day's usage of one model.
type Day struct {
	Day    int64
	Model  Model
	Calls  int64
	Tokens price.Tokens
	Above  price.Tokens
	Cost   float64
	First  []byte
}

// Summary counts what a store holds.
type Summary struct {
	Files, Calls, Malformed int64
	Oldest                  int64 // earliest call (Unix microseconds), 0 if none
	Models                  []string
	MaxChunk, MaxFileID     int64
}

// Path returns the file a sqlite:// URL names: relative paths are under
// ccoHome ("sqlite://analytics.db" is $CCO_HOME/analytics.db), absolute
// ones ("sqlite:///var/lib/cco/a.db") are taken as they are.
func Path(databaseURL, ccoHome string) (string, error) {
	scheme, rest, ok := strings.Cut(databaseURL, "://")
	if !ok {
		return "", fmt.Errorf("database URL %q has no scheme: write sqlite://analytics.db", databaseURL)
	}
	if scheme != "sqlite" {
		return "", fmt.Errorf("database URL %q: the %s:// scheme is not supported; use sqlite://", databaseURL, scheme)
	}
	if rest == "" {
		return "", fmt.Errorf("database URL %q names no database file", databaseURL)
	}
	if i := strings.IndexByte(rest, '?'); i >= 0 {
		return "", fmt.Errorf("database URL %q: options (?…) are not supported", databaseURL)
	}
	if filepath.IsAbs(rest) {
		return filepath.Clean(rest), nil
	}
	return filepath.Join(ccoHome, rest), nil
}

// Open opens the store at databaseURL for writing, creating and migrating
// it as needed.
func Open(ctx context.Context, databaseURL, ccoHome string) (Store, error) {
	p, err := Path(databaseURL, ccoHome)
	if err != nil {
		return nil, err
	}
	return openSQLite(ctx, p, false)
}

// OpenReadOnly opens an existing store for queries only.
func OpenReadOnly(ctx context.Context, databaseURL, ccoHome string) (Store, error) {
	p, err := Path(databaseURL, ccoHome)
	if err != nil {
		return nil, err
	}
	return openSQLite(ctx, p, true)
}
