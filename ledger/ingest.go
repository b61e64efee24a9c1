package ledger

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/anthropics/cco/ledger/price"
	"github.com/anthropics/cco/ledger/store"
)

// fileRef is a transcript file and what its path says.
type fileRef struct {
	path    string
	project string // first directory under projects/
	session string // the session the path implies (fallback for lines without sessionId)
}

// refOf describes path, a file below root's projects/ directory.
func refOf(projects, path string) fileRef {
	rel, err := filepath.Rel(projects, path)
	if err != nil {
		rel = filepath.Base(path)
	}
	parts := strings.Split(filepath.ToSlash(rel), "/")
	ref := fileRef{path: path, project: "unknown"}
	if len(parts) > 1 {
		ref.project = parts[0]
	}
	// <p>/<sid>.jsonl → sid; <p>/<sid>/subagents/x.jsonl → sid; <p>/a/b/c.jsonl → b.
	switch n := len(parts); {
	case n <= 2:
		ref.session = strings.TrimSuffix(parts[n-1], ".jsonl")
	case parts[n-2] == "subagents" && n >= 4:
		ref.session = parts[n-3]
	default:
		ref.session = parts[n-2]
	}
	return ref
}

// walk lists every *.jsonl file below each root's projects/ directory (in
// path order) and every directory there (for the watcher).
func walk(roots []string) (files []fileRef, dirs []string, err error) {
	for _, root := range roots {
		projects := filepath.Join(root, "projects")
		werr := filepath.WalkDir(projects, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				if path == projects {
					return err
				}
				return nil // a directory removed or unreadable mid-walk: the rescan sees it again
			}
			if d.IsDir() {
				dirs = append(dirs, path)
				return nil
			}
			if strings.HasSuffix(d.Name(), ".jsonl") && d.Type().IsRegular() {
				files = append(files, refOf(projects, path))
			}
			return nil
		})
		if werr != nil && !errors.Is(werr, fs.ErrNotExist) {
			return nil, nil, fmt.Errorf("reading transcripts under %s: %w", projects, werr)
		}
	}
	sort.Slice(files, func(i, j int) bool { return files[i].path < files[j].path })
	return files, dirs, nil
}

// job is one file to read from where the ledger left it.
type job struct {
	ref  fileRef
	prev store.File // ID set; Offset 0 for a new file
}

// piece is what reading part of a file produced: its calls (deduplicated
// among themselves) and the file's position after them.
type piece struct {
	ref       fileRef
	file      store.File
	cands     []cand
	lines     int
	malformed int
	bytes     int64
	done      bool // the file's last piece
	err       error
}

const (
	maxHot     = 64        // recently written files a sync marks hot
	headBytes  = 4096      // how much of a file's start identifies its contents
	readChunk  = 256 << 10 // read size; a longer line grows the buffer
	pieceBytes = 1 << 20   // a piece covers at most this much of a file
	// maxLine bounds the memory one line may take: a longer one (no
	// transcript line is near it; a runaway write, a file that is no
	// transcript) is skipped whole and counted as malformed.
	maxLine = 16 << 20
)

// reader reads transcript files; each worker owns one.
type reader struct {
	buf   []byte
	head  []byte
	recs  []record
	names map[string]string // session and model names, shared by the calls that carry them
}

func statIDs(fi os.FileInfo) (dev, ino uint64) {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return uint64(st.Dev), uint64(st.Ino) //nolint:unconvert // Dev is int32 on darwin
	}
	return 0, 0
}

func hashHead(f *os.File, n int64, buf *[]byte) ([16]byte, error) {
	var out [16]byte
	if int64(cap(*buf)) < n {
		*buf = make([]byte, n)
	}
	b := (*buf)[:n]
	if _, err := f.ReadAt(b, 0); err != nil {
		return out, err
	}
	sum := sha256.Sum256(b)
	copy(out[:], sum[:])
	return out, nil
}

