package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/anthropics/cco/ledger/price"
	_ "modernc.org/sqlite" // registers the "sqlite" driver: pure Go, no cgo
)

// migrations[i] takes the schema from version i to i+1. Never edit one
// that has shipped: add the next.
var migrations = []string{
	// 1: files, interned names, one row per call.
	`CREATE TABLE files (
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
	CREATE TABLE calls (
		id INTEGER PRIMARY KEY,
		key BLOB NOT NULL, msg INTEGER NOT NULL, sidechain INTEGER NOT NULL,
		file_id INTEGER NOT NULL, off INTEGER NOT NULL,
		ts INTEGER NOT NULL,
		session_id INTEGER NOT NULL, project_id INTEGER NOT NULL, model_id INTEGER NOT NULL,
		input INTEGER NOT NULL, output INTEGER NOT NULL, c5 INTEGER NOT NULL, c1 INTEGER NOT NULL, cr INTEGER NOT NULL,
		cost REAL NOT NULL
	);`,
	// 2: quarter-hour aggregates, so that a daily report in any time zone
	// reads a few thousand rows instead of every call.
	`CREATE TABLE agg (
		bucket INTEGER NOT NULL, model_id INTEGER NOT NULL, project_id INTEGER NOT NULL,
		calls INTEGER NOT NULL,
		input INTEGER NOT NULL, output INTEGER NOT NULL, c5 INTEGER NOT NULL, c1 INTEGER NOT NULL, cr INTEGER NOT NULL,
		x_input INTEGER NOT NULL, x_output INTEGER NOT NULL, x_c5 INTEGER NOT NULL, x_c1 INTEGER NOT NULL, x_cr INTEGER NOT NULL,
		cost REAL NOT NULL, first_ts INTEGER NOT NULL,
		PRIMARY KEY (bucket, model_id, project_id)
	) WITHOUT ROWID;
	CREATE INDEX agg_project ON agg (project_id, bucket);
	INSERT INTO agg SELECT ts / 900000000, model_id, project_id, count(*),
		sum(input), sum(output), sum(c5), sum(c1), sum(cr),
		sum(max(input-200000, 0)), sum(max(output-200000, 0)), sum(max(c5-200000, 0)), sum(max(c1-200000, 0)), sum(max(cr-200000, 0)),
		sum(cost), min(ts)
	FROM calls GROUP BY 1, 2, 3;`,
}

// Version is the schema version this build writes.
var Version = len(migrations)

type sqliteStore struct {
	path     string
	w        *sql.DB // the one writer connection (nil when read-only)
	r        *sql.DB // readers
	readOnly bool

	names map[nameKey]int64 // interned names, as committed
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
	s := &sqliteStore{path: path, readOnly: readOnly, names: map[nameKey]int64{}}
	if readOnly {
		if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%w at %s: the daemon builds it when it runs (cco daemon start)", ErrMissing, path)
		}
		r, err := sql.Open("sqlite", dsn(path, "mode=ro&_pragma=busy_timeout(5000)&_pragma=query_only(1)"))
		if err != nil {
			return nil, err
		}
		s.r = r
		v, err := s.version(ctx, r)
		if err != nil {
			r.Close()
			return nil, fmt.Errorf("ledger database %s: %w", path, err)
		}
		if v != Version {
			r.Close()
			return nil, fmt.Errorf("ledger database %s has schema version %d; this cco reads version %d: start the daemon once to upgrade it", path, v, Version)
		}
		return s, nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	// Created here with 0600 so that SQLite's -wal and -shm, which copy the
	// database's mode, are private too.
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
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
	return s, nil
}

func (s *sqliteStore) version(ctx context.Context, db *sql.DB) (int, error) {
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
	return applyMigrations(ctx, tx, v, len(migrations))
}

