package lifecycle

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/anthropics/cco/daemon"
	"github.com/anthropics/cco/internal/tooltest"
)

// record is one line the test wrote, with the time and level of the
// record it belongs to.
type record struct {
	line  string
	t     time.Time
	level slog.Level
	timed bool
}

var t0 = time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)

// writeLog writes n records a second apart through the daemon's own log
// writer, rotating every few hundred bytes: levels cycle, every seventh
// record is followed by three lines of crash output without a time, and
// some records share a second. It returns every line as written.
func writeLog(t testing.TB, path string, n int) []record {
	log, err := daemon.OpenLog(path, 700, 10000, false)
	if err != nil {
		t.Fatal(err)
	}
	defer log.Close()
	levels := []slog.Level{slog.LevelDebug, slog.LevelInfo, slog.LevelWarn, slog.LevelInfo, slog.LevelError, slog.LevelInfo + 2}
	var all []record
	for i := range n {
		at := t0.Add(time.Duration(i/2*2) * time.Second).In(time.FixedZone("", 3600)) // pairs share a second
		lvl := levels[i%len(levels)]
		var b bytes.Buffer
		slog.New(slog.NewTextHandler(&b, &slog.HandlerOptions{Level: slog.LevelDebug, ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				a.Value = slog.TimeValue(at)
			}
			return a
		}})).Log(context.Background(), lvl, "request", "seq", i)
		all = append(all, record{line: b.String(), t: at, level: lvl, timed: true})
		if i%7 == 3 {
			b.WriteString("panic: boom\n\ngoroutine 1 [running]:\n")
			for _, l := range []string{"panic: boom\n", "\n", "goroutine 1 [running]:\n"} {
				all = append(all, record{line: l, t: at, level: lvl})
			}
		}
		if _, err := log.Write(b.Bytes()); err != nil {
			t.Fatal(err)
		}
	}
	return all
}

// want is the selection done the obvious way, line by line.
func want(all []record, sel Selection, min slog.Level) string {
	var got []string
	for _, r := range all {
		if !sel.Since.IsZero() && r.t.Before(sel.Since) || !sel.Until.IsZero() && r.t.After(sel.Until) || r.level < min {
			continue
		}
		got = append(got, r.line)
	}
	if sel.Lines >= 0 && len(got) > sel.Lines {
		got = got[len(got)-sel.Lines:]
	}
	return strings.Join(got, "")
}

func TestSelect(t *testing.T) {
	path := filepath.Join(t.TempDir(), "daemon.log")
	all := writeLog(t, path, 300)
	if rotated, _ := filepath.Glob(path + ".*"); len(rotated) < 20 {
		t.Fatalf("want the log in many files, got %d rotated", len(rotated))
	}
	sec := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	var sels []Selection
	for _, since := range []time.Time{{}, sec(-5), sec(0), sec(1), sec(7), sec(8), sec(301), sec(598), sec(1000)} {
		for _, until := range []time.Time{{}, sec(-1), sec(0), sec(9), sec(250), sec(598), sec(2000)} {
			for _, n := range []int{-1, 0, 1, 2, 5, 50, 1000} {
				sels = append(sels, Selection{Since: since, Until: until, Lines: n})
			}
		}
	}
	for _, min := range []slog.Level{AllLevels, slog.LevelDebug, slog.LevelInfo, slog.LevelWarn, slog.LevelError} {
		for _, sel := range sels {
			var out bytes.Buffer
			l := NewLines(&out, min, nil)
			if _, err := Select(l, path, sel); err != nil {
				t.Fatal(err)
			}
			if err := l.Flush(); err != nil {
				t.Fatal(err)
			}
			if w := want(all, sel, min); out.String() != w {
				t.Fatalf("level %v since %v until %v n %d:\n%s\nwant:\n%s", min, sel.Since, sel.Until, sel.Lines, out.String(), w)
			}
		}
	}
}