// read reads j's file from its position (or from the start when the file
// was replaced, truncated or rewritten) and sends its pieces to emit.
// Only complete lines are consumed: a partial last line waits for its
// newline.
func (r *reader) read(ctx context.Context, j job, emit func(piece) bool) {
	fail := func(err error) { emit(piece{ref: j.ref, file: j.prev, err: err, done: true}) }
	f, err := os.Open(j.ref.path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			emit(piece{ref: j.ref, file: j.prev, done: true}) // gone: its calls stay in the ledger
			return
		}
		fail(err)
		return
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		fail(err)
		return
	}
	pos := j.prev
	dev, ino := statIDs(fi)
	size := fi.Size()
	start := pos.Offset
	reset := pos.Offset == 0 || dev != pos.Dev || ino != pos.Ino || size < pos.Offset
	if !reset && pos.HeadLen > 0 {
		h, err := hashHead(f, pos.HeadLen, &r.head)
		if err != nil || h != pos.HeadHash {
			reset = true
		}
	}
	if reset {
		start, pos.Offset, pos.Malformed, pos.HeadLen = 0, 0, 0, 0
	}
	pos.Dev, pos.Ino, pos.Size, pos.MTime = dev, ino, size, fi.ModTime().UnixNano()

	if cap(r.buf) < readChunk {
		r.buf = make([]byte, readChunk)
	}
	buf := r.buf[:cap(r.buf)]
	p := piece{ref: j.ref}
	seen := map[[16]byte]int{}
	flush := func(done bool) bool {
		if pos.HeadLen < headBytes && pos.Offset > pos.HeadLen {
			n := min(pos.Offset, headBytes)
			h, err := hashHead(f, n, &r.head)
			if err != nil {
				p.err = err
				done = true
			}
			pos.HeadHash, pos.HeadLen = h, n
		}
		pos.Malformed += int64(p.malformed)
		p.file, p.done = pos, done
		ok := emit(p)
		p = piece{ref: j.ref}
		clear(seen)
		return ok
	}
	off := start // file offset of buf[0]
	n := 0       // bytes held in buf
	for {
		if ctx.Err() != nil {
			return
		}
		if n == len(buf) && len(buf) >= maxLine {
			skipped, complete, err := skipLine(f, off+int64(n), buf)
			if err != nil {
				p.err = err
				flush(true)
				return
			}
			if !complete {
				// Its newline has not come yet: the offset stays at the
				// line's start, which is looked at again then.
				flush(true)
				return
			}
			consumed := int64(n) + skipped
			p.malformed++
			p.bytes += consumed
			off += consumed
			pos.Offset = off
			n = 0
			buf = r.buf[:cap(r.buf)]
			continue
		}
		if n == len(buf) { // one line longer than the buffer
			bigger := make([]byte, 2*len(buf))
			copy(bigger, buf[:n])
			buf = bigger
		}
		m, err := f.ReadAt(buf[n:], off+int64(n))
		n += m
		if err != nil && err != io.EOF {
			p.err = err
			flush(true)
			return
		}
		last := bytes.LastIndexByte(buf[:n], '\n')
		if last >= 0 {
			r.lines(buf[:last+1], off, &p, seen)
			consumed := int64(last + 1)
			p.bytes += consumed
			pos.Offset = off + consumed
			copy(buf, buf[last+1:n])
			n -= last + 1
			off += consumed
		}
		if err == io.EOF || m == 0 {
			if len(buf) > cap(r.buf) && len(buf) <= 4*readChunk {
				r.buf = buf // keep a grown buffer, within reason
			}
			flush(true)
			return
		}
		if p.bytes >= pieceBytes {
			if !flush(false) {
				return
			}
		}
	}
}

// skipLine reads f from off, through buf, to the end of the line under way:
// it returns how many bytes that took (its newline included), and false
// when the file ends first.
func skipLine(f *os.File, off int64, buf []byte) (int64, bool, error) {
	var skipped int64
	for {
		m, err := f.ReadAt(buf, off+skipped)
		if i := bytes.IndexByte(buf[:m], '\n'); i >= 0 {
			return skipped + int64(i) + 1, true, nil
		}
		skipped += int64(m)
		if err == io.EOF || m == 0 {
			return skipped, false, nil
		}
		if err != nil {
			return skipped, false, err
		}
	}
}

