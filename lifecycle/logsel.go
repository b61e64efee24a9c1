package lifecycle

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"math"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/anthropics/cco/config"
)

// A Selection picks lines of the daemon's log by the time of their record:
// a line without a time of its own (a runtime crash dump) belongs to the
// last line before it that has one; lines before the first record, to it.
type Selection struct {
	// Since and Until bound the records' times, both included; zero: from
	// the start, to the end.
	Since, Until time.Time
	// Lines is how many of the selected lines to write, the last ones;
	// below 0, all.
	Lines int
}

// AllLevels is the minimum level that lets every line through.
const AllLevels = slog.Level(math.MinInt)

// Lines writes the daemon's log lines to W, those at level Min or above
// only (a line without a level of its own has its record's), each passed
// through Paint when it is set. Lines that belong to no record with a
// level (before the first one) are written at every Min.
type Lines struct {
	w     io.Writer
	min   slog.Level
	paint func(slog.Level, []byte) []byte
	// cur is the level of the record the next untimed line belongs to;
	// known is false before the first record.
	cur     slog.Level
	known   bool
	partial []byte
}

// NewLines makes a Lines writing to w.
func NewLines(w io.Writer, min slog.Level, paint func(slog.Level, []byte) []byte) *Lines {
	return &Lines{w: w, min: min, paint: paint}
}

// Write takes any bytes of the log, and writes the whole lines among them
// that pass; a partial last line waits for the rest of it.
func (l *Lines) Write(p []byte) (int, error) {
	l.partial = append(l.partial, p...)
	rest := l.partial
	for {
		i := bytes.IndexByte(rest, '\n')
		if i < 0 {
			break
		}
		if err := l.line(rest[:i+1]); err != nil {
			return 0, err
		}
		rest = rest[i+1:]
	}
	l.partial = append(l.partial[:0], rest...)
	return len(p), nil
}

// endFile writes a partial last line, ended: at the end of a file that
// will not grow.
func (l *Lines) endFile() error {
	if len(l.partial) == 0 {
		return nil
	}
	err := l.line(append(l.partial, '\n'))
	l.partial = l.partial[:0]
	return err
}

// Flush writes a partial last line as it is: the end of what there is to
// write.
func (l *Lines) Flush() error {
	if len(l.partial) == 0 {
		return nil
	}
	err := l.line(l.partial)
	l.partial = l.partial[:0]
	return err
}

func (l *Lines) line(b []byte) error {
	if l.min != AllLevels || l.paint != nil {
		if _, lvl, ok := parseRecord(b); ok {
			l.cur, l.known = lvl, true
		}
		if l.known && !passes(l.cur, l.min) {
			return nil
		}
		if l.paint != nil && l.known {
			b = l.paint(l.cur, b)
		}
	}
	_, err := l.w.Write(b)
	return err
}

// passes reports whether a record at lvl is at min or above; one without
// a level always is.
func passes(lvl, min slog.Level) bool { return lvl == AllLevels || lvl >= min }

// parseRecord reads the time and level at the start of a line slog's text
// handler wrote: `time=… level=… msg=…`. ok is false for any other line.
// A record without a level is at every level.
func parseRecord(b []byte) (time.Time, slog.Level, bool) {
	rest, ok := bytes.CutPrefix(b, []byte("time="))
	if !ok {
		return time.Time{}, 0, false
	}
	end := bytes.IndexByte(rest, ' ')
	if end < 0 {
		end = len(bytes.TrimRight(rest, "\n"))
	}
	t, err := time.Parse(time.RFC3339Nano, string(rest[:end]))
	if err != nil {
		return time.Time{}, 0, false
	}
	lvl := AllLevels
	if v, ok := bytes.CutPrefix(rest[end:], []byte(" level=")); ok {
		if e := bytes.IndexAny(v, " \n"); e >= 0 {
			v = v[:e]
		}
		if parsed, ok := ParseLevel(string(v)); ok {
			lvl = parsed
		}
	}
	return t, lvl, true
}

// ParseLevel reads a level as slog writes it (DEBUG, INFO, WARN, ERROR,
// with an offset such as INFO+2), in any case.
func ParseLevel(s string) (slog.Level, bool) {
	name, off := s, 0
	if i := strings.IndexAny(s, "+-"); i > 0 {
		n, err := strconv.Atoi(s[i:])
		if err != nil {
			return 0, false
		}
		name, off = s[:i], n
	}
	var l slog.Level
	switch strings.ToUpper(name) {
	case "DEBUG":
		l = slog.LevelDebug
	case "INFO":
		l = slog.LevelInfo
	case "WARN", "WARNING":
		l = slog.LevelWarn
	case "ERROR":
		l = slog.LevelError
	default:
		return 0, false
	}
	return l + slog.Level(off), true
}

