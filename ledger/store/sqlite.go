package store

import (
	"context"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/anthropics/cco/homefile"
	"github.com/anthropics/cco/ledger/price"
	_ "modernc.org/sqlite" // registers the "sqlite" driver: pure Go, no cgo
)

// migration takes the schema from one version to the next: its SQL, then
// fill, when the rows already stored need values only Go can compute.
type migration struct {
	sql  string
	fill func(ctx context.Context, tx *sql.Tx) error
}

// migrations[i] takes the schema from version i to i+1. Never edit one
// that has shipped: add the next.
var migrations = []migration{
	// 1: files and their positions, interned names, the calls in chunks.
	{sql: `CREATE TABLE files (
		id INTEGER PRIMARY KEY,
		path TEXT NOT NULL UNIQUE,
		dev INTEGER NOT NULL, ino INTEGER NOT NULL,
		size INTEGER NOT NULL, mtime INTEGER NOT NULL, off INTEGER NOT NULL,
		head_hash BLOB NOT NULL, head_len INTEGER NOT NULL,
		malformed INTEGER NOT NULL DEFAULT 0
	);
	CREATE TABLE models (id INTEGER PRIMARY KEY, name TEXT NOT NULL, fast INTEGER NOT NULL, fixed INTEGER NOT NULL, UNIQUE (name, fast, fixed));
	CREATE TABLE projects (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
	CREATE TABLE sessions (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
	CREATE TABLE chunks (id INTEGER PRIMARY KEY, file_id INTEGER NOT NULL, n INTEGER NOT NULL, data BLOB NOT NULL);
	CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);`},
	// 2: per-day sums in the time zones reports are asked in, so that a
	// daily report reads a row per day and model, not every call. The
	// ledger fills a zone from the chunks when it first needs it.
	{sql: `CREATE TABLE zones (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
	CREATE TABLE days (
		zone_id INTEGER NOT NULL, project_id INTEGER NOT NULL, day INTEGER NOT NULL, model_id INTEGER NOT NULL,
		calls INTEGER NOT NULL,
		input INTEGER NOT NULL, output INTEGER NOT NULL, c5 INTEGER NOT NULL, c1 INTEGER NOT NULL, cr INTEGER NOT NULL,
		x_input INTEGER NOT NULL, x_output INTEGER NOT NULL, x_c5 INTEGER NOT NULL, x_c1 INTEGER NOT NULL, x_cr INTEGER NOT NULL,
		cost REAL NOT NULL, first BLOB,
		PRIMARY KEY (zone_id, project_id, day, model_id)
	) WITHOUT ROWID;`},
	// 3: the earliest and latest call of each chunk, so that a report of
	// a few days (the dashboard's today, updated live) reads the chunks
	// that hold them, not the whole ledger.
	{sql: `ALTER TABLE chunks ADD COLUMN min_ts INTEGER NOT NULL DEFAULT 0;
	ALTER TABLE chunks ADD COLUMN max_ts INTEGER NOT NULL DEFAULT 0;
	CREATE INDEX chunks_by_time ON chunks (max_ts, min_ts);`, fill: fillChunkTimes},
}