func applyMigrations(ctx context.Context, tx *sql.Tx, from, to int) error {
	for i := from; i < to; i++ {
		if _, err := tx.ExecContext(ctx, migrations[i]); err != nil {
			return fmt.Errorf("migration %d: %w", i+1, err)
		}
	}
	if _, err := tx.ExecContext(ctx, `UPDATE schema_version SET version = ?`, to); err != nil {
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

func (s *sqliteStore) Index(ctx context.Context, fn func(IndexEntry) error) error {
	rows, err := s.r.QueryContext(ctx, `SELECT id, key, msg, sidechain, input+output+c5+c1+cr, file_id, off FROM calls`)
	if err != nil {
		return err
	}
	defer rows.Close()
	var key []byte
	for rows.Next() {
		var e IndexEntry
		if err := rows.Scan(&e.ID, &key, &e.Msg, &e.Sidechain, &e.Total, &e.FileID, &e.Offset); err != nil {
			return err
		}
		copy(e.Key[:], key)
		if err := fn(e); err != nil {
			return err
		}
	}
	return rows.Err()
}

type aggKey struct {
	bucket         int64
	model, project int64
}

type aggDelta struct {
	calls      int64
	tok, above price.Tokens
	cost       float64
	firstTS    int64
}

func (d *aggDelta) add(sign int64, c *Call) {
	d.calls += sign
	x := c.Tokens.Above()
	addTok(&d.tok, c.Tokens, sign)
	addTok(&d.above, x, sign)
	d.cost += float64(sign) * c.Cost
	if sign > 0 && (d.firstTS == 0 || c.TS < d.firstTS) {
		d.firstTS = c.TS
	}
}

func addTok(t *price.Tokens, u price.Tokens, sign int64) {
	t.Input += sign * u.Input
	t.Output += sign * u.Output
	t.Cache5m += sign * u.Cache5m
	t.Cache1h += sign * u.Cache1h
	t.CacheRead += sign * u.CacheRead
}

// BucketSeconds is the aggregates' granularity: every time zone's offset is
// a multiple of it, so every local day is a whole number of buckets.
const BucketSeconds = 900

func bucketOf(ts int64) int64 {
	sec := ts / 1e6
	if ts < 0 && ts%1e6 != 0 {
		sec--
	}
	b := sec / BucketSeconds
	if sec < 0 && sec%BucketSeconds != 0 {
		b--
	}
	return b
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
		if id, ok := s.names[k]; ok {
			return id, nil
		}
		if id, ok := pending[k]; ok {
			return id, nil
		}
		var id int64
		var err error
		if k.table == "models" {
			err = tx.QueryRowContext(ctx, `SELECT id FROM models WHERE name = ? AND fast = ? AND fixed = ?`, k.name, k.fast, k.fixed).Scan(&id)
		} else {
			err = tx.QueryRowContext(ctx, `SELECT id FROM `+k.table+` WHERE name = ?`, k.name).Scan(&id)
		}
		if errors.Is(err, sql.ErrNoRows) {
			var res sql.Result
			if k.table == "models" {
				res, err = tx.ExecContext(ctx, `INSERT INTO models (name, fast, fixed) VALUES (?, ?, ?)`, k.name, k.fast, k.fixed)
			} else {
				res, err = tx.ExecContext(ctx, `INSERT INTO `+k.table+` (name) VALUES (?)`, k.name)
			}
			if err == nil {
				id, err = res.LastInsertId()
			}
		}
		if err != nil {
			return 0, err
		}
		pending[k] = id
		return id, nil
	}
	ids := func(c *Call) (session, project, model int64, err error) {
		if session, err = intern(nameKey{table: "sessions", name: c.Session}); err != nil {
			return
		}
		if project, err = intern(nameKey{table: "projects", name: c.Project}); err != nil {
			return
		}
		model, err = intern(nameKey{table: "models", name: c.Model.Name, fast: c.Model.Fast, fixed: c.Model.Fixed})
		return
	}

	for _, f := range b.Files {
		if _, err := tx.ExecContext(ctx, `INSERT INTO files (id, path, dev, ino, size, mtime, off, head_hash, head_len, malformed)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (id) DO UPDATE SET path = excluded.path, dev = excluded.dev, ino = excluded.ino, size = excluded.size,
				mtime = excluded.mtime, off = excluded.off, head_hash = excluded.head_hash, head_len = excluded.head_len,
				malformed = excluded.malformed`,
			f.ID, f.Path, int64(f.Dev), int64(f.Ino), f.Size, f.MTime, f.Offset, f.HeadHash[:], f.HeadLen, f.Malformed); err != nil {
			return fmt.Errorf("saving position of %s: %w", f.Path, err)
		}
	}

	deltas := map[aggKey]*aggDelta{}
	delta := func(c *Call, model, project int64, sign int64) {
		k := aggKey{bucketOf(c.TS), model, project}
		d := deltas[k]
		if d == nil {
			d = &aggDelta{}
			deltas[k] = d
		}
		d.add(sign, c)
	}

	if len(b.Insert) > 0 {
		ins, err := tx.PrepareContext(ctx, `INSERT INTO calls (id, key, msg, sidechain, file_id, off, ts, session_id, project_id, model_id, input, output, c5, c1, cr, cost)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
		if err != nil {
			return err
		}
		defer ins.Close()
		for i := range b.Insert {
			c := &b.Insert[i]
			sid, pid, mid, err := ids(c)
			if err != nil {
				return err
			}
			t := c.Tokens
			if _, err := ins.ExecContext(ctx, c.ID, c.Key[:], c.Msg, c.Sidechain, c.FileID, c.Offset, c.TS, sid, pid, mid,
				t.Input, t.Output, t.Cache5m, t.Cache1h, t.CacheRead, c.Cost); err != nil {
				return err
			}
			delta(c, mid, pid, 1)
		}
	}
	for i := range b.Replace {
		c := &b.Replace[i]
		var old Call
		var oldModel, oldProject int64
		if err := tx.QueryRowContext(ctx, `SELECT ts, model_id, project_id, input, output, c5, c1, cr, cost FROM calls WHERE id = ?`, c.ID).Scan(
			&old.TS, &oldModel, &oldProject, &old.Tokens.Input, &old.Tokens.Output, &old.Tokens.Cache5m, &old.Tokens.Cache1h, &old.Tokens.CacheRead, &old.Cost); err != nil {
			return fmt.Errorf("replacing call %d: %w", c.ID, err)
		}
		delta(&old, oldModel, oldProject, -1)
		sid, pid, mid, err := ids(c)
		if err != nil {
			return err
		}
		t := c.Tokens
		if _, err := tx.ExecContext(ctx, `UPDATE calls SET key = ?, msg = ?, sidechain = ?, file_id = ?, off = ?, ts = ?, session_id = ?, project_id = ?, model_id = ?,
			input = ?, output = ?, c5 = ?, c1 = ?, cr = ?, cost = ? WHERE id = ?`,
			c.Key[:], c.Msg, c.Sidechain, c.FileID, c.Offset, c.TS, sid, pid, mid, t.Input, t.Output, t.Cache5m, t.Cache1h, t.CacheRead, c.Cost, c.ID); err != nil {
			return err
		}
		delta(c, mid, pid, 1)
	}

	if len(deltas) > 0 {
		up, err := tx.PrepareContext(ctx, `INSERT INTO agg VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (bucket, model_id, project_id) DO UPDATE SET calls = calls + excluded.calls,
				input = input + excluded.input, output = output + excluded.output, c5 = c5 + excluded.c5, c1 = c1 + excluded.c1, cr = cr + excluded.cr,
				x_input = x_input + excluded.x_input, x_output = x_output + excluded.x_output, x_c5 = x_c5 + excluded.x_c5,
				x_c1 = x_c1 + excluded.x_c1, x_cr = x_cr + excluded.x_cr,
				cost = cost + excluded.cost, first_ts = min(first_ts, excluded.first_ts)`)
		if err != nil {
			return err
		}
		defer up.Close()
		for k, d := range deltas {
			first := d.firstTS
			if first == 0 {
				first = 1<<63 - 1 // only removals: leave first_ts as it is
			}
			if _, err := up.ExecContext(ctx, k.bucket, k.model, k.project, d.calls,
				d.tok.Input, d.tok.Output, d.tok.Cache5m, d.tok.Cache1h, d.tok.CacheRead,
				d.above.Input, d.above.Output, d.above.Cache5m, d.above.Cache1h, d.above.CacheRead,
				d.cost, first); err != nil {
				return err
			}
		}
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	for k, id := range pending {
		s.names[k] = id
	}
	return nil
}

func (s *sqliteStore) models(ctx context.Context) (map[int64]Model, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT id, name, fast, fixed FROM models`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[int64]Model{}
	for rows.Next() {
		var id int64
		var m Model
		if err := rows.Scan(&id, &m.Name, &m.Fast, &m.Fixed); err != nil {
			return nil, err
		}
		out[id] = m
	}
	return out, rows.Err()
}

// projectID returns the id of a project name; ok is false when the store
// has never seen it.
func (s *sqliteStore) projectID(ctx context.Context, name string) (int64, bool, error) {
	var id int64
	err := s.r.QueryRowContext(ctx, `SELECT id FROM projects WHERE name = ?`, name).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, false, nil
	}
	return id, err == nil, err
}

func (s *sqliteStore) Buckets(ctx context.Context, from, to int64, project string) ([]Bucket, error) {
	models, err := s.models(ctx)
	if err != nil {
		return nil, err
	}
	q := `SELECT bucket, model_id, sum(input), sum(output), sum(c5), sum(c1), sum(cr),
		sum(x_input), sum(x_output), sum(x_c5), sum(x_c1), sum(x_cr), sum(cost), min(first_ts)
		FROM agg WHERE bucket >= ? AND bucket < ? AND calls > 0`
	args := []any{from, to}
	if project != "" {
		pid, ok, err := s.projectID(ctx, project)
		if err != nil || !ok {
			return nil, err
		}
		q += ` AND project_id = ?`
		args = append(args, pid)
	}
	q += ` GROUP BY bucket, model_id ORDER BY bucket`
	rows, err := s.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Bucket
	for rows.Next() {
		var b Bucket
		var mid int64
		t, x := &b.Tokens, &b.Above
		if err := rows.Scan(&b.Bucket, &mid, &t.Input, &t.Output, &t.Cache5m, &t.Cache1h, &t.CacheRead,
			&x.Input, &x.Output, &x.Cache5m, &x.Cache1h, &x.CacheRead, &b.Cost, &b.FirstTS); err != nil {
			return nil, err
		}
		b.Model = models[mid]
		out = append(out, b)
	}
	return out, rows.Err()
}

func (s *sqliteStore) Sessions(ctx context.Context, from, to int64, project string) ([]SessionModel, error) {
	models, err := s.models(ctx)
	if err != nil {
		return nil, err
	}
	q := `SELECT s.name, p.name, c.model_id, sum(input), sum(output), sum(c5), sum(c1), sum(cr),
		sum(max(input-200000, 0)), sum(max(output-200000, 0)), sum(max(c5-200000, 0)), sum(max(c1-200000, 0)), sum(max(cr-200000, 0)),
		sum(cost), min(ts), max(ts)
		FROM calls c JOIN sessions s ON s.id = c.session_id JOIN projects p ON p.id = c.project_id
		WHERE ts >= ? AND ts < ?`
	args := []any{from, to}
	if project != "" {
		q += ` AND p.name = ?`
		args = append(args, project)
	}
	q += ` GROUP BY c.session_id, c.project_id, c.model_id`
	rows, err := s.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []SessionModel
	for rows.Next() {
		var m SessionModel
		var mid int64
		t, x := &m.Tokens, &m.Above
		if err := rows.Scan(&m.Session, &m.Project, &mid, &t.Input, &t.Output, &t.Cache5m, &t.Cache1h, &t.CacheRead,
			&x.Input, &x.Output, &x.Cache5m, &x.Cache1h, &x.CacheRead, &m.Cost, &m.First, &m.Last); err != nil {
			return nil, err
		}
		m.Model = models[mid]
		out = append(out, m)
	}
	return out, rows.Err()
}

func (s *sqliteStore) Summary(ctx context.Context) (Summary, error) {
	var sum Summary
	var oldest sql.NullInt64
	err := s.r.QueryRowContext(ctx, `SELECT
		(SELECT count(*) FROM files), (SELECT coalesce(sum(malformed), 0) FROM files),
		(SELECT count(*) FROM calls), (SELECT coalesce(max(id), 0) FROM calls), (SELECT coalesce(max(id), 0) FROM files),
		(SELECT min(first_ts) FROM agg WHERE bucket = (SELECT min(bucket) FROM agg WHERE calls > 0) AND calls > 0)`).Scan(
		&sum.Files, &sum.Malformed, &sum.Calls, &sum.MaxID, &sum.MaxFileID, &oldest)
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
