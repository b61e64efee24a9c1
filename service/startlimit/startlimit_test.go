package startlimit

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	_ "github.com/anthropics/cco/internal/golden" // its -update flag: `go test ./... -update` works from the root
)

func TestLimit(t *testing.T) {
	path := filepath.Join(t.TempDir(), "failed-starts")
	l := Limit{Burst: 3, Interval: time.Minute}
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	check := func(now time.Time, wantN int, wantOver bool) {
		t.Helper()
		n, over, err := Check(path, now, l)
		if err != nil {
			t.Fatal(err)
		}
		if n != wantN || over != wantOver {
			t.Errorf("at %v: %d failures, over %v; want %d, %v", now.Sub(t0), n, over, wantN, wantOver)
		}
	}
	check(t0, 0, false)
	for i := range 3 {
		if err := Failed(path, t0.Add(time.Duration(i)*10*time.Second)); err != nil {
			t.Fatal(err)
		}
	}
	check(t0.Add(25*time.Second), 3, true)
	// The first failure leaves the window.
	check(t0.Add(65*time.Second), 2, false)
	// A line that is not a time is skipped, not fatal.
	f, _ := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	f.WriteString("garbage\n")
	f.Close()
	check(t0.Add(25*time.Second), 3, true)
	if err := Reset(path); err != nil {
		t.Fatal(err)
	}
	check(t0.Add(25*time.Second), 0, false)
	if err := Reset(path); err != nil {
		t.Errorf("reset of no record: %v", err)
	}
	Failed(path, t0)
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("record: %v, %v; want mode 0600", fi, err)
	}
}
