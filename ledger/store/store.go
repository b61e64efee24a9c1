// Package store keeps the ledger's calls, the per-file ingest positions and
// the aggregates reports read. A Store is chosen by the database URL's
// scheme; sqlite:// is the one there is.
package store

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/anthropics/cco/ledger/price"
)

// ErrMissing is returned by OpenReadOnly when the database does not exist.
var ErrMissing = errors.New("no ledger database yet")

// Store is the ledger's persistence. One process writes (Commit); any
// number read.
type Store interface {
	// Files returns every transcript file the store has read from.
	Files(ctx context.Context) ([]File, error)
	// Index calls fn for every stored call, for the writer's dedupe index.
	Index(ctx context.Context, fn func(IndexEntry) error) error
	// Commit applies a batch atomically: its calls and the file positions
	// that produced them land together or not at all.
	Commit(ctx context.Context, b *Batch) error
	// Buckets returns the quarter-hour aggregates in [from, to) (Unix
	// seconds / 900), of one project or ("") all, merged over projects.
	Buckets(ctx context.Context, from, to int64, project string) ([]Bucket, error)
	// Sessions returns per session, project and model the calls whose time
	// is in [from, to) (Unix microseconds).
	Sessions(ctx context.Context, from, to int64, project string) ([]SessionModel, error)
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

// Call is one API call as stored.
type Call struct {
	ID        int64
	Key       [16]byte // dedupe key (a hash)
	Msg       int64    // hash of message.id, for sidechain replays (0 = none)
	Sidechain bool
	FileID    int64
	Offset    int64 // of the line in its file
	TS        int64 // Unix microseconds, UTC
	Session   string
	Project   string
	Model     Model
	Tokens    price.Tokens
	Cost      float64 // costUSD when Model.Fixed
}

// IndexEntry is what the writer's dedupe index needs of a stored call.
type IndexEntry struct {
	ID        int64
	Key       [16]byte
	Msg       int64
	Sidechain bool
	Total     int64
	FileID    int64
	Offset    int64
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

// Batch is one transaction's worth of ingest.
type Batch struct {
	Files   []File // positions after the calls below (new files have ID set by the caller)
	Insert  []Call
	Replace []Call // new surviving copies of stored calls (same ID)
}

// Bucket is a quarter hour's usage of one model.
type Bucket struct {
	Bucket  int64
	Model   Model
	Tokens  price.Tokens
	Above   price.Tokens // summed per-call excess over price.LongContext
	Cost    float64      // summed costUSD (Fixed models)
	FirstTS int64        // earliest call, for first-seen model order
}

// SessionModel is a session's usage of one model.
type SessionModel struct {
	Session, Project string
	Model            Model
	Tokens, Above    price.Tokens
	Cost             float64
	First, Last      int64 // Unix microseconds
}

// Summary counts what a store holds.
type Summary struct {
	Files, Calls, Malformed int64
	Oldest                  int64 // earliest call (Unix microseconds), 0 if none
	Models                  []string
	MaxID, MaxFileID        int64
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
