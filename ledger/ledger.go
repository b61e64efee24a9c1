// Package ledger keeps a durable, deduplicated ledger of Claude Code's API
// calls, read from its transcripts (projects/**/*.jsonl), and answers daily,
// monthly and session reports in ccusage's JSON shapes.
package ledger

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/anthropics/cco/ledger/price"
)

// Prices is the price table: the embedded one, plus a user's overrides.
type Prices = price.Table

// Options configure a Ledger. Zero values take defaults.
type Options struct {
	Roots       []string         // transcript roots (see Roots); each holds projects/
	Prices      *Prices          // nil: the embedded table plus $CCO_HOME/prices.toml
	Now         func() time.Time // nil: time.Now
	Logger      *slog.Logger     // nil: discard
	CacheBytes  int64            // report cache budget in bytes; <= 0 disables the cache
	CacheTTL    time.Duration    // report cache entry lifetime; <= 0: entries live until ingest invalidates them
	RescanEvery time.Duration    // periodic full rescan under Run; <= 0: 5 minutes
}

// SyncStats says what one Sync did.
type SyncStats struct {
	Files     int   // transcript files seen
	Read      int   // files that had new bytes
	Bytes     int64 // bytes read
	Lines     int   // complete lines read
	Calls     int   // new calls added to the ledger
	Replaced  int   // calls whose surviving copy changed
	Malformed int   // lines that could not be read
}

// State is the ledger's condition, for /health and /metrics.
type State struct {
	Files         int64         `json:"files"`
	Calls         int64         `json:"calls"`
	Malformed     int64         `json:"malformed_lines"`
	LastIngest    time.Time     `json:"last_ingest"`
	IngestLag     time.Duration `json:"ingest_lag_ns"`
	Since         time.Time     `json:"since"`
	Unpriced      []string      `json:"unpriced_models"`
	Syncing       bool          `json:"syncing"`
	ProgressFiles int64         `json:"progress_files"`
	TotalFiles    int64         `json:"total_files"`
	ProgressBytes int64         `json:"progress_bytes"`
	TotalBytes    int64         `json:"total_bytes"`
	Generation    uint64        `json:"generation"`
	ReadOnly      bool          `json:"read_only"`
	Cache         CacheStats    `json:"cache"`
}

// CacheStats counts the report cache's work.
type CacheStats struct {
	Hits      uint64 `json:"hits"`
	Misses    uint64 `json:"misses"`
	Evictions uint64 `json:"evictions"`
	Bytes     int64  `json:"bytes"`
	Entries   int    `json:"entries"`
}

var errNotYet = errors.New("ledger: not implemented yet")

// Ledger is an open ledger database and the transcript roots it reads.
type Ledger struct {
	opts     Options
	readOnly bool
}

// Open opens (creating and migrating if needed) the database at databaseURL
// for reading and writing. Only one process may hold it open this way.
func Open(ctx context.Context, databaseURL, ccoHome string, o Options) (*Ledger, error) {
	return nil, errNotYet
}

// OpenReadOnly opens an existing database for queries only: it never writes
// and never creates anything; a missing database is an error saying so.
func OpenReadOnly(ctx context.Context, databaseURL, ccoHome string, o Options) (*Ledger, error) {
	return nil, errNotYet
}

// Sync scans every root once and ingests every new complete line; it
// returns when what it read is committed.
func (l *Ledger) Sync(ctx context.Context) (SyncStats, error) {
	return SyncStats{}, errNotYet
}

// Run syncs, then follows the roots (file system events plus a periodic
// rescan) until ctx is done.
func (l *Ledger) Run(ctx context.Context) error {
	return errNotYet
}

// State reports the ledger's condition.
func (l *Ledger) State() State {
	return State{ReadOnly: l.readOnly}
}

// Close releases the database.
func (l *Ledger) Close() error {
	return nil
}
