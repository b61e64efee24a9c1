// Package ledger keeps a durable, deduplicated ledger of Claude Code's API
// calls, read from its transcripts (projects/**/*.jsonl), and answers daily,
// monthly and session reports in ccusage's JSON shapes.
package ledger

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/anthropics/cco/ledger/price"
	"github.com/anthropics/cco/ledger/store"
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
	Files         int64         `json:"files"`           // transcript files known
	Calls         int64         `json:"calls"`           // distinct API calls stored
	Malformed     int64         `json:"malformed_lines"` // lines that could hold usage but could not be read
	LastIngest    time.Time     `json:"last_ingest"`     // when ingest last committed (zero: never, in this process)
	IngestLag     time.Duration `json:"ingest_lag_ns"`   // how long file changes have waited for ingest (0: none pending)
	Since         time.Time     `json:"since"`           // the oldest call (zero: none)
	Unpriced      []string      `json:"unpriced_models"` // models counted at no cost for want of a price
	Syncing       bool          `json:"syncing"`         // a full scan is under way
	ProgressFiles int64         `json:"progress_files"`  // of the scan under way: files done
	TotalFiles    int64         `json:"total_files"`     // … files to read
	ProgressBytes int64         `json:"progress_bytes"`  // … bytes done
	TotalBytes    int64         `json:"total_bytes"`     // … bytes to read
	Generation    uint64        `json:"generation"`      // changes whenever ingest commits new or changed calls
	ReadOnly      bool          `json:"read_only"`
	Cache         CacheStats    `json:"cache"`
}

// CacheStats counts the report cache's work.
type CacheStats struct {
	Hits      uint64 `json:"hits"`
	Misses    uint64 `json:"misses"`
	Evictions uint64 `json:"evictions"` // entries dropped for the byte budget or their lifetime
	Bytes     int64  `json:"bytes"`     // encoded size of the entries held
	Entries   int    `json:"entries"`
}

// Ledger is an open ledger database and the transcript roots it reads.
type Ledger struct {
	opts     Options
	st       store.Store
	prices   *price.Table
	log      *slog.Logger
	now      func() time.Time
	readOnly bool
	cache    *cache
	fresh    freshness

	// Writer state, guarded by ingestMu: one ingest at a time.
	ingestMu   sync.Mutex
	files      map[string]*store.File
	paths      map[int64]string
	idx        *index
	lastID     int64
	lastFileID int64

	mu    sync.Mutex // guards state
	state State

	hotMu sync.Mutex
	hot   map[string]time.Time // transcripts changed lately, by path
}

// Open opens (creating and migrating if needed) the database at databaseURL
// for reading and writing. Only one process may write to a database.
func Open(ctx context.Context, databaseURL, ccoHome string, o Options) (*Ledger, error) {
	l, err := newLedger(ccoHome, o)
	if err != nil {
		return nil, err
	}
	if l.st, err = store.Open(ctx, databaseURL, ccoHome); err != nil {
		return nil, err
	}
	if err := l.load(ctx); err != nil {
		l.st.Close()
		return nil, err
	}
	// Until the first Sync, the transcripts are unread: a query waits for it.
	l.fresh.want()
	return l, nil
}

// OpenReadOnly opens an existing database for queries only: it never writes
// and never creates the database; a missing one is an error saying so
// (errors.Is(err, store.ErrMissing)).
func OpenReadOnly(ctx context.Context, databaseURL, ccoHome string, o Options) (*Ledger, error) {
	l, err := newLedger(ccoHome, o)
	if err != nil {
		return nil, err
	}
	l.readOnly = true
	l.state.ReadOnly = true
	if l.st, err = store.OpenReadOnly(ctx, databaseURL, ccoHome); err != nil {
		return nil, err
	}
	sum, err := l.st.Summary(ctx)
	if err != nil {
		l.st.Close()
		return nil, err
	}
	l.summarize(sum)
	return l, nil
}

