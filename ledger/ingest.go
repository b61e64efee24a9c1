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
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

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
	maxHot     = 64      // recently written files a sync marks hot
	headBytes  = 4096    // how much of a file's start identifies its contents
	readChunk  = 1 << 20 // read size; a longer line grows the buffer
	pieceBytes = 8 << 20 // a piece covers at most this much of a file
)

// reader reads transcript files; each worker owns one.
type reader struct {
	buf  []byte
	recs []record
}

func statIDs(fi os.FileInfo) (dev, ino uint64) {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return uint64(st.Dev), uint64(st.Ino) //nolint:unconvert // Dev is int32 on darwin
	}
	return 0, 0
}

func hashHead(f *os.File, n int64) ([16]byte, error) {
	var out [16]byte
	b := make([]byte, n)
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
		h, err := hashHead(f, pos.HeadLen)
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
			h, err := hashHead(f, n)
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
			if len(buf) > readChunk && cap(r.buf) < len(buf) && len(buf) <= 16*readChunk {
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
		r.recs, err = parseLine(line, r.recs[:0])
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
			if at, ok := seen[key]; ok {
				// Another copy in this piece (streaming snapshots): keep the
				// better one; the file and path are the same.
				if better(c.survivor(), p.cands[at].survivor(), nil) {
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

// ingest reads jobs in parallel and commits what they hold in batches.
// Caller holds ingestMu.
func (l *Ledger) ingest(ctx context.Context, jobs []job) (SyncStats, error) {
	var st SyncStats
	if len(jobs) == 0 {
		return st, nil
	}
	workers := min(runtime.GOMAXPROCS(0), len(jobs))
	jobCh := make(chan job)
	out := make(chan piece, 2*workers)
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var r reader
			for j := range jobCh {
				r.read(wctx, j, func(p piece) bool {
					select {
					case out <- p:
						return true
					case <-wctx.Done():
						return false
					}
				})
			}
		}()
	}
	go func() {
		defer close(jobCh)
		for _, j := range jobs {
			select {
			case jobCh <- j:
			case <-wctx.Done():
				return
			}
		}
	}()
	go func() { wg.Wait(); close(out) }()

	w := l.newWriter()
	var firstErr error
	for p := range out {
		if firstErr != nil {
			continue // drain
		}
		if p.err != nil {
			l.log.Warn("ledger: cannot read transcript", "path", p.ref.path, "err", p.err)
		}
		w.apply(&p)
		if w.full() {
			if err := l.commit(ctx, w, &st); err != nil {
				firstErr = err
				cancel()
			}
		}
	}
	if firstErr == nil {
		firstErr = l.commit(ctx, w, &st)
	}
	if firstErr == nil {
		firstErr = ctx.Err()
	}
	return st, firstErr
}

// writer turns pieces into a batch against the dedupe index.
type writer struct {
	l       *Ledger
	b       store.Batch
	inBatch map[int64]int // call id → position in b.Insert
	fileAt  map[int64]int // file id → position in b.Files
	files   int
	bytes   int64
	stats   SyncStats
}

func (l *Ledger) newWriter() *writer {
	return &writer{l: l, inBatch: map[int64]int{}, fileAt: map[int64]int{}}
}

func (w *writer) full() bool {
	return len(w.b.Insert)+len(w.b.Replace) >= 20000 || len(w.b.Files) >= 2000
}

func (w *writer) apply(p *piece) {
	l := w.l
	path := func(id int64) string { return l.paths[id] }
	fileID := p.file.ID
	for i := range p.cands {
		c := &p.cands[i]
		c.FileID = fileID
		slot, ok := l.idx.find(c.Key, c.Msg, c.Sidechain)
		if !ok {
			l.lastID++
			c.ID = l.lastID
			l.idx.add(c.Key, c.Msg, c.survivor())
			w.inBatch[c.ID] = len(w.b.Insert)
			w.b.Insert = append(w.b.Insert, c.Call)
			w.stats.Calls++
			continue
		}
		// Later copies under this key find the same call (a replay's key
		// is remembered until a restart; then byMsg finds it again).
		l.idx.byKey[c.Key] = slot
		s := l.idx.slots[slot]
		c.ID = s.id
		if !better(c.survivor(), s, path) {
			continue
		}
		l.idx.slots[slot] = c.survivor()
		if at, pending := w.inBatch[c.ID]; pending {
			w.b.Insert[at] = c.Call
			continue
		}
		w.b.Replace = append(w.b.Replace, c.Call)
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
}

// commit stores the writer's batch; on failure the in-memory index and
// positions are reloaded from the store, which still holds the truth.
func (l *Ledger) commit(ctx context.Context, w *writer, st *SyncStats) error {
	if len(w.b.Files) == 0 && len(w.b.Insert) == 0 && len(w.b.Replace) == 0 {
		return nil
	}
	if err := l.st.Commit(ctx, &w.b); err != nil {
		if rerr := l.load(context.WithoutCancel(ctx)); rerr != nil {
			err = errors.Join(err, rerr)
		}
		*w = *l.newWriter()
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
	*w = *l.newWriter()
	return nil
}