// lines parses the complete lines in b (b[0] is at file offset base).
func (r *reader) lines(b []byte, base int64, p *piece, seen map[[16]byte]int) {
	for len(b) > 0 {
		// Jump to the next line that can hold usage; the lines before it get
		// only a look at their ends.
		k := bytes.Index(b, usageMarker)
		if k < 0 {
			p.glance(b)
			return
		}
		ls := bytes.LastIndexByte(b[:k], '\n') + 1
		p.glance(b[:ls])
		le := ls + bytes.IndexByte(b[ls:], '\n')
		line := b[ls:le]
		lineOff := base + int64(ls)
		p.lines++
		var err error
		if r.names == nil {
			r.names = map[string]string{}
		}
		r.recs, err = parseLine(line, r.recs[:0], r.names)
		if err != nil {
			p.malformed++
		}
		for i := range r.recs {
			rec := &r.recs[i]
			session := rec.session
			if session == "" {
				session = p.ref.session
			}
			key, msg := callKey(rec, session, p.ref.path, lineOff, i, line)
			model := rec.model
			c := cand{Call: store.Call{
				Key: key, Msg: msg, Sidechain: rec.sidechain, Offset: lineOff, TS: rec.ts,
				Session: session, Project: p.ref.project,
				Model:  store.Model{Name: model, Fast: rec.fast, Fixed: rec.hasCost},
				Tokens: rec.tok, Cost: rec.cost,
			}, total: rec.total()}
			c.OrderOff = orderOf(lineOff, i)
			if at, ok := seen[key]; ok {
				// Another copy in this piece (streaming snapshots): keep the
				// better one, first seen where the first copy was.
				if better(c.survivor(store.Loc{}), p.cands[at].survivor(store.Loc{}), nil) {
					c.OrderOff = p.cands[at].OrderOff
					p.cands[at] = c
				}
				continue
			}
			seen[key] = len(p.cands)
			p.cands = append(p.cands, c)
		}
		b = b[le+1:]
		base += int64(le + 1)
	}
}

// glance counts the complete lines in b and, as malformed, those that
// cannot be a JSON object: not starting with { or not ending with }.
func (p *piece) glance(b []byte) {
	for len(b) > 0 {
		le := bytes.IndexByte(b, '\n')
		line := bytes.TrimSpace(b[:le])
		b = b[le+1:]
		p.lines++
		if len(line) > 0 && (line[0] != '{' || line[len(line)-1] != '}') {
			p.malformed++
		}
	}
}

// plan compares the files on disk with the stored positions and returns
// the ones with something new to read. Caller holds ingestMu.
func (l *Ledger) plan(refs []fileRef) (jobs []job, total int64) {
	var recent []string
	var recentAt []time.Time
	defer func() {
		// The most recently written files are the ones Claude Code may be
		// appending to: queries look at them directly.
		idx := make([]int, len(recent))
		for i := range idx {
			idx[i] = i
		}
		sort.Slice(idx, func(a, b int) bool { return recentAt[idx[a]].After(recentAt[idx[b]]) })
		for _, i := range idx[:min(len(idx), maxHot)] {
			l.touch(recent[i])
		}
	}()
	for _, ref := range refs {
		prev, ok := l.files[ref.path]
		if !ok {
			l.lastFileID++
			prev = &store.File{ID: l.lastFileID, Path: ref.path}
			l.files[ref.path] = prev
			l.paths[prev.ID] = ref.path
		}
		fi, err := os.Stat(ref.path)
		if err != nil {
			continue
		}
		dev, ino := statIDs(fi)
		if l.now().Sub(fi.ModTime()) < hotWindow {
			recent = append(recent, ref.path)
			recentAt = append(recentAt, fi.ModTime())
		}
		if prev.Offset > 0 && fi.Size() == prev.Size && fi.ModTime().UnixNano() == prev.MTime && dev == prev.Dev && ino == prev.Ino {
			continue
		}
		jobs = append(jobs, job{ref: ref, prev: *prev})
		total += max(fi.Size()-prev.Offset, 0)
	}
	return jobs, total
}

