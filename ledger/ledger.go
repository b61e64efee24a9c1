// Package ledger keeps a durable, deduplicated ledger of Claude Code's API
// calls, read from its transcripts (projects/**/*.jsonl), and answers daily,
// monthly and session reports in ccusage's JSON shapes.
package ledger

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/fsnotify/fsnotify"

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
	Malformed     int64         `json:"malformed_lines"` // unreadable lines: those stored, plus every one seen since (a counter)
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
	lastChunk  int64
	lastFileID int64
	zones      []zone // the time zones whose days the store keeps

	keptMu sync.Mutex
	kept   map[string]bool // zone names the store keeps days of

	mu          sync.Mutex // guards state and totals
	state       State
	totals      map[string]*ModelTotal
	summaryOnce sync.Once
	totalsOnce  sync.Once

	priceCache sync.Map // model name → *price.Price (Key "" when unknown)

	namesMu sync.Mutex
	names   map[int64]string // stored files' paths by id (see fileName)

	hotMu sync.Mutex
	hot   map[string]time.Time // transcripts changed lately, by path

	retiredMu sync.Mutex
	retired   []*fsnotify.Watcher // Run's watchers, for Close (see retire)
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
	// The store keeps days in UTC and the local zone from the start; other
	// zones as reports ask for them.
	for _, loc := range []*time.Location{time.UTC, time.Local} {
		if name := zoneName(loc); name != "" && !l.isKept(name) {
			l.ingestMu.Lock()
			err := l.keep(ctx, zone{name, loc})
			l.ingestMu.Unlock()
			if err != nil {
				l.st.Close()
				return nil, err
			}
		}
	}
	// Totals are loaded before any ingest, which keeps them current.
	if err := l.loadTotals(ctx); err != nil {
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
	if err := l.loadZones(ctx, false); err != nil {
		l.st.Close()
		return nil, err
	}
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
	l.kept = map[string]bool{}
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
	l.lastChunk, l.lastFileID = 0, 0
	for i := range files {
		f := files[i]
		l.files[f.Path] = &f
		l.paths[f.ID] = f.Path
		l.lastFileID = max(l.lastFileID, f.ID)
	}
	if err := l.st.Calls(ctx, store.Always, func(at store.Loc, c *store.Call) error {
		l.idx.add(c.Key, c.Msg, (&cand{Call: *c, total: c.Total()}).survivor(at))
		return nil
	}); err != nil {
		return err
	}
	sum, err := l.st.Summary(ctx)
	if err != nil {
		return err
	}
	l.lastChunk = max(l.lastChunk, sum.MaxChunk)
	l.lastFileID = max(l.lastFileID, sum.MaxFileID)
	l.summarize(sum)
	return l.loadZones(ctx, true)
}

// zone is a time zone the store keeps days of.
type zone struct {
	name string
	loc  *time.Location
}

// maxZones bounds the zones kept; reports in others add up the calls.
const maxZones = 8

// zoneName names loc for the store: its IANA name, that of the local zone
// when it can be found, else "" (not kept).
func zoneName(loc *time.Location) string {
	if loc == nil || loc == time.UTC {
		return "UTC"
	}
	name := localName(loc.String())
	if name == "" || !sameRules(loc, name) {
		return ""
	}
	return canonicalZone(name)
}

// sameRules says whether loc keeps the time the zone database's zone name
// does, judged by its offsets at a few instants (a FixedZone named after a
// real zone fails this).
func sameRules(loc *time.Location, name string) bool {
	named, err := time.LoadLocation(name)
	if err != nil {
		return false
	}
	for _, y := range []int{2000, 2020, 2026} {
		for _, m := range []time.Month{time.January, time.July} {
			t := time.Date(y, m, 1, 12, 0, 0, 0, time.UTC)
			_, a := t.In(loc).Zone()
			_, b := t.In(named).Zone()
			if a != b {
				return false
			}
		}
	}
	return true
}