// fillChunkTimes sets every stored chunk's min_ts and max_ts.
func fillChunkTimes(ctx context.Context, tx *sql.Tx) error {
	rows, err := tx.QueryContext(ctx, `SELECT id, data FROM chunks`)
	if err != nil {
		return err
	}
	type bounds struct{ id, lo, hi int64 }
	var all []bounds
	for rows.Next() {
		var b bounds
		var data []byte
		if err := rows.Scan(&b.id, &data); err != nil {
			rows.Close()
			return err
		}
		b.lo, b.hi = timeBounds(data)
		all = append(all, b)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	up, err := tx.PrepareContext(ctx, `UPDATE chunks SET min_ts = ?, max_ts = ? WHERE id = ?`)
	if err != nil {
		return err
	}
	defer up.Close()
	for _, b := range all {
		if _, err := up.ExecContext(ctx, b.lo, b.hi, b.id); err != nil {
			return err
		}
	}
	return nil
}

// Version is the schema version this build writes.
var Version = len(migrations)

type sqliteStore struct {
	path     string
	w        *sql.DB // the one writer connection (nil when read-only)
	r        *sql.DB // readers
	readOnly bool

	mu    sync.Mutex // guards the name maps
	ids   map[nameKey]int64
	names map[string]map[int64]nameKey // table → id → name
}

type nameKey struct {
	table string
	name  string
	fast  bool
	fixed bool
}

// dsn escapes what SQLite's URI parser would read in a path.
func dsn(path string, params string) string {
	r := strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23")
	return "file:" + r.Replace(path) + "?" + params
}

func openSQLite(ctx context.Context, path string, readOnly bool) (Store, error) {
	s := &sqliteStore{path: path, readOnly: readOnly}
	if readOnly {
		fi, err := os.Stat(path)
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%w at %s: the daemon builds it when it runs (cco daemon start)", ErrMissing, path)
		}
		if err == nil {
			// SQLite would block opening a FIFO for reading.
			err = homefile.NotRegular(path, fi)
		}
		if err != nil {
			return nil, err
		}
		r, err := sql.Open("sqlite", dsn(path, "mode=ro&_pragma=busy_timeout(5000)&_pragma=query_only(1)"))
		if err != nil {
			return nil, err
		}
		s.r = r
		v, err := version(ctx, r)
		if err != nil {
			r.Close()
			return nil, fmt.Errorf("ledger database %s: %w", path, err)
		}
		if v != Version {
			r.Close()
			return nil, fmt.Errorf("ledger database %s has schema version %d; this cco reads version %d: start the daemon once to upgrade it", path, v, Version)
		}
		// Names are read as they are needed: a daily report needs only the
		// models'.
		if err := s.loadNames(ctx, "models"); err != nil {
			r.Close()
			return nil, err
		}
		return s, nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	// Made (or found and made) 0600 here so that SQLite's -wal and -shm,
	// which copy the database's mode, are private too; like every file cco
	// writes, never through a symbolic link, nor another user's.
	f, err := homefile.Open(path, os.O_RDWR|os.O_CREATE)
	if err != nil {
		return nil, err
	}
	f.Close()
	w, err := sql.Open("sqlite", dsn(path, "_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_txlock=immediate"))
	if err != nil {
		return nil, err
	}
	w.SetMaxOpenConns(1)
	s.w = w
	if err := s.migrate(ctx); err != nil {
		w.Close()
		return nil, fmt.Errorf("ledger database %s: %w", path, err)
	}
	r, err := sql.Open("sqlite", dsn(path, "_pragma=busy_timeout(5000)&_pragma=query_only(1)"))
	if err != nil {
		w.Close()
		return nil, err
	}
	r.SetMaxOpenConns(2)
	s.r = r
	if err := s.loadNames(ctx); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

func version(ctx context.Context, db *sql.DB) (int, error) {
	var v int
	err := db.QueryRowContext(ctx, `SELECT version FROM schema_version`).Scan(&v)
	if err != nil {
		if strings.Contains(err.Error(), "no such table") {
			return 0, nil
		}
		return 0, err
	}
	return v, nil
}

func (s *sqliteStore) migrate(ctx context.Context) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)`); err != nil {
		return err
	}
	v := 0
	err = tx.QueryRowContext(ctx, `SELECT version FROM schema_version`).Scan(&v)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		if _, err := tx.ExecContext(ctx, `INSERT INTO schema_version VALUES (0)`); err != nil {
			return err
		}
	case err != nil:
		return err
	}
	if v > len(migrations) {
		return fmt.Errorf("schema version %d is newer than this cco knows (%d): run the newer cco, or move the database aside", v, len(migrations))
	}
	for i := v; i < len(migrations); i++ {
		m := migrations[i]
		_, err := tx.ExecContext(ctx, m.sql)
		if err == nil && m.fill != nil {
			err = m.fill(ctx, tx)
		}
		if err != nil {
			return fmt.Errorf("migration %d: %w", i+1, err)
		}
	}
	if _, err := tx.ExecContext(ctx, `UPDATE schema_version SET version = ?`, len(migrations)); err != nil {
		return err
	}
	return tx.Commit()
}

func (s *sqliteStore) Close() error {
	var errs []error
	if s.r != nil {
		errs = append(errs, s.r.Close())
	}
	if s.w != nil {
		errs = append(errs, s.w.Close())
	}
	return errors.Join(errs...)
}

// loadNames reads the interned names of tables (all when none are named).
func (s *sqliteStore) loadNames(ctx context.Context, tables ...string) error {
	if len(tables) == 0 {
		tables = []string{"models", "projects", "sessions"}
	}
	s.mu.Lock()
	ids, names := s.ids, s.names
	s.mu.Unlock()
	if ids == nil {
		ids, names = map[nameKey]int64{}, map[string]map[int64]nameKey{"models": {}, "projects": {}, "sessions": {}}
	}
	for _, table := range tables {
		q := `SELECT id, name, 0, 0 FROM ` + table
		if table == "models" {
			q = `SELECT id, name, fast, fixed FROM models`
		}
		rows, err := s.r.QueryContext(ctx, q)
		if err != nil {
			return err
		}
		for rows.Next() {
			var id int64
			k := nameKey{table: table}
			if err := rows.Scan(&id, &k.name, &k.fast, &k.fixed); err != nil {
				rows.Close()
				return err
			}
			s.mu.Lock()
			ids[k] = id
			names[table][id] = k
			s.mu.Unlock()
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
	}
	s.mu.Lock()
	s.ids, s.names = ids, names
	s.mu.Unlock()
	return nil
}

func (s *sqliteStore) name(table string, id int64) (nameKey, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k, ok := s.names[table][id]
	return k, ok
}

// resolve returns the name of an id, reloading the names once when another
// writer may have added it.
func (s *sqliteStore) resolve(ctx context.Context, table string, id int64) (nameKey, error) {
	if k, ok := s.name(table, id); ok {
		return k, nil
	}
	if err := s.loadNames(ctx, table); err != nil {
		return nameKey{}, err
	}
	if k, ok := s.name(table, id); ok {
		return k, nil
	}
	return nameKey{}, fmt.Errorf("ledger database %s: %s id %d is unknown (the database is damaged)", s.path, table, id)
}

func (s *sqliteStore) Files(ctx context.Context) ([]File, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT id, path, dev, ino, size, mtime, off, head_hash, head_len, malformed FROM files ORDER BY id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []File
	for rows.Next() {
		var f File
		var dev, ino int64
		var head []byte
		if err := rows.Scan(&f.ID, &f.Path, &dev, &ino, &f.Size, &f.MTime, &f.Offset, &head, &f.HeadLen, &f.Malformed); err != nil {
			return nil, err
		}
		f.Dev, f.Ino = uint64(dev), uint64(ino)
		copy(f.HeadHash[:], head)
		out = append(out, f)
	}
	return out, rows.Err()
}

// recSize is the size of one encoded call.
const recSize = 128

// ids are a call's interned names.
type ids struct{ session, project, model int64 }

func encode(b []byte, c *Call, n ids) {
	le := binary.LittleEndian
	copy(b[0:16], c.Key[:])
	le.PutUint64(b[16:], uint64(c.Msg))
	le.PutUint64(b[24:], uint64(c.FileID))
	le.PutUint64(b[32:], uint64(c.Offset))
	le.PutUint64(b[40:], uint64(c.TS))
	le.PutUint32(b[48:], uint32(n.session))
	le.PutUint32(b[52:], uint32(n.project))
	le.PutUint32(b[56:], uint32(n.model))
	le.PutUint64(b[64:], uint64(c.Tokens.Input))
	le.PutUint64(b[72:], uint64(c.Tokens.Output))
	le.PutUint64(b[80:], uint64(c.Tokens.Cache5m))
	le.PutUint64(b[88:], uint64(c.Tokens.Cache1h))
	le.PutUint64(b[96:], uint64(c.Tokens.CacheRead))
	le.PutUint64(b[104:], math.Float64bits(c.Cost))
	le.PutUint64(b[112:], uint64(c.OrderFile))
	le.PutUint64(b[120:], uint64(c.OrderOff))
	b[60] = 0
	if c.Sidechain {
		b[60] = 1
	}
}

// recTS is the time of the call encoded in b.
func recTS(b []byte) int64 { return int64(binary.LittleEndian.Uint64(b[40:])) }

// timeBounds returns the earliest and latest call time of a chunk's data;
// for no calls, an empty range no span meets.
func timeBounds(data []byte) (lo, hi int64) {
	lo, hi = math.MaxInt64, math.MinInt64
	for i := 0; i+recSize <= len(data); i += recSize {
		ts := recTS(data[i:])
		lo, hi = min(lo, ts), max(hi, ts)
	}
	return lo, hi
}

func decode(b []byte, c *Call) ids {
	le := binary.LittleEndian
	copy(c.Key[:], b[0:16])
	c.Msg = int64(le.Uint64(b[16:]))
	c.FileID = int64(le.Uint64(b[24:]))
	c.Offset = int64(le.Uint64(b[32:]))
	c.TS = recTS(b)
	n := ids{int64(le.Uint32(b[48:])), int64(le.Uint32(b[52:])), int64(le.Uint32(b[56:]))}
	c.Tokens = price.Tokens{
		Input: int64(le.Uint64(b[64:])), Output: int64(le.Uint64(b[72:])), Cache5m: int64(le.Uint64(b[80:])),
		Cache1h: int64(le.Uint64(b[88:])), CacheRead: int64(le.Uint64(b[96:])),
	}
	c.Cost = math.Float64frombits(le.Uint64(b[104:]))
	c.OrderFile = int64(le.Uint64(b[112:]))
	c.OrderOff = int64(le.Uint64(b[120:]))
	c.Sidechain = b[60] == 1
	return n
}

// named fills in a decoded call's names.
func (s *sqliteStore) named(ctx context.Context, c *Call, n ids) error {
	sess, err := s.resolve(ctx, "sessions", n.session)
	if err != nil {
		return err
	}
	proj, err := s.resolve(ctx, "projects", n.project)
	if err != nil {
		return err
	}
	m, err := s.resolve(ctx, "models", n.model)
	if err != nil {
		return err
	}
	c.Session, c.Project, c.Model = sess.name, proj.name, Model{Name: m.name, Fast: m.fast, Fixed: m.fixed}
	return nil
}

// reader decodes stored calls with their names. A chunk's calls are
// mostly of one session, project and model: the last call's names serve
// the next while its ids are the same.
type reader struct {
	s     *sqliteStore
	last  ids
	names Call
}

func (s *sqliteStore) reader() *reader { return &reader{s: s, last: ids{-1, -1, -1}} }

// read decodes the record b into c, names and all.
func (r *reader) read(ctx context.Context, b []byte, c *Call) error {
	n := decode(b, c)
	if n == r.last {
		c.Session, c.Project, c.Model = r.names.Session, r.names.Project, r.names.Model
		return nil
	}
	if err := r.s.named(ctx, c, n); err != nil {
		return err
	}
	r.last, r.names = n, *c
	return nil
}

func (s *sqliteStore) Calls(ctx context.Context, span Span, fn func(Loc, *Call) error) error {
	q, args := `SELECT id, data FROM chunks ORDER BY id`, []any(nil)
	if span != Always {
		q, args = `SELECT id, data FROM chunks WHERE max_ts >= ? AND min_ts < ? ORDER BY id`, []any{span.From, span.To}
	}
	rows, err := s.r.QueryContext(ctx, q, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	var data []byte
	var c Call
	r := s.reader()
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id, &data); err != nil {
			return err
		}
		for i := 0; i+recSize <= len(data); i += recSize {
			if !span.Holds(recTS(data[i:])) {
				continue
			}
			if err := r.read(ctx, data[i:i+recSize], &c); err != nil {
				return err
			}
			if err := fn(Loc{id, int32(i / recSize)}, &c); err != nil {
				return err
			}
		}
	}
	return rows.Err()
}

func (s *sqliteStore) Chunk(ctx context.Context, id int64) ([]Call, error) {
	var data []byte
	if err := s.r.QueryRowContext(ctx, `SELECT data FROM chunks WHERE id = ?`, id).Scan(&data); err != nil {
		return nil, fmt.Errorf("reading chunk %d: %w", id, err)
	}
	calls := make([]Call, len(data)/recSize)
	r := s.reader()
	for i := range calls {
		if err := r.read(ctx, data[i*recSize:(i+1)*recSize], &calls[i]); err != nil {
			return nil, err
		}
	}
	return calls, nil
}

func (s *sqliteStore) Commit(ctx context.Context, b *Batch) error {
	if s.readOnly {
		return errors.New("ledger database is open read-only")
	}
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	pending := map[nameKey]int64{}
	intern := func(k nameKey) (int64, error) {
		s.mu.Lock()
		id, ok := s.ids[k]
		s.mu.Unlock()
		if ok {
			return id, nil
		}
		if id, ok := pending[k]; ok {
			return id, nil
		}
		var res sql.Result
		var err error
		if k.table == "models" {
			res, err = tx.ExecContext(ctx, `INSERT INTO models (name, fast, fixed) VALUES (?, ?, ?)`, k.name, k.fast, k.fixed)
		} else {
			res, err = tx.ExecContext(ctx, `INSERT INTO `+k.table+` (name) VALUES (?)`, k.name)
		}
		if err == nil {
			id, err = res.LastInsertId()
		}
		if err != nil {
			return 0, err
		}
		pending[k] = id
		return id, nil
	}
	callIDs := func(c *Call) (n ids, err error) {
		if n.session, err = intern(nameKey{table: "sessions", name: c.Session}); err != nil {
			return
		}
		if n.project, err = intern(nameKey{table: "projects", name: c.Project}); err != nil {
			return
		}
		n.model, err = intern(nameKey{table: "models", name: c.Model.Name, fast: c.Model.Fast, fixed: c.Model.Fixed})
		return
	}

	for _, f := range b.Files {
		if _, err := tx.ExecContext(ctx, `INSERT INTO files (id, path, dev, ino, size, mtime, off, head_hash, head_len, malformed)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (id) DO UPDATE SET path = excluded.path, dev = excluded.dev, ino = excluded.ino, size = excluded.size,
				mtime = excluded.mtime, off = excluded.off, head_hash = excluded.head_hash, head_len = excluded.head_len,
				malformed = excluded.malformed`,
			f.ID, f.Path, int64(f.Dev), int64(f.Ino), f.Size, f.MTime, f.Offset, f.HeadHash[:], f.HeadLen, f.Malformed); err != nil {
			return fmt.Errorf("saving the position in %s: %w", f.Path, err)
		}
	}
	for _, ch := range b.Chunks {
		data := make([]byte, len(ch.Calls)*recSize)
		for i := range ch.Calls {
			n, err := callIDs(&ch.Calls[i])
			if err != nil {
				return err
			}
			encode(data[i*recSize:], &ch.Calls[i], n)
		}
		lo, hi := timeBounds(data)
		if _, err := tx.ExecContext(ctx, `INSERT INTO chunks (id, file_id, n, data, min_ts, max_ts) VALUES (?, ?, ?, ?, ?, ?)`,
			ch.ID, ch.FileID, len(ch.Calls), data, lo, hi); err != nil {
			return err
		}
	}
	// Rewrite the chunks the updates touch, each once.
	touched := map[int64][]byte{}
	for _, u := range b.Updates {
		data, ok := touched[u.At.Chunk]
		if !ok {
			if err := tx.QueryRowContext(ctx, `SELECT data FROM chunks WHERE id = ?`, u.At.Chunk).Scan(&data); err != nil {
				return fmt.Errorf("updating call %d/%d: %w", u.At.Chunk, u.At.Idx, err)
			}
			touched[u.At.Chunk] = data
		}
		i := int(u.At.Idx) * recSize
		if i+recSize > len(data) {
			return fmt.Errorf("updating call %d/%d: no such call", u.At.Chunk, u.At.Idx)
		}
		n, err := callIDs(&u.Call)
		if err != nil {
			return err
		}
		encode(data[i:], &u.Call, n)
	}
	for id, data := range touched {
		lo, hi := timeBounds(data)
		if _, err := tx.ExecContext(ctx, `UPDATE chunks SET data = ?, min_ts = ?, max_ts = ? WHERE id = ?`, data, lo, hi, id); err != nil {
			return err
		}
	}
	zoneIDs := map[string]int64{}
	zoneID := func(name string) (int64, error) {
		if id, ok := zoneIDs[name]; ok {
			return id, nil
		}
		var id int64
		err := tx.QueryRowContext(ctx, `SELECT id FROM zones WHERE name = ?`, name).Scan(&id)
		if errors.Is(err, sql.ErrNoRows) {
			var res sql.Result
			if res, err = tx.ExecContext(ctx, `INSERT INTO zones (name) VALUES (?)`, name); err == nil {
				id, err = res.LastInsertId()
			}
		}
		zoneIDs[name] = id
		return id, err
	}
	for _, z := range b.DropZones {
		if _, err := tx.ExecContext(ctx, `DELETE FROM days WHERE zone_id IN (SELECT id FROM zones WHERE name = ?)`, z); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM zones WHERE name = ?`, z); err != nil {
			return err
		}
	}
	for _, z := range b.Zones {
		if _, err := zoneID(z); err != nil {
			return err
		}
	}
	if len(b.Days) > 0 {
		up, err := tx.PrepareContext(ctx, `INSERT INTO days VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (zone_id, project_id, day, model_id) DO UPDATE SET calls = calls + excluded.calls,
				input = input + excluded.input, output = output + excluded.output, c5 = c5 + excluded.c5, c1 = c1 + excluded.c1, cr = cr + excluded.cr,
				x_input = x_input + excluded.x_input, x_output = x_output + excluded.x_output, x_c5 = x_c5 + excluded.x_c5,
				x_c1 = x_c1 + excluded.x_c1, x_cr = x_cr + excluded.x_cr, cost = cost + excluded.cost,
				first = CASE WHEN excluded.first IS NOT NULL AND (first IS NULL OR excluded.first < first) THEN excluded.first ELSE first END`)
		if err != nil {
			return err
		}
		defer up.Close()
		for i := range b.Days {
			d := &b.Days[i]
			zid, err := zoneID(d.Zone)
			if err != nil {
				return err
			}
			var pid int64 // 0: every project
			if d.Project != "" {
				if pid, err = intern(nameKey{table: "projects", name: d.Project}); err != nil {
					return err
				}
			}
			mid, err := intern(nameKey{table: "models", name: d.Model.Name, fast: d.Model.Fast, fixed: d.Model.Fixed})
			if err != nil {
				return err
			}
			t, x := d.Tokens, d.Above
			if _, err := up.ExecContext(ctx, zid, pid, d.Day, mid, d.Calls, t.Input, t.Output, t.Cache5m, t.Cache1h, t.CacheRead,
				x.Input, x.Output, x.Cache5m, x.Cache1h, x.CacheRead, d.Cost, d.First); err != nil {
				return err
			}
		}
	}
	if b.Oldest != 0 {
		if _, err := tx.ExecContext(ctx, `INSERT INTO meta VALUES ('oldest', ?) ON CONFLICT (key) DO UPDATE SET value = min(value, excluded.value)`, b.Oldest); err != nil {
			return err
		}
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	s.mu.Lock()
	for k, id := range pending {
		s.ids[k] = id
		s.names[k.table][id] = k
	}
	s.mu.Unlock()
	return nil
}

