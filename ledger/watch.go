package ledger

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/fsnotify/fsnotify"
)

var errReadOnly = errors.New("ledger: opened read-only; only the daemon ingests")

// debounce is how long ingest waits after a change before reading, so that
// a burst of appends (one per content block) is read at once. It bounds the
// lag of a new line, with the read itself, well under a second.
const debounce = 100 * time.Millisecond

// hotWindow: a transcript changed this recently may be written to again;
// a query looks at it itself rather than trust that its events arrived.
const hotWindow = 10 * time.Minute

// recentDirWindow is how long a query lists a directory discovered while
// Run watches, besides the hot files' (see Run's look): far longer than
// an event takes to arrive.
const recentDirWindow = time.Minute

// freshness tracks ingest requested against ingest done, so that a query
// can wait for the changes made before it was asked.
type freshness struct {
	mu       sync.Mutex
	wanted   uint64
	finished uint64
	since    time.Time     // when the oldest pending request was made
	changed  chan struct{} // closed when finished advances
	running  bool          // Run's loop is serving kicks
	// kick asks Run's loop to take in every change made so far (queued
	// events, and the hot files' sizes) and to close the channel sent when
	// that is committed.
	kick chan chan struct{}
}

func (f *freshness) init() {
	f.changed = make(chan struct{})
	f.kick = make(chan chan struct{})
}

// want records a change to ingest and returns its sequence number.
func (f *freshness) want() uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.finished == f.wanted {
		f.since = time.Now()
	}
	f.wanted++
	return f.wanted
}

// done records that every change up to seq is ingested.
func (f *freshness) done(seq uint64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if seq <= f.finished {
		return
	}
	f.finished = seq
	close(f.changed)
	f.changed = make(chan struct{})
}

func (f *freshness) setRunning(r bool) {
	f.mu.Lock()
	f.running = r
	f.mu.Unlock()
}

func (f *freshness) lag(now time.Time) time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.finished >= f.wanted {
		return 0
	}
	return max(now.Sub(f.since), 0)
}

// wait waits, at most d, until every change made before the call is
// ingested; false means it gave up (the answer will be partial).
func (f *freshness) wait(ctx context.Context, d time.Duration) bool {
	timer := time.NewTimer(d)
	defer timer.Stop()
	f.mu.Lock()
	target, running := f.wanted, f.running
	f.mu.Unlock()
	if running {
		reply := make(chan struct{})
		select {
		case f.kick <- reply:
		case <-timer.C:
			return false
		case <-ctx.Done():
			return false
		}
		select {
		case <-reply:
			return true
		case <-timer.C:
			return false
		case <-ctx.Done():
			return false
		}
	}
	for {
		f.mu.Lock()
		ok, ch := f.finished >= target, f.changed
		f.mu.Unlock()
		if ok {
			return true
		}
		select {
		case <-ch:
		case <-timer.C:
			return false
		case <-ctx.Done():
			return false
		}
	}
}

