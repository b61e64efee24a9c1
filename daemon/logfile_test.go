package daemon

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
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

// TestLogRotationKeepsMaxFiles checks the numbering (.1 newest) and that
// no more than log_max_files old files stay.
func TestLogRotationKeepsMaxFiles(t *testing.T) {
	path := filepath.Join(t.TempDir(), "daemon.log")
	l, err := OpenLog(path, 1024, 3, false)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	line := fmt.Sprintf("%01000d\n", 0)
	for i := range 10 {
		fmt.Fprintf(l, "%d%s", i, line[1:])
	}
	for i, want := range map[string]byte{path: '9', path + ".1": '8', path + ".3": '6'} {
		data, err := os.ReadFile(i)
		if err != nil || len(data) == 0 || data[0] != want {
			t.Errorf("%s starts with %q (%v), want %q", i, data[:min(1, len(data))], err, want)
		}
	}
	if _, err := os.Stat(path + ".4"); !os.IsNotExist(err) {
		t.Errorf("%s.4 exists: want at most 3 old files", path)
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
