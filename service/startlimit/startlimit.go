// Package startlimit is the daemon's own start limit, for a service manager
// that has none: launchd starts a daemon that exits with an error again
// every ThrottleInterval, forever. The daemon records each failed start in
// a file (config.Paths.FailedStarts); once too many fall within the interval it gives up, by exiting
// cleanly (KeepAlive SuccessfulExit=false then keeps it down), until a
// user's own start forgets the record.
package startlimit

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"

	"github.com/anthropics/cco/homefile"
)

// Limit is Burst failed starts within Interval.
type Limit struct {
	Burst    int
	Interval time.Duration
}

// Default is the systemd unit's StartLimitBurst=5 within
// StartLimitIntervalSec=300, so both platforms give up alike.
var Default = Limit{Burst: 5, Interval: 300 * time.Second}

// Check reads the record at path and returns how many failed starts fall
// within l.Interval before now, and whether that reaches l.Burst. A
// missing record is none; an unreadable line is skipped.
func Check(path string, now time.Time, l Limit) (int, bool, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("reading the start record: %w", err)
	}
	n := 0
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		t, err := time.Parse(time.RFC3339Nano, sc.Text())
		if err != nil {
			continue
		}
		if age := now.Sub(t); age >= 0 && age < l.Interval {
			n++
		}
	}
	return n, n >= l.Burst, nil
}

// Failed adds a failed start at now to the record.
func Failed(path string, now time.Time) error {
	// Like every file of CCO_HOME: never through a link, made 0600.
	f, err := homefile.Open(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE)
	if err != nil {
		return fmt.Errorf("recording a failed start: %w", err)
	}
	_, err = f.WriteString(now.UTC().Format(time.RFC3339Nano) + "\n")
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("recording a failed start: %w", err)
	}
	return nil
}

// Reset forgets every failed start: a user asked for a start.
func Reset(path string) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("clearing the start record: %w", err)
	}
	return nil
}