// TestSelectEdges: a log that starts with lines without a time, a last line
// being written, records without a level, and lines that are not slog's.
func TestSelectEdges(t *testing.T) {
	const log = "early crash\n" +
		"time=2026-11-25T10:00:00Z level=INFO msg=a\n" +
		"time=2026-11-25T10:00:01Z msg=nolevel\n" +
		"time=bad level=ERROR msg=x\n" +
		"time=2026-11-25T11:00:02.5+01:00 level=warn msg=b\n" +
		"time=2026-11-25T10:00:03Z level=ERROR msg=c\n" +
		"time=2026-11-25T10:00:04Z level=INFO msg=partial"
	path := filepath.Join(t.TempDir(), "daemon.log")
	if err := os.WriteFile(path, []byte(log), 0o600); err != nil {
		t.Fatal(err)
	}
	at := func(s string) time.Time { v, _ := time.Parse(time.RFC3339, s); return v }
	for _, tc := range []struct {
		min  slog.Level
		sel  Selection
		want string
	}{
		{AllLevels, Selection{Lines: 2}, "time=2026-11-25T10:00:03Z level=ERROR msg=c\ntime=2026-11-25T10:00:04Z level=INFO msg=partial"},
		{slog.LevelError, Selection{Lines: -1}, "early crash\ntime=2026-11-25T10:00:01Z msg=nolevel\ntime=bad level=ERROR msg=x\ntime=2026-11-25T10:00:03Z level=ERROR msg=c\n"},
		{slog.LevelWarn, Selection{Lines: 1}, "time=2026-11-25T10:00:03Z level=ERROR msg=c\n"},
		{AllLevels, Selection{Lines: -1, Since: at("2026-11-25T10:00:04Z")}, "time=2026-11-25T10:00:04Z level=INFO msg=partial"},
		{AllLevels, Selection{Lines: -1, Until: at("2026-11-25T09:59:59Z")}, ""},
		{AllLevels, Selection{Lines: -1, Since: at("2026-11-25T10:00:01Z"), Until: at("2026-11-25T10:00:01Z")}, "time=2026-11-25T10:00:01Z msg=nolevel\ntime=bad level=ERROR msg=x\n"},
		{slog.LevelWarn, Selection{Lines: -1, Since: at("2026-11-25T10:00:02Z"), Until: at("2026-11-25T10:00:03Z")}, "time=2026-11-25T11:00:02.5+01:00 level=warn msg=b\ntime=2026-11-25T10:00:03Z level=ERROR msg=c\n"},
	} {
		var out bytes.Buffer
		l := NewLines(&out, tc.min, nil)
		if _, err := Select(l, path, tc.sel); err != nil {
			t.Fatal(err)
		}
		l.Flush()
		if out.String() != tc.want {
			t.Errorf("level %v %+v:\n%q\nwant\n%q", tc.min, tc.sel, out.String(), tc.want)
		}
	}
}

// TestLinesPaint: each line is painted with its record's level, a crash
// dump's lines with the record before them.
func TestLinesPaint(t *testing.T) {
	var out bytes.Buffer
	l := NewLines(&out, AllLevels, func(lvl slog.Level, b []byte) []byte {
		return append([]byte(lvl.String()+"|"), b...)
	})
	l.Write([]byte("before\ntime=2026-11-25T10:00:00Z level=ERROR msg=a\npan"))
	l.Write([]byte("ic\ntime=2026-11-25T10:00:00Z level=WARN msg=b\n"))
	want := "before\nERROR|time=2026-11-25T10:00:00Z level=ERROR msg=a\nERROR|panic\nWARN|time=2026-11-25T10:00:00Z level=WARN msg=b\n"
	if out.String() != want {
		t.Errorf("got\n%s\nwant\n%s", out.String(), want)
	}
}

