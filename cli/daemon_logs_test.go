package cli

import (
	"testing"
	"time"
)

func TestParseWhen(t *testing.T) {
	zone := time.FixedZone("CET", 3600)
	now := time.Date(2026, 11, 25, 12, 30, 0, 0, zone)
	at := func(d, h, m, s int) time.Time { return time.Date(2026, 11, d, h, m, s, 0, zone) }
	for _, tc := range []struct {
		in   string
		want time.Time
	}{
		{"1h", at(25, 11, 30, 0)},
		{"-30m", at(25, 12, 0, 0)},
		{"90s", at(25, 12, 28, 30)},
		{"2d", at(23, 12, 30, 0)},
		{"1d12h", at(24, 0, 30, 0)},
		{"now", now},
		{"today", at(25, 0, 0, 0)},
		{"Yesterday", at(24, 0, 0, 0)},
		{"2026-11-20", at(20, 0, 0, 0)},
		{"2026-11-20 10:00", at(20, 10, 0, 0)},
		{"2026-11-20 10:00:05", at(20, 10, 0, 5)},
		{"2026-11-20T10:00", at(20, 10, 0, 0)},
		{"2026-11-20T09:00:05Z", at(20, 10, 0, 5)},
		{"2026-11-20T11:00:05.5+02:00", at(20, 10, 0, 5).Add(500 * time.Millisecond)},
	} {
		got, err := parseWhen(tc.in, now)
		if err != nil || !got.Equal(tc.want) {
			t.Errorf("parseWhen(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{"", "d", "3x", "1.5d", "-1h-", "2026-13-01", "10:00", "1000000d", "1h-2h", "d1h"} {
		if got, err := parseWhen(bad, now); err == nil {
			t.Errorf("parseWhen(%q) = %v; want an error", bad, got)
		}
	}
}