// Select writes the selected lines of the log at path, in the rotated
// files and the current one, to l, and returns where it stopped in the
// current file: Follow goes on from there. The partial line the daemon
// may be writing at the end is kept in l (Follow's first line completes
// it; l.Flush writes it as it is).
//
// The first and last records in the times asked for are found by binary
// search on byte offsets (records are in time order), never by reading the
// files through; the last Lines lines by reading backwards from the end of
// the selection, with a level back until that many pass (through the whole
// selection when fewer do).
func Select(l *Lines, path string, sel Selection) (Mark, error) {
	set, mark, err := openLog(path)
	if err != nil {
		return Mark{}, err
	}
	defer set.close()
	start, end := pos{}, set.end()
	if !sel.Until.IsZero() {
		end = set.search(func(t time.Time) bool { return t.After(sel.Until) })
	}
	if !sel.Since.IsZero() {
		start = set.search(func(t time.Time) bool { return !t.Before(sel.Since) })
	}
	if end.before(start) {
		return mark, nil
	}
	if sel.Lines >= 0 {
		from, lvl, known := set.lastLines(start, end, sel.Lines, l.min)
		start = from
		if known {
			l.cur, l.known = lvl, true
		}
	}
	if end == set.end() && (l.min != AllLevels || l.paint != nil) {
		// Follow's first lines may belong to the last record: give l its
		// level whatever was written.
		defer func() {
			if lvl, ok := set.lastLevel(end); ok && !l.known {
				l.cur, l.known = lvl, true
			}
		}()
	}
	return mark, set.copy(l, start, end)
}

// Tail writes the last n lines of the log at path to w, reaching back into
// the rotated files when the current one holds fewer, and returns where it
// stopped. It reads backwards from the end, so its cost depends on n and
// the length of the lines, not on the size of the files.
func Tail(w io.Writer, path string, n int) (Mark, error) {
	l := NewLines(w, AllLevels, nil)
	m, err := Select(l, path, Selection{Lines: n})
	if err != nil {
		return Mark{}, err
	}
	return m, l.Flush()
}

// logSet is the files of the log, oldest first, the current one last,
// each opened when first read.
type logSet struct {
	parts []*logPart
}

type logPart struct {
	path string
	f    *os.File // nil until opened
	size int64
	gone bool // removed meanwhile (log_max_files): empty
}

// A pos is a place in the log: a file of it and an offset in that file.
type pos struct {
	part int
	off  int64
}

func (p pos) before(q pos) bool { return p.part < q.part || p.part == q.part && p.off < q.off }

// openLog opens the current file of the log at path and finds the rotated
// files older than it.
func openLog(path string) (*logSet, Mark, error) {
	f, fi, err := openRead(path)
	if err != nil {
		return nil, Mark{}, err
	}
	rotated, err := config.RotatedLogs(path)
	if err != nil {
		f.Close()
		return nil, Mark{}, err
	}
	// Rotated files before the current one: all, unless it was itself
	// rotated since it was opened.
	older, base := rotated, int64(0)
	if len(rotated) > 0 {
		base = rotated[len(rotated)-1].N
	}
	if !same(path, fi) {
		for i := len(rotated) - 1; i >= 0; i-- {
			if same(rotated[i].Path, fi) {
				older, base = rotated[:i], rotated[i].N
				break
			}
		}
	}
	s := &logSet{}
	for _, r := range older {
		s.parts = append(s.parts, &logPart{path: r.Path})
	}
	s.parts = append(s.parts, &logPart{path: path, f: f, size: fi.Size()})
	return s, Mark{file: fi, offset: fi.Size(), base: base}, nil
}

func (s *logSet) close() {
	for _, p := range s.parts {
		if p.f != nil {
			p.f.Close()
		}
	}
}

// end is the place after the last byte of the current file.
func (s *logSet) end() pos {
	last := len(s.parts) - 1
	return pos{last, s.parts[last].size}
}

// part opens the i-th file when it is not yet.
func (s *logSet) part(i int) *logPart {
	p := s.parts[i]
	if p.f == nil && !p.gone {
		f, fi, err := openRead(p.path)
		if err != nil {
			p.gone = true
		} else {
			p.f, p.size = f, fi.Size()
		}
	}
	return p
}

// probe is how much a search reads at a time.
const probe = 4 << 10

// firstRecord finds the first line with a time that starts at or after
// from and before limit in the i-th file: its offset and time, or limit
// when there is none.
func (s *logSet) firstRecord(i int, from, limit int64) (int64, time.Time) {
	p := s.part(i)
	if p.gone {
		return limit, time.Time{}
	}
	buf := make([]byte, probe)
	// A line starts at 0 or after a newline: look from the byte before.
	at, lineStart := from, from == 0
	if !lineStart {
		at--
	}
	for at < limit {
		n, err := p.f.ReadAt(buf[:min(int64(len(buf)), p.size-at)], at)
		if n == 0 {
			return limit, time.Time{}
		}
		b := buf[:n]
		for len(b) > 0 {
			if !lineStart {
				i := bytes.IndexByte(b, '\n')
				if i < 0 {
					at += int64(len(b))
					b = nil
					break
				}
				at += int64(i + 1)
				b = b[i+1:]
				lineStart = true
				continue
			}
			if at >= limit {
				return limit, time.Time{}
			}
			// The time is within the line's first bytes: make sure they
			// are in b.
			if len(b) < 64 && at+int64(len(b)) < p.size {
				break
			}
			if t, _, ok := parseRecord(b[:min(len(b), 64)]); ok {
				return at, t
			}
			lineStart = false
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return limit, time.Time{}
		}
	}
	return limit, time.Time{}
}