// ingest reads jobs in parallel and commits what they hold in batches, one
// batch committing while the next is built. Caller holds ingestMu.
func (l *Ledger) ingest(ctx context.Context, jobs []job) (SyncStats, error) {
	var st SyncStats
	if len(jobs) == 0 {
		return st, nil
	}
	// More readers than cores: reading a file mostly waits on the system.
	readers := min(2*runtime.GOMAXPROCS(0), len(jobs), 8)
	// Most of what ingest allocates is garbage at once; a lower collection
	// target keeps the daemon's footprint small while it reads a large
	// history, for a little more CPU.
	if len(jobs) > 100 {
		defer debug.SetGCPercent(debug.SetGCPercent(ingestGCPercent))
	}
	// Pieces are applied in the jobs' (path) order, as ccusage reads files:
	// each job has its own small channel, read in turn, so that readers
	// run ahead by at most a few files.
	type slot struct {
		j   job
		out chan piece
	}
	jobCh := make(chan slot)
	order := make(chan chan piece, readers)
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	for range readers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var r reader
			for s := range jobCh {
				r.read(wctx, s.j, func(p piece) bool {
					select {
					case s.out <- p:
						return true
					case <-wctx.Done():
						return false
					}
				})
				close(s.out)
			}
		}()
	}
	go func() {
		defer close(order)
		defer close(jobCh)
		for _, j := range jobs {
			s := slot{j, make(chan piece, 2)}
			select {
			case order <- s.out:
			case <-wctx.Done():
				return
			}
			select {
			case jobCh <- s:
			case <-wctx.Done():
				return
			}
		}
	}()
	out := make(chan piece)
	go func() {
		defer close(out)
		for ch := range order {
			for {
				var p piece
				var ok bool
				select {
				case p, ok = <-ch:
				case <-wctx.Done():
					return
				}
				if !ok {
					break
				}
				select {
				case out <- p:
				case <-wctx.Done():
					return
				}
			}
		}
		wg.Wait()
	}()

	// The committer stores batches in order while the next is built.
	var (
		commitErr error
		done      atomic.Int64 // batches committed
	)
	batches := make(chan *writer, 1)
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		for w := range batches {
			if commitErr == nil {
				if err := l.commit(ctx, w, &st); err != nil {
					commitErr = err
					cancel()
				}
			}
			done.Add(1)
		}
	}()

	var sent []*writer // batches handed to the committer, oldest first
	var sentBase int64 // batches sent before sent[0]
	cache := map[int64][]store.Call{}
	w := l.newWriter()
	src := &callSource{l: l, cache: cache}
	send := func() {
		sent = append(sent, w)
		batches <- w
		w = l.newWriter()
		for n := done.Load(); sentBase < n; sentBase++ {
			sent = sent[1:] // committed: the store has it now
		}
	}
	var applyErr error
	last := time.Now()
	for p := range out {
		if applyErr != nil || wctx.Err() != nil {
			continue // drain
		}
		if p.err != nil {
			l.log.Warn("ledger: cannot read transcript", "path", p.ref.path, "err", p.err)
		}
		src.sent = sent
		if err := w.apply(ctx, &p, src); err != nil {
			applyErr = err
			cancel()
			continue
		}
		if w.full() || time.Since(last) > commitEvery {
			send()
			last = time.Now()
		}
	}
	if applyErr == nil && wctx.Err() == nil {
		batches <- w
	}
	close(batches)
	<-finished
	if applyErr != nil || commitErr != nil {
		// The index may hold what was not committed: read it again.
		if err := l.load(context.WithoutCancel(ctx)); err != nil {
			return st, errors.Join(applyErr, commitErr, err)
		}
		return st, errors.Join(applyErr, commitErr)
	}
	return st, ctx.Err()
}

// ingestGCPercent is GOGC during a large ingest.
const ingestGCPercent = 25

// commitEvery bounds how long ingest builds a batch before committing it.
const commitEvery = time.Second

// callSource finds the current version of a stored call: in the batch
// being built, in batches not yet committed, else in the store.
type callSource struct {
	l     *Ledger
	sent  []*writer
	cache map[int64][]store.Call // chunks read from the store, as committed
}