func newLedger(ccoHome string, o Options) (*Ledger, error) {
	l := &Ledger{opts: o, prices: o.Prices, log: o.Logger, now: o.Now}
	if l.prices == nil {
		p, err := price.Load(filepath.Join(ccoHome, "prices.toml"))
		if err != nil {
			return nil, err
		}
		l.prices = p
	}
	if l.log == nil {
		l.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if l.now == nil {
		l.now = time.Now
	}
	if l.opts.RescanEvery <= 0 {
		l.opts.RescanEvery = 5 * time.Minute
	}
	l.cache = newCache(o.CacheBytes, o.CacheTTL, l.now)
	l.hot = map[string]time.Time{}
	l.fresh.init()
	return l, nil
}

// load (re)reads the writer's state from the store.
func (l *Ledger) load(ctx context.Context) error {
	files, err := l.st.Files(ctx)
	if err != nil {
		return err
	}
	l.files = make(map[string]*store.File, len(files))
	l.paths = make(map[int64]string, len(files))
	l.idx = newIndex()
	l.lastID, l.lastFileID = 0, 0
	for i := range files {
		f := files[i]
		l.files[f.Path] = &f
		l.paths[f.ID] = f.Path
		l.lastFileID = max(l.lastFileID, f.ID)
	}
	if err := l.st.Index(ctx, func(e store.IndexEntry) error {
		l.idx.add(e.Key, e.Msg, survivor{id: e.ID, total: e.Total, offset: e.Offset, file: e.FileID, sidechain: e.Sidechain})
		l.lastID = max(l.lastID, e.ID)
		return nil
	}); err != nil {
		return err
	}
	sum, err := l.st.Summary(ctx)
	if err != nil {
		return err
	}
	l.lastID = max(l.lastID, sum.MaxID)
	l.lastFileID = max(l.lastFileID, sum.MaxFileID)
	l.summarize(sum)
	return nil
}

func (l *Ledger) summarize(sum store.Summary) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.state.Files = sum.Files
	l.state.Calls = sum.Calls
	l.state.Malformed = sum.Malformed
	if sum.Oldest != 0 {
		l.state.Since = time.UnixMicro(sum.Oldest).UTC()
	}
	l.state.Unpriced = l.unpriced(sum.Models)
}

func (l *Ledger) unpriced(models []string) []string {
	var out []string
	for _, m := range models {
		if noModel(m) {
			continue
		}
		if _, ok := l.prices.Lookup(m); !ok {
			out = append(out, m)
		}
	}
	sort.Strings(out)
	return out
}

// committed updates the state after a successful commit of w's batch.
func (l *Ledger) committed(w *writer) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.state.Calls += int64(w.stats.Calls)
	l.state.Files = int64(len(l.files))
	l.state.Malformed = 0
	for _, f := range l.files {
		l.state.Malformed += f.Malformed
	}
	l.state.ProgressFiles += int64(w.files)
	l.state.ProgressBytes += w.bytes
	l.state.LastIngest = l.now()
	var models []string
	for i := range w.b.Insert {
		c := &w.b.Insert[i]
		if l.state.Since.IsZero() || c.TS < l.state.Since.UnixMicro() {
			l.state.Since = time.UnixMicro(c.TS).UTC()
		}
		models = append(models, c.Model.Name)
	}
	for i := range w.b.Replace {
		models = append(models, w.b.Replace[i].Model.Name)
	}
	for _, m := range l.unpriced(models) {
		if i := sort.SearchStrings(l.state.Unpriced, m); i == len(l.state.Unpriced) || l.state.Unpriced[i] != m {
			l.state.Unpriced = append(l.state.Unpriced, m)
			sort.Strings(l.state.Unpriced)
		}
	}
	if w.stats.Calls > 0 || w.stats.Replaced > 0 {
		l.state.Generation++
		l.cache.invalidate()
	}
}

// Sync scans every root once and ingests every new complete line; it
// returns when what it read is committed.
func (l *Ledger) Sync(ctx context.Context) (SyncStats, error) {
	if l.readOnly {
		return SyncStats{}, errReadOnly
	}
	seq := l.fresh.want()
	defer l.fresh.done(seq)
	l.ingestMu.Lock()
	defer l.ingestMu.Unlock()
	refs, _, err := walk(l.opts.Roots)
	if err != nil {
		return SyncStats{}, err
	}
	jobs, total := l.plan(refs)
	l.mu.Lock()
	l.state.Syncing = true
	l.state.ProgressFiles, l.state.TotalFiles = 0, int64(len(jobs))
	l.state.ProgressBytes, l.state.TotalBytes = 0, total
	l.mu.Unlock()
	defer func() {
		l.mu.Lock()
		l.state.Syncing = false
		l.mu.Unlock()
	}()
	st, err := l.ingest(ctx, jobs)
	st.Files = len(refs)
	return st, err
}

// SetCacheLimits changes the report cache's budget (bytes <= 0 disables
// it) and its entries' lifetime (ttl <= 0: until ingest invalidates them)
// while the ledger runs, as Options.CacheBytes and CacheTTL set them at
// Open.
func (l *Ledger) SetCacheLimits(bytes int64, ttl time.Duration) {
	l.cache.setLimits(bytes, ttl)
}

// State reports the ledger's condition.
func (l *Ledger) State() State {
	l.mu.Lock()
	s := l.state
	s.Unpriced = append([]string(nil), l.state.Unpriced...)
	l.mu.Unlock()
	s.IngestLag = l.fresh.lag(l.now())
	s.Cache = l.cache.stats()
	return s
}

// Close releases the database; it waits for an ingest under way to end
// (cancel Run's context first).
func (l *Ledger) Close() error {
	l.ingestMu.Lock()
	defer l.ingestMu.Unlock()
	return l.st.Close()
}