// utcAliases are the zone database's other names of UTC: days in them are
// UTC's days, kept once.
var utcAliases = map[string]bool{
	"Etc/UTC": true, "Etc/UCT": true, "UCT": true, "Etc/Universal": true, "Universal": true, "Etc/Zulu": true, "Zulu": true,
	"GMT": true, "Etc/GMT": true, "GMT0": true, "GMT+0": true, "GMT-0": true, "Etc/GMT0": true, "Etc/GMT+0": true,
	"Etc/GMT-0": true, "Greenwich": true, "Etc/Greenwich": true,
}

func canonicalZone(name string) string {
	if utcAliases[name] {
		return "UTC"
	}
	return name
}

// localName resolves "Local" to the zone's IANA name when it can.
func localName(name string) string {
	if name != "Local" {
		return name
	}
	if tz, ok := os.LookupEnv("TZ"); ok {
		if tz == "" {
			return "UTC" // TZ set but empty means UTC
		}
		if _, err := time.LoadLocation(tz); err == nil && tz != "Local" {
			return tz
		}
		return ""
	}
	target, err := os.Readlink("/etc/localtime")
	if err != nil {
		return ""
	}
	i := strings.Index(target, "zoneinfo/")
	if i < 0 {
		return ""
	}
	name = target[i+len("zoneinfo/"):]
	if _, err := time.LoadLocation(name); err != nil {
		return ""
	}
	return name
}

// loadZones reads which zones the store keeps; the writer also loads their
// rules (a zone whose rules are gone is no longer kept).
func (l *Ledger) loadZones(ctx context.Context, writer bool) error {
	names, err := l.st.Zones(ctx)
	if err != nil {
		return err
	}
	kept := map[string]bool{}
	var zones []zone
	for _, n := range names {
		if !writer {
			kept[n] = true
			continue
		}
		loc, err := time.LoadLocation(n)
		if err != nil {
			l.log.Warn("ledger: a time zone's rules are missing; its days are no longer kept", "zone", n, "err", err)
			if err := l.st.Commit(ctx, &store.Batch{DropZones: []string{n}}); err != nil {
				return err
			}
			continue
		}
		kept[n] = true
		zones = append(zones, zone{n, loc})
	}
	l.keptMu.Lock()
	l.kept = kept
	l.keptMu.Unlock()
	if writer {
		l.zones = zones
	}
	return nil
}

func (l *Ledger) isKept(name string) bool {
	l.keptMu.Lock()
	defer l.keptMu.Unlock()
	return l.kept[name]
}

// keep starts keeping z's days: computed from every stored call, then
// maintained by each commit. Caller holds ingestMu.
func (l *Ledger) keep(ctx context.Context, z zone) error {
	if l.isKept(z.name) {
		return nil
	}
	w := l.newWriter()
	w.zones = []zone{z}
	if err := l.st.Calls(ctx, store.Always, func(_ store.Loc, c *store.Call) error {
		w.count(c, 1)
		return nil
	}); err != nil {
		return err
	}
	w.b.Zones = []string{z.name}
	w.b.Oldest = 0
	if err := l.commit(ctx, w, &SyncStats{}); err != nil {
		return fmt.Errorf("keeping days in %s: %w", z.name, err)
	}
	l.zones = append(l.zones, z)
	l.keptMu.Lock()
	l.kept[z.name] = true
	l.keptMu.Unlock()
	return nil
}

// position is a call's first-seen place as a sortable key: its file's path,
// then the line's offset.
func (l *Ledger) position(file, off int64) []byte {
	return position(l.paths[file], off)
}

func (l *Ledger) pathOf(file int64) string { return l.paths[file] }