func (s *callSource) get(ctx context.Context, w *writer, at store.Loc) (store.Call, error) {
	if c := w.find(at); c != nil {
		return *c, nil
	}
	for i := len(s.sent) - 1; i >= 0; i-- {
		if c := s.sent[i].find(at); c != nil {
			return *c, nil
		}
	}
	calls, ok := s.cache[at.Chunk]
	if !ok {
		var err error
		if calls, err = s.l.st.Chunk(ctx, at.Chunk); err != nil {
			return store.Call{}, err
		}
		if len(s.cache) > 256 {
			clear(s.cache)
		}
		s.cache[at.Chunk] = calls
	}
	if int(at.Idx) >= len(calls) {
		return store.Call{}, fmt.Errorf("ledger database: call %d/%d is missing", at.Chunk, at.Idx)
	}
	return calls[at.Idx], nil
}

// writer turns pieces into a batch against the dedupe index.
type writer struct {
	l        *Ledger
	zones    []zone // whose days the batch changes
	b        store.Batch
	chunkAt  map[int64]int     // chunk id → position in b.Chunks
	updateAt map[store.Loc]int // → position in b.Updates
	fileAt   map[int64]int     // file id → position in b.Files
	days     map[dayKey]*dayDelta
	files    int
	bytes    int64
	stats    SyncStats
}

type dayKey struct {
	zone    string
	day     int64
	model   store.Model
	project string
}

// dayDelta is a store.DayDelta whose first-seen position is kept as (file,
// offset) until the batch is committed.
type dayDelta struct {
	store.DayDelta
	firstFile, firstOff int64
	hasFirst            bool
}

func (l *Ledger) newWriter() *writer {
	return &writer{l: l, zones: l.zones, chunkAt: map[int64]int{}, updateAt: map[store.Loc]int{},
		fileAt: map[int64]int{}, days: map[dayKey]*dayDelta{}}
}

func (w *writer) full() bool {
	return w.stats.Calls+w.stats.Replaced >= 8000 || len(w.b.Files) >= 2000
}

// find returns the call at a location if this batch holds it.
func (w *writer) find(at store.Loc) *store.Call {
	if i, ok := w.updateAt[at]; ok {
		return &w.b.Updates[i].Call
	}
	if i, ok := w.chunkAt[at.Chunk]; ok {
		return &w.b.Chunks[i].Calls[at.Idx]
	}
	return nil
}

// count adds a call's contribution (sign +1) or takes it back (-1) in
// every kept zone's days.
func (w *writer) count(c *store.Call, sign int64) {
	above := c.Tokens.Above()
	for _, z := range w.zones {
		day := dayOf(c.TS, z.loc)
		for _, project := range [2]string{"", c.Project} {
			k := dayKey{z.name, day, c.Model, project}
			d := w.days[k]
			if d == nil {
				d = &dayDelta{DayDelta: store.DayDelta{Zone: z.name, Day: day, Model: c.Model, Project: project}}
				w.days[k] = d
			}
			d.Calls += sign
			addTokens(&d.Tokens, c.Tokens, sign)
			addTokens(&d.Above, above, sign)
			d.Cost += float64(sign) * c.Cost
			if sign > 0 && (!d.hasFirst || before(c.OrderFile, c.OrderOff, d.firstFile, d.firstOff, w.l.pathOf)) {
				d.firstFile, d.firstOff, d.hasFirst = c.OrderFile, c.OrderOff, true
			}
		}
	}
	if sign > 0 && (w.b.Oldest == 0 || c.TS < w.b.Oldest) {
		w.b.Oldest = c.TS
	}
}

func addTokens(t *price.Tokens, u price.Tokens, sign int64) {
	t.Input += sign * u.Input
	t.Output += sign * u.Output
	t.Cache5m += sign * u.Cache5m
	t.Cache1h += sign * u.Cache1h
	t.CacheRead += sign * u.CacheRead
}