// search finds the first line whose record's time satisfies ok, which
// holds of a time and of every later one: the end when there is none, the
// start when every record satisfies it.
func (s *logSet) search(ok func(time.Time) bool) pos {
	found := s.end()
	for i := len(s.parts) - 1; i >= 0; i-- {
		p := s.part(i)
		first, t := s.firstRecord(i, 0, p.size)
		if first == p.size {
			continue // no record here: a file of crash output alone
		}
		if ok(t) {
			found = pos{i, first}
			continue
		}
		// Binary search, on offsets, between a record before the one
		// sought (lo) and the first known to be it (ans).
		lo, hi, ans := first+1, p.size, p.size
		for lo < hi {
			mid := lo + (hi-lo)/2
			at, t := s.firstRecord(i, mid, ans)
			switch {
			case at == ans: // no record in [mid, ans)
				hi = mid
			case ok(t):
				ans, hi = at, mid
			default:
				lo = at + 1
			}
		}
		if ans < p.size {
			return pos{i, ans}
		}
		return found
	}
	return pos{}
}

// lastLines finds where the last n lines between start and end that are at
// min or above begin, and the level of the record the first of them
// belongs to.
func (s *logSet) lastLines(start, end pos, n int, min slog.Level) (pos, slog.Level, bool) {
	if n == 0 {
		return end, 0, false
	}
	count := 0
	var pending []pos // lines without a time, since the last record seen, latest first
	from, lvl, known := start, slog.Level(0), false
	s.backward(start, end, func(at pos, head []byte) bool {
		if min == AllLevels {
			count++
			if count == n {
				from = at
				return false
			}
			return true
		}
		_, l, ok := parseRecord(head)
		if !ok {
			pending = append(pending, at)
			return true
		}
		defer func() { pending = pending[:0] }()
		if !passes(l, min) {
			return true
		}
		group := 1 + len(pending)
		if need := n - count; group >= need {
			from, lvl, known = at, l, true
			if k := group - need; k > 0 {
				from = pending[len(pending)-k]
			}
			return false
		}
		count += group
		return true
	})
	return from, lvl, known
}

// backward calls line with the start of each line between start and end,
// the last first, and the line's first bytes, until it returns false.
func (s *logSet) backward(start, end pos, line func(at pos, head []byte) bool) {
	const head = 128
	buf := make([]byte, tailBlock+head)
	for i := end.part; i >= start.part; i-- {
		p := s.part(i)
		if p.gone {
			continue
		}
		lo, hi := int64(0), p.size
		if i == start.part {
			lo = start.off
		}
		if i == end.part {
			hi = end.off
		}
		for at := hi; at > lo; {
			k := min(int64(tailBlock), at-lo)
			at -= k
			n, err := p.f.ReadAt(buf[:min(k+head, p.size-at)], at)
			if err != nil && !errors.Is(err, io.EOF) {
				return
			}
			b := buf[:n]
			for j := bytes.LastIndexByte(b[:k], '\n'); j >= 0; j = bytes.LastIndexByte(b[:j], '\n') {
				if at+int64(j)+1 >= hi {
					continue // the newline that ends the last line
				}
				if !line(pos{i, at + int64(j) + 1}, b[j+1:]) {
					return
				}
			}
			if at == lo && lo < hi && !line(pos{i, lo}, b) {
				return
			}
		}
	}
}

// lastLevel is the level of the last record before end.
func (s *logSet) lastLevel(end pos) (slog.Level, bool) {
	var lvl slog.Level
	found := false
	s.backward(pos{}, end, func(_ pos, head []byte) bool {
		_, lvl, found = parseRecord(head)
		return !found
	})
	return lvl, found
}

// copy writes the log from start to end to l, ending each file but the
// current one with its last line.
func (s *logSet) copy(l *Lines, start, end pos) error {
	for i := start.part; i <= end.part; i++ {
		p := s.part(i)
		if p.gone {
			continue
		}
		lo, hi := int64(0), p.size
		if i == start.part {
			lo = start.off
		}
		if i == end.part {
			hi = end.off
		}
		if _, err := io.Copy(l, io.NewSectionReader(p.f, lo, hi-lo)); err != nil {
			return err
		}
		if i < len(s.parts)-1 || hi < p.size {
			if err := l.endFile(); err != nil {
				return err
			}
		}
	}
	return nil
}