func position(p string, off int64) []byte {
	b := make([]byte, len(p)+9)
	copy(b, p)
	binary.BigEndian.PutUint64(b[len(p)+1:], uint64(off))
	return b
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
	l.state.Malformed += int64(w.stats.Malformed)
	for k, d := range w.days {
		if k.zone == "UTC" && k.project == "" {
			l.addTotal(&d.DayDelta)
		}
	}
	l.state.ProgressFiles += int64(w.files)
	l.state.ProgressBytes += w.bytes
	l.state.LastIngest = l.now()
	if w.b.Oldest != 0 && (l.state.Since.IsZero() || w.b.Oldest < l.state.Since.UnixMicro()) {
		l.state.Since = time.UnixMicro(w.b.Oldest).UTC()
	}
	var models []string
	for k := range w.days {
		if k.project == "" {
			models = append(models, k.model.Name)
		}
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

// ModelTotal is every stored call of one model, summed.
type ModelTotal struct {
	Model                                   string // as reports name it ("<model>-fast"); "synthetic" for calls without a model
	Input, Output, CacheCreation, CacheRead int64
	CostUSD                                 float64
}

// Totals returns the sums of every stored call per model, sorted by model;
// kept in memory and updated by each commit, so that it costs nothing like
// a scan of the calls (it is what /metrics exports).
func (l *Ledger) Totals() []ModelTotal {
	l.totalsOnce.Do(func() {
		if !l.readOnly {
			return // loaded at Open
		}
		if err := l.loadTotals(context.Background()); err != nil {
			l.log.Warn("ledger: summing the database per model", "err", err)
		}
	})
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]ModelTotal, 0, len(l.totals))
	for _, t := range l.totals {
		out = append(out, *t)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Model < out[j].Model })
	return out
}

// loadTotals sums the UTC days (every call is in exactly one) per model.
func (l *Ledger) loadTotals(ctx context.Context) error {
	days, err := l.st.Days(ctx, "UTC", math.MinInt64, math.MaxInt64, "")
	if err != nil {
		return err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.totals = map[string]*ModelTotal{}
	for i := range days {
		d := &days[i]
		l.addTotal(&store.DayDelta{Model: d.Model, Tokens: d.Tokens, Above: d.Above, Cost: d.Cost})
	}
	return nil
}

// addTotal adds one day's change to the per-model totals. Caller holds mu.
func (l *Ledger) addTotal(d *store.DayDelta) {
	if l.totals == nil {
		return // not loaded yet: the load will include this commit
	}
	label := d.Model.Label()
	if noModel(d.Model.Name) {
		label = "synthetic"
	}
	t := l.totals[label]
	if t == nil {
		t = &ModelTotal{Model: label}
		l.totals[label] = t
	}
	t.Input += d.Tokens.Input
	t.Output += d.Tokens.Output
	t.CacheCreation += d.Tokens.Cache5m + d.Tokens.Cache1h
	t.CacheRead += d.Tokens.CacheRead
	switch {
	case d.Model.Fixed:
		t.CostUSD += d.Cost
	case noModel(d.Model.Name):
	default:
		if p, ok := l.price(d.Model.Name); ok {
			t.CostUSD += p.CostSplit(d.Tokens, d.Above, d.Model.Fast)
		}
	}
}

// State reports the ledger's condition. Read-only, it counts what the
// database holds on its first call.
func (l *Ledger) State() State {
	l.summaryOnce.Do(func() {
		if !l.readOnly {
			return
		}
		sum, err := l.st.Summary(context.Background())
		if err != nil {
			l.log.Warn("ledger: counting the database", "err", err)
			return
		}
		l.summarize(sum)
	})
	l.mu.Lock()
	s := l.state
	s.Unpriced = append([]string(nil), l.state.Unpriced...)
	l.mu.Unlock()
	s.IngestLag = l.fresh.lag(l.now())
	s.Cache = l.cache.stats()
	return s
}

// Close releases the database and the watcher a finished Run left; it
// waits for an ingest under way to end (cancel Run's context first).
func (l *Ledger) Close() error {
	l.ingestMu.Lock()
	defer l.ingestMu.Unlock()
	err := l.st.Close()
	l.retiredMu.Lock()
	defer l.retiredMu.Unlock()
	for _, w := range l.retired {
		err = errors.Join(err, w.Close())
	}
	l.retired = nil
	return err
}