func (s *sqliteStore) Zones(ctx context.Context) ([]string, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT name FROM zones ORDER BY id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	return out, rows.Err()
}

func (s *sqliteStore) Days(ctx context.Context, zone string, from, to int64, project string) ([]Day, error) {
	var pid int64
	if project != "" {
		s.mu.Lock()
		id, ok := s.ids[nameKey{table: "projects", name: project}]
		s.mu.Unlock()
		if !ok {
			if err := s.loadNames(ctx, "projects"); err != nil {
				return nil, err
			}
			s.mu.Lock()
			id, ok = s.ids[nameKey{table: "projects", name: project}]
			s.mu.Unlock()
			if !ok {
				return nil, nil // a project the ledger has never seen
			}
		}
		pid = id
	}
	rows, err := s.r.QueryContext(ctx, `SELECT d.day, d.model_id, d.calls, d.input, d.output, d.c5, d.c1, d.cr,
		d.x_input, d.x_output, d.x_c5, d.x_c1, d.x_cr, d.cost, d.first
		FROM days d JOIN zones z ON z.id = d.zone_id
		WHERE z.name = ? AND d.project_id = ? AND d.day >= ? AND d.day < ? AND d.calls > 0
		ORDER BY d.day`, zone, pid, from, to)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Day
	for rows.Next() {
		var d Day
		var mid int64
		t, x := &d.Tokens, &d.Above
		if err := rows.Scan(&d.Day, &mid, &d.Calls, &t.Input, &t.Output, &t.Cache5m, &t.Cache1h, &t.CacheRead,
			&x.Input, &x.Output, &x.Cache5m, &x.Cache1h, &x.CacheRead, &d.Cost, &d.First); err != nil {
			return nil, err
		}
		m, err := s.resolve(ctx, "models", mid)
		if err != nil {
			return nil, err
		}
		d.Model = Model{Name: m.name, Fast: m.fast, Fixed: m.fixed}
		out = append(out, d)
	}
	return out, rows.Err()
}

func (s *sqliteStore) Summary(ctx context.Context) (Summary, error) {
	var sum Summary
	var oldest sql.NullInt64
	err := s.r.QueryRowContext(ctx, `SELECT
		(SELECT count(*) FROM files), (SELECT coalesce(sum(malformed), 0) FROM files),
		(SELECT coalesce(sum(n), 0) FROM chunks), (SELECT coalesce(max(id), 0) FROM chunks), (SELECT coalesce(max(id), 0) FROM files),
		(SELECT value FROM meta WHERE key = 'oldest')`).Scan(
		&sum.Files, &sum.Malformed, &sum.Calls, &sum.MaxChunk, &sum.MaxFileID, &oldest)
	if err != nil {
		return sum, err
	}
	sum.Oldest = oldest.Int64
	rows, err := s.r.QueryContext(ctx, `SELECT DISTINCT name FROM models ORDER BY name`)
	if err != nil {
		return sum, err
	}
	defer rows.Close()
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return sum, err
		}
		sum.Models = append(sum.Models, n)
	}
	return sum, rows.Err()
}
