package lifecycle

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/anthropics/cco/internal/testhost"
)

func TestTail(t *testing.T) {
	long := strings.Repeat("x", 3*tailBlock) // lines longer than a block
	for _, tc := range []struct {
		content string
		n       int
		want    string
	}{
		{"", 5, ""},
		{"a\nb\nc\n", 0, ""},
		{"a\nb\nc\n", 2, "b\nc\n"},
		{"a\nb\nc\n", 3, "a\nb\nc\n"},
		{"a\nb\nc\n", 10, "a\nb\nc\n"},
		{"a\nb\nc", 2, "b\nc"},
		{"\n\n\n", 2, "\n\n"},
		{"a\n" + long + "\nz\n", 2, long + "\nz\n"},
	} {
		path := filepath.Join(t.TempDir(), "log")
		os.WriteFile(path, []byte(tc.content), 0o600)
		var out bytes.Buffer
		end, err := Tail(&out, path, tc.n)
		if err != nil {
			t.Fatal(err)
		}
		if out.String() != tc.want || end.offset != int64(len(tc.content)) {
			t.Errorf("Tail(%.20q, %d) = %.20q, %d; want %.20q, %d", tc.content, tc.n, out.String(), end, tc.want, len(tc.content))
		}
	}
}

// syncBuffer is a bytes.Buffer safe for one writer and one reader.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestFollowRotationAndTruncation follows a log while it is appended to,
// rotated by rename (with lines written to the old file just before), and
// truncated, and sees each line once.
func TestFollowRotationAndTruncation(t *testing.T) {
	path := filepath.Join(t.TempDir(), "daemon.log")
	appendTo := func(name string, lines ...string) {
		f, err := os.OpenFile(name, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range lines {
			fmt.Fprintln(f, l)
		}
		f.Close()
	}
	appendTo(path, "old")
	out, stop := followFrom(t, path)
	defer stop()
	has := func(s string) func() bool { return func() bool { return strings.Contains(out.String(), s) } }

	appendTo(path, "one", "two")
	testhost.Eventually(t, "two", has("two\n"))
	os.Rename(path, path+".1")
	appendTo(path+".1", "three") // written by the daemon just before it reopened
	appendTo(path, "four")
	testhost.Eventually(t, "four", has("four\n"))
	appendTo(path, "five")
	testhost.Eventually(t, "five", has("five\n"))
	// Two rotations in a row: path.3 may be a whole file the follower
	// never had open.
	os.Rename(path, path+".2")
	appendTo(path, "five-b")
	os.Rename(path, path+".3")
	appendTo(path, "five-c")
	testhost.Eventually(t, "five-c", has("five-c\n"))
	os.Truncate(path, 0)
	appendTo(path, "six")
	testhost.Eventually(t, "six", has("six\n"))
	if got, want := out.String(), "one\ntwo\nthree\nfour\nfive\nfive-b\nfive-c\nsix\n"; got != want {
		t.Errorf("followed %q, want %q", got, want)
	}
}