// Run syncs, then follows the roots until ctx is done: file system events
// on every directory below each projects/ (new directories are watched as
// they appear), ingest debounced, and a full rescan every RescanEvery as
// the safety net for lost events. Idle, it waits on nothing but events and
// the rescan timer.
func (l *Ledger) Run(ctx context.Context) error {
	if l.readOnly {
		return errReadOnly
	}
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return err
	}
	defer l.retire(w)
	watched := map[string]bool{}
	watch := func(dirs []string) {
		for _, d := range dirs {
			if watched[d] {
				continue
			}
			if err := w.Add(d); err != nil {
				if !errors.Is(err, fs.ErrNotExist) {
					l.log.Warn("ledger: cannot watch a transcript directory; the periodic rescan covers it", "dir", d, "err", err)
				}
				continue
			}
			watched[d] = true
		}
	}
	// From here on a query waits for this loop (bounded): during the first
	// sync it gets a partial answer rather than one that misses lines.
	l.fresh.setRunning(true)
	defer l.fresh.setRunning(false)
	// Watch before the first sync, so that nothing written during it is missed.
	_, dirs, err := walk(l.opts.Roots)
	if err != nil {
		l.log.Warn("ledger: listing transcripts", "err", err)
	}
	watch(dirs)
	if _, err := l.Sync(ctx); err != nil && ctx.Err() == nil {
		l.log.Error("ledger: first sync", "err", err)
	}

	dirty := map[string]bool{}
	var seq uint64
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	armed := false
	rescan := time.NewTicker(l.opts.RescanEvery)
	defer rescan.Stop()

	mark := func(path string) {
		l.touch(path)
		if len(dirty) == 0 {
			seq = l.fresh.want()
		}
		dirty[path] = true
		if !armed {
			timer.Reset(debounce)
			armed = true
		}
	}
	flush := func() {
		if armed {
			timer.Stop()
			armed = false
		}
		if len(dirty) == 0 {
			return
		}
		var refs []fileRef
		for p := range dirty {
			if ref, ok := l.refFor(p); ok {
				refs = append(refs, ref)
			}
		}
		clear(dirty)
		l.ingestMu.Lock()
		jobs, _ := l.plan(refs)
		_, err := l.ingest(ctx, jobs)
		l.ingestMu.Unlock()
		if err != nil && ctx.Err() == nil {
			l.log.Error("ledger: ingest", "err", err)
		}
		l.fresh.done(seq)
	}
	// recent are the directories discovered lately, by when: the event of
	// a file made in one just after its listing may not have reached this
	// loop when a query comes, so queries list them too, for a while.
	recent := map[string]time.Time{}
	// discover watches a new directory and everything below it, then reads
	// what is in it: watches first, then the listing, so that a file made
	// meanwhile is seen one way or the other.
	discover := func(dir string) {
		for {
			_, dirs := walkDir(dir)
			n := len(watched)
			watch(dirs)
			if len(watched) == n {
				break
			}
		}
		files, dirs := walkDir(dir)
		for _, f := range files {
			mark(f)
		}
		for _, d := range dirs {
			recent[d] = l.now()
		}
	}
	// look lists the directories around the hot files and those discovered
	// lately for what no event has announced yet: new session directories,
	// new files.
	look := func() {
		dirs := l.hotDirs()
		for d, at := range recent {
			if l.now().Sub(at) > recentDirWindow {
				delete(recent, d)
				continue
			}
			dirs = append(dirs, d)
		}
		for _, d := range dirs {
			ents, err := os.ReadDir(d)
			if err != nil {
				continue
			}
			for _, e := range ents {
				p := filepath.Join(d, e.Name())
				switch {
				case e.IsDir() && !watched[p]:
					discover(p)
				case e.Type().IsRegular() && strings.HasSuffix(e.Name(), ".jsonl") && !l.known(p):
					mark(p)
				}
			}
		}
	}
	handle := func(ev fsnotify.Event) {
		if ev.Has(fsnotify.Create) {
			if fi, err := os.Lstat(ev.Name); err == nil && fi.IsDir() {
				discover(ev.Name)
				return
			}
		}
		if strings.HasSuffix(ev.Name, ".jsonl") && (ev.Has(fsnotify.Write) || ev.Has(fsnotify.Create)) {
			mark(ev.Name)
		}
		if ev.Has(fsnotify.Remove) || ev.Has(fsnotify.Rename) {
			delete(watched, ev.Name) // a removed directory's watch is gone with it
		}
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-w.Events:
			if !ok {
				return nil
			}
			handle(ev)
		case reply := <-l.fresh.kick:
			// A query: take in the events already queued and whatever the
			// hot files gained without an event seen yet, then answer.
			for drained := false; !drained; {
				select {
				case ev, ok := <-w.Events:
					if ok {
						handle(ev)
					} else {
						drained = true
					}
				default:
					drained = true
				}
			}
			look()
			for _, p := range l.hotChanged() {
				mark(p)
			}
			flush()
			close(reply)
		case err, ok := <-w.Errors:
			if !ok {
				return nil
			}
			// Most likely an overflow: events were lost. Rescan now.
			l.log.Warn("ledger: file events lost; rescanning", "err", err)
			flush()
			l.rescan(ctx, watch)
		case <-timer.C:
			armed = false
			flush()
		case <-rescan.C:
			flush()
			l.rescan(ctx, watch)
		}
	}
}