// bigLog writes a log of about size bytes, one record every 10ms from t0,
// and returns the time of its last record.
func bigLog(t testing.TB, path string, size int64) time.Time {
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	var n int64
	at := t0
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; n < size; i++ {
		at = t0.Add(time.Duration(i) * 10 * time.Millisecond)
		k, _ := fmt.Fprintf(w, "time=%s level=%s msg=request seq=%d pad=%s\n", at.Format("2006-01-02T15:04:05.000Z07:00"),
			[]string{"DEBUG", "INFO", "WARN"}[r.IntN(3)], i, strings.Repeat("x", r.IntN(100)))
		n += int64(k)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	return at
}

// readBytes is how many bytes this process has read so far (Linux).
func readBytes(t testing.TB) int64 {
	data, err := os.ReadFile("/proc/self/io")
	if err != nil {
		tooltest.Missing(t, "no /proc/self/io: %v", err)
	}
	for _, l := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(l, "rchar: "); ok {
			n, _ := strconv.ParseInt(v, 10, 64)
			return n
		}
	}
	t.Fatal("no rchar in /proc/self/io")
	return 0
}

// TestSelectReadsLittle: --since and --until on a 64 MiB log read a few
// blocks, not the file.
func TestSelectReadsLittle(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("counts reads in /proc/self/io")
	}
	path := filepath.Join(t.TempDir(), "daemon.log")
	last := bigLog(t, path, 64<<20)
	mid := t0.Add(last.Sub(t0) / 2)
	var out bytes.Buffer
	l := NewLines(&out, slog.LevelWarn, nil)
	before := readBytes(t)
	if _, err := Select(l, path, Selection{Since: mid, Until: mid.Add(time.Second), Lines: -1}); err != nil {
		t.Fatal(err)
	}
	read := readBytes(t) - before
	if n := strings.Count(out.String(), "\n"); n < 10 || n > 100 {
		t.Errorf("selected %d lines of one second, want about a third of 100", n)
	}
	if read > 1<<20 {
		t.Errorf("read %d bytes to select one second of a 64 MiB log", read)
	}
}

// BenchmarkSelectSince1GB: --since 1 minute back and --level warn on a
// 1 GiB log (LOGSEL_SIZE bytes when set); read-B/op is what it reads.
func BenchmarkSelectSince1GB(b *testing.B) {
	size := int64(1 << 30)
	if s := os.Getenv("LOGSEL_SIZE"); s != "" {
		size, _ = strconv.ParseInt(s, 10, 64)
	}
	path := filepath.Join(b.TempDir(), "daemon.log")
	last := bigLog(b, path, size)
	var read int64
	b.ResetTimer()
	for b.Loop() {
		before := readBytes(b)
		l := NewLines(discard{}, slog.LevelWarn, nil)
		if _, err := Select(l, path, Selection{Since: last.Add(-time.Minute), Lines: -1}); err != nil {
			b.Fatal(err)
		}
		read += readBytes(b) - before
	}
	b.ReportMetric(float64(read)/float64(b.N), "read-B/op")
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

// TestSelectDumpAfterRotation: crash output at the start of a file belongs
// to the last record of the file before it.
func TestSelectDumpAfterRotation(t *testing.T) {
	path := filepath.Join(t.TempDir(), "daemon.log")
	files := map[string]string{
		path + ".1": "time=2026-11-25T10:00:00Z level=ERROR msg=old\n",
		path:        "crash of old\ntime=2026-11-25T10:00:05Z level=INFO msg=new\n",
	}
	for p, content := range files {
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		since string
		min   slog.Level
		want  string
	}{
		{"2026-11-25T10:00:03Z", AllLevels, "time=2026-11-25T10:00:05Z level=INFO msg=new\n"},
		{"2026-11-25T10:00:00Z", AllLevels, files[path+".1"] + files[path]},
		{"2026-11-25T10:00:00Z", slog.LevelError, files[path+".1"] + "crash of old\n"},
	} {
		since, _ := time.Parse(time.RFC3339, tc.since)
		var out bytes.Buffer
		if _, err := Select(NewLines(&out, tc.min, nil), path, Selection{Since: since, Lines: -1}); err != nil {
			t.Fatal(err)
		}
		if out.String() != tc.want {
			t.Errorf("since %s level %v:\n%q\nwant\n%q", tc.since, tc.min, out.String(), tc.want)
		}
	}
}