func (w *writer) apply(ctx context.Context, p *piece, src *callSource) error {
	l := w.l
	fileID := p.file.ID
	var chunk *store.Chunk
	for i := range p.cands {
		c := &p.cands[i]
		c.FileID, c.OrderFile = fileID, fileID
		slot, ok := l.idx.find(c.Key, c.Msg, c.Sidechain)
		if !ok {
			if chunk == nil {
				l.lastChunk++
				w.chunkAt[l.lastChunk] = len(w.b.Chunks)
				w.b.Chunks = append(w.b.Chunks, store.Chunk{ID: l.lastChunk, FileID: fileID})
				chunk = &w.b.Chunks[len(w.b.Chunks)-1]
			}
			at := store.Loc{Chunk: chunk.ID, Idx: int32(len(chunk.Calls))}
			chunk.Calls = append(chunk.Calls, c.Call)
			l.idx.add(c.Key, c.Msg, c.survivor(at))
			w.count(&c.Call, 1)
			w.stats.Calls++
			continue
		}
		// Later copies under this key find the same call (a replay's key
		// is remembered until a restart; then byMsg finds it again).
		l.idx.byKey[c.Key] = slot
		s := *l.idx.slots.at(slot)
		win := better(c.survivor(s.loc()), s, l.pathOf)
		// Files are applied in path order, so a copy seen before the kept
		// one's place is rare (a file that appeared later with a smaller
		// path): only then is the stored first-seen place worth a look.
		maybeEarlier := before(c.OrderFile, c.OrderOff, int64(s.file), orderOf(s.offset, maxNth), l.pathOf)
		if !win && !maybeEarlier {
			continue
		}
		old, err := src.get(ctx, w, s.loc())
		if err != nil {
			return err
		}
		earlier := before(c.OrderFile, c.OrderOff, old.OrderFile, old.OrderOff, l.pathOf)
		if !win && !earlier {
			continue
		}
		next := old
		if win {
			next = c.Call
		}
		if !earlier {
			next.OrderFile, next.OrderOff = old.OrderFile, old.OrderOff
		}
		w.count(&old, -1)
		w.count(&next, 1)
		at := s.loc()
		if mine := w.find(at); mine != nil {
			*mine = next
		} else {
			w.updateAt[at] = len(w.b.Updates)
			w.b.Updates = append(w.b.Updates, store.Update{At: at, Call: next})
			delete(src.cache, at.Chunk)
		}
		*l.idx.slots.at(slot) = (&cand{Call: next, total: next.Total()}).survivor(at)
		w.stats.Replaced++
	}
	if at, ok := w.fileAt[fileID]; ok {
		w.b.Files[at] = p.file
	} else {
		w.fileAt[fileID] = len(w.b.Files)
		w.b.Files = append(w.b.Files, p.file)
	}
	w.stats.Lines += p.lines
	w.stats.Malformed += p.malformed
	w.stats.Bytes += p.bytes
	if p.done {
		w.files++
	}
	w.bytes += p.bytes
	return nil
}

// commit stores a writer's batch. On failure the caller reloads the
// in-memory state from the store, which still holds the truth.
func (l *Ledger) commit(ctx context.Context, w *writer, st *SyncStats) error {
	if len(w.b.Files) == 0 && len(w.b.Chunks) == 0 && len(w.b.Updates) == 0 && len(w.days) == 0 && len(w.b.Zones) == 0 {
		return nil
	}
	days := make([]store.DayDelta, 0, len(w.days))
	for _, d := range w.days {
		if d.hasFirst {
			d.First = l.position(d.firstFile, d.firstOff)
		}
		days = append(days, d.DayDelta)
	}
	b := w.b
	b.Days = days
	if err := l.st.Commit(ctx, &b); err != nil {
		return fmt.Errorf("saving to the ledger: %w", err)
	}
	for _, f := range w.b.Files {
		*l.files[f.Path] = f
	}
	l.committed(w)
	st.Read += w.files
	st.Bytes += w.stats.Bytes
	st.Lines += w.stats.Lines
	st.Calls += w.stats.Calls
	st.Replaced += w.stats.Replaced
	st.Malformed += w.stats.Malformed
	return nil
}