// retire stops w watching and leaves it for Close to close. Closing an
// inotify instance that still watches makes the kernel wait out a grace
// period (milliseconds, at times tens of them) before close returns, and a
// process's exit waits for it too; watches removed a moment before the
// close are let go of in the background, and the close is then immediate.
// Close closes the database first, which is that moment.
func (l *Ledger) retire(w *fsnotify.Watcher) {
	for _, p := range w.WatchList() {
		_ = w.Remove(p)
	}
	l.retiredMu.Lock()
	l.retired = append(l.retired, w)
	l.retiredMu.Unlock()
}

func (l *Ledger) rescan(ctx context.Context, watch func([]string)) {
	_, dirs, err := walk(l.opts.Roots)
	if err == nil {
		watch(dirs)
	}
	if _, err := l.Sync(ctx); err != nil && ctx.Err() == nil {
		l.log.Error("ledger: rescan", "err", err)
	}
}

// walkDir lists the *.jsonl files and directories below dir.
func walkDir(dir string) (files, dirs []string) {
	_ = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if d.IsDir() {
			dirs = append(dirs, path)
		} else if strings.HasSuffix(d.Name(), ".jsonl") && d.Type().IsRegular() {
			files = append(files, path)
		}
		return nil
	})
	return files, dirs
}

// refFor describes a path below one of the roots' projects/ directories.
func (l *Ledger) refFor(path string) (fileRef, bool) {
	for _, root := range l.opts.Roots {
		projects := filepath.Join(root, "projects")
		if strings.HasPrefix(path, projects+string(filepath.Separator)) {
			return refOf(projects, path), true
		}
	}
	return fileRef{}, false
}

// touch records that path just changed (it is hot).
func (l *Ledger) touch(path string) {
	l.hotMu.Lock()
	l.hot[path] = l.now()
	l.hotMu.Unlock()
}

// hotChanged returns the hot files whose size or time differs from what
// ingest last read, forgetting those that have cooled down.
func (l *Ledger) hotChanged() []string {
	l.hotMu.Lock()
	var paths []string
	now := l.now()
	for p, at := range l.hot {
		if now.Sub(at) > hotWindow {
			delete(l.hot, p)
			continue
		}
		paths = append(paths, p)
	}
	l.hotMu.Unlock()
	var changed []string
	l.ingestMu.Lock()
	defer l.ingestMu.Unlock()
	for _, p := range paths {
		fi, err := os.Stat(p)
		if err != nil {
			continue
		}
		f, ok := l.files[p]
		if !ok || fi.Size() != f.Size || fi.ModTime().UnixNano() != f.MTime {
			changed = append(changed, p)
		}
	}
	return changed
}

// hotDirs returns the directories a query looks into: each root's
// projects/ (for new projects), the hot files' directories, their project
// directories, and a session file's own directory and its subagents/.
func (l *Ledger) hotDirs() []string {
	l.hotMu.Lock()
	paths := make([]string, 0, len(l.hot))
	for p := range l.hot {
		paths = append(paths, p)
	}
	l.hotMu.Unlock()
	seen := map[string]bool{}
	var out []string
	add := func(d string) {
		if !seen[d] {
			seen[d] = true
			out = append(out, d)
		}
	}
	for _, root := range l.opts.Roots {
		add(filepath.Join(root, "projects"))
	}
	for _, p := range paths {
		ref, ok := l.refFor(p)
		if !ok {
			continue
		}
		add(filepath.Dir(p))
		for _, root := range l.opts.Roots {
			if pd := filepath.Join(root, "projects", ref.project); strings.HasPrefix(p, pd+string(filepath.Separator)) {
				add(pd)
			}
		}
		if strings.HasSuffix(p, ".jsonl") {
			sd := strings.TrimSuffix(p, ".jsonl")
			add(sd)
			add(filepath.Join(sd, "subagents"))
		}
	}
	return out
}

// known says whether ingest has seen the file.
func (l *Ledger) known(path string) bool {
	l.ingestMu.Lock()
	defer l.ingestMu.Unlock()
	_, ok := l.files[path]
	return ok
}
