package daemon

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/anthropics/cco/internal/tooltest"
)

// TestLogRotationConcurrentWriters logs from many goroutines into a log that
// rotates every few lines, and finds every line exactly once, whole, in
// daemon.log and its rotated files.
func TestLogRotationConcurrentWriters(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "daemon.log")
	const writers, lines, maxFiles = 8, 500, 1000
	l, err := OpenLog(path, 1024, maxFiles, false)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range lines {
				if _, err := fmt.Fprintf(l, "writer=%d line=%04d padding=%s\n", w, i, "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	files, _ := filepath.Glob(path + "*")
	if len(files) < 10 || len(files) > maxFiles+1 {
		t.Fatalf("%d log files: want many rotations, at most %d", len(files), maxFiles+1)
	}
	for _, name := range files {
		f, err := os.Open(name)
		if err != nil {
			t.Fatal(err)
		}
		fi, _ := f.Stat()
		if fi.Size() > 1024 {
			t.Errorf("%s: %d bytes, more than the rotation size", name, fi.Size())
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			var w, i int
			var pad string
			if n, err := fmt.Sscanf(sc.Text(), "writer=%d line=%d padding=%s", &w, &i, &pad); n != 3 || err != nil || len(pad) != 32 {
				t.Errorf("%s: torn line %q", name, sc.Text())
			}
			seen[sc.Text()]++
		}
		f.Close()
	}
	for w := range writers {
		for i := range lines {
			k := fmt.Sprintf("writer=%d line=%04d padding=%s", w, i, "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx")
			if seen[k] != 1 {
				t.Errorf("%q seen %d times", k, seen[k])
			}
		}
	}
}

// TestLogRotationKeepsMaxFiles checks the numbering (a higher number is
// newer, numbers go on across a restart) and that no more than
// log_max_files rotated files stay.
func TestLogRotationKeepsMaxFiles(t *testing.T) {
	path := filepath.Join(t.TempDir(), "daemon.log")
	line := fmt.Sprintf("%01000d\n", 0)
	write := func(maxFiles int, from, to int) {
		l, err := OpenLog(path, 1024, maxFiles, false)
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		for i := from; i < to; i++ {
			fmt.Fprintf(l, "%d%s", i%10, line[1:])
		}
		// Each line but the first of this open rotated (1 KiB files).
		if got, want := l.Rotations(), uint64(to-from-1); from > 0 && got != want+1 || from == 0 && got != want {
			t.Errorf("Rotations() = %d after writing lines %d-%d", got, from, to-1)
		}
	}
	want := func(files map[string]byte, gone ...string) {
		t.Helper()
		for name, first := range files {
			data, err := os.ReadFile(name)
			if err != nil || len(data) != len(line) || data[0] != first {
				t.Errorf("%s starts with %q (%d bytes, %v), want %q", name, data[:min(1, len(data))], len(data), err, first)
			}
		}
		for _, name := range gone {
			if _, err := os.Stat(name); !os.IsNotExist(err) {
				t.Errorf("%s exists: want it removed", name)
			}
		}
	}
	write(3, 0, 10) // 9 rotations: daemon.log.1 … .9, of which .7 … .9 stay
	want(map[string]byte{path: '9', path + ".9": '8', path + ".8": '7', path + ".7": '6'}, path+".6", path+".1")
	write(3, 10, 12) // a restart goes on from the newest number
	want(map[string]byte{path: '1', path + ".11": '0', path + ".10": '9', path + ".9": '8'}, path+".8")
	write(1, 12, 14) // a lowered log_max_files removes the surplus at the next rotation
	want(map[string]byte{path: '3', path + ".13": '2'}, path+".12", path+".11", path+".10", path+".9")
	if names, _ := filepath.Glob(path + "*"); len(names) != 2 {
		t.Errorf("files left: %v, want daemon.log and daemon.log.13", names)
	}
}

// TestLogRotationCutShort: a daemon killed between the two steps of a
// rotation leaves daemon.log with a second name, the newest rotated one;
// the next start drops that name, so no line is in two files.
func TestLogRotationCutShort(t *testing.T) {
	path := filepath.Join(t.TempDir(), "daemon.log")
	os.WriteFile(path+".4", []byte("older\n"), 0o600)
	os.WriteFile(path, []byte("current\n"), 0o600)
	if err := os.Link(path, path+".5"); err != nil {
		t.Fatal(err)
	}
	l, err := OpenLog(path, 10, 5, false)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if _, err := os.Stat(path + ".5"); !os.IsNotExist(err) {
		t.Errorf("daemon.log.5, a second name of daemon.log, is still there")
	}
	fmt.Fprintln(l, "after")
	if b, _ := os.ReadFile(path + ".4"); string(b) != "older\n" {
		t.Errorf("daemon.log.4 holds %q: want it untouched", b)
	}
	if b, _ := os.ReadFile(path + ".6"); string(b) != "current\n" {
		t.Errorf("daemon.log.6 holds %q: want the file rotated out", b)
	}
}

// BenchmarkRotation measures one rotation with log_max_files rotated files
// already there: its cost must not grow with their number.
func BenchmarkRotation(b *testing.B) {
	for _, maxFiles := range []int{5, 1000} {
		b.Run(fmt.Sprintf("log_max_files=%d", maxFiles), func(b *testing.B) {
			path := filepath.Join(b.TempDir(), "daemon.log")
			l, err := OpenLog(path, 1024, maxFiles, false)
			if err != nil {
				b.Fatal(err)
			}
			defer l.Close()
			line := []byte(fmt.Sprintf("%01023d\n", 0)) // every write rotates
			for range maxFiles + 1 {
				l.Write(line)
			}
			b.ResetTimer()
			for b.Loop() {
				if _, err := l.Write(line); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestLogPathNeverMissingDuringRotation: a reader (`cco daemon logs`) that
// looks at any moment finds daemon.log, however often it rotates.
func TestLogPathNeverMissingDuringRotation(t *testing.T) {
	path := filepath.Join(t.TempDir(), "daemon.log")
	l, err := OpenLog(path, 1024, 3, false)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 5000 {
			fmt.Fprintf(l, "line=%05d padding=%s\n", i, "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx")
		}
	}()
	for missing := 0; ; {
		select {
		case <-done:
			if missing > 0 {
				t.Fatalf("daemon.log was missing %d times during rotation", missing)
			}
			return
		default:
		}
		if _, err := os.Stat(path); err != nil {
			missing++
		}
	}
}

// TestLogReopenIfGone: a removed log file is written anew.
func TestLogReopenIfGone(t *testing.T) {
	path := filepath.Join(t.TempDir(), "daemon.log")
	l, err := OpenLog(path, 1<<20, 3, false)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if again, err := l.ReopenIfGone(); again || err != nil {
		t.Fatalf("reopened a log that is in place: %v %v", again, err)
	}
	os.Remove(path)
	if again, err := l.ReopenIfGone(); !again || err != nil {
		t.Fatalf("did not reopen a removed log: %v %v", again, err)
	}
	fmt.Fprintln(l, "after")
	if b, _ := os.ReadFile(path); string(b) != "after\n" {
		t.Fatalf("new log holds %q", b)
	}
}

// TestLogFullDisk fills a real tmpfs with the log: every record is in the
// log whole or not at all, whatever the write that found the disk full,
// and once there is room again records land whole after the last good one.
func TestLogFullDisk(t *testing.T) {
	if os.Geteuid() != 0 {
		tooltest.Missing(t, "mounting a small tmpfs needs root")
	}
	for _, rotateAt := range []int64{1 << 20, 4 << 10} {
		t.Run(fmt.Sprintf("rotation_size=%d", rotateAt), func(t *testing.T) {
			dir := t.TempDir()
			if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=64k,mode=0700", "tmpfs", dir).CombinedOutput(); err != nil {
				tooltest.Missing(t, "mount -t tmpfs: %v: %s", err, out)
			}
			defer func() {
				if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
					t.Errorf("umount %s: %v: %s", dir, err, out)
				}
			}()
			filler := filepath.Join(dir, "filler")
			if err := os.WriteFile(filler, make([]byte, 16<<10), 0o600); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(dir, "daemon.log")
			l, err := OpenLog(path, rotateAt, 1000, false)
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			var logged []string
			failures := 0
			record := func(i int) {
				// Lengths vary so that writes end at every offset of a page.
				rec := fmt.Sprintf("seq=%d pad=%s\n", i, strings.Repeat("x", 37*i%301))
				if _, err := l.Write([]byte(rec)); err != nil {
					failures++
					return
				}
				logged = append(logged, strings.TrimSuffix(rec, "\n"))
			}
			i := 0
			for ; failures < 50; i++ {
				record(i)
			}
			if err := os.Remove(filler); err != nil { // room again
				t.Fatal(err)
			}
			for stop := i + 5; i < stop; i++ {
				record(i)
			}
			if failures != 50 {
				t.Errorf("%d writes failed after the disk had room again", failures-50)
			}
			var got []string
			names, _ := filepath.Glob(path + ".*")
			sortByNumber(names)
			for _, name := range append(names, path) {
				got = append(got, readLines(t, name)...)
			}
			if strings.Join(got, "\n") != strings.Join(logged, "\n") {
				t.Errorf("the log holds %d lines, want the %d written whole; first difference:\n%s", len(got), len(logged), firstDiff(got, logged))
			}
		})
	}
}

// readLines reads the lines of the file name.
func readLines(t *testing.T, name string) []string {
	t.Helper()
	data, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	if len(data) > 0 && data[len(data)-1] != '\n' {
		t.Errorf("%s ends in a torn line %q", filepath.Base(name), data[bytes.LastIndexByte(data, '\n')+1:])
	}
	return strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
}

// sortByNumber sorts daemon.log.N names by N.
func sortByNumber(names []string) {
	n := func(name string) int {
		i, _ := strconv.Atoi(name[strings.LastIndexByte(name, '.')+1:])
		return i
	}
	slices.SortFunc(names, func(a, b string) int { return n(a) - n(b) })
}

// firstDiff shows where got and want part.
func firstDiff(got, want []string) string {
	for i := range max(len(got), len(want)) {
		var g, w string
		if i < len(got) {
			g = got[i]
		}
		if i < len(want) {
			w = want[i]
		}
		if g != w {
			return fmt.Sprintf("line %d: got %.80q, want %.80q", i+1, g, w)
		}
	}
	return ""
}
