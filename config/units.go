package config

import (
	"errors"
	"math"
	"strconv"
	"strings"
	"time"
)

// sizeUnits are the suffixes a size may carry, in lower case: SI (powers of
// 1000) and IEC (powers of 1024), as people write them: 10MiB, 1G, 512KiB.
var sizeUnits = map[string]float64{
	"": 1, "b": 1,
	"k": 1e3, "kb": 1e3, "kib": 1 << 10, "ki": 1 << 10,
	"m": 1e6, "mb": 1e6, "mib": 1 << 20, "mi": 1 << 20,
	"g": 1e9, "gb": 1e9, "gib": 1 << 30, "gi": 1 << 30,
	"t": 1e12, "tb": 1e12, "tib": 1 << 40, "ti": 1 << 40,
}

var errNotSize = errors.New("not a size (write bytes, or a number with B, KB, MB, GB, TB or KiB, MiB, GiB, TiB, such as 10MiB)")

// ParseSize reads a size in bytes: a whole number, or a number (with a
// fraction if need be) and a unit — B, K/KB/M/MB/G/GB/T/TB (powers of 1000)
// or KiB/MiB/GiB/TiB (powers of 1024), in any case, with or without a space.
func ParseSize(text string) (int64, error) {
	s := strings.ReplaceAll(strings.TrimSpace(text), "_", "")
	i := len(s)
	for i > 0 && !(s[i-1] >= '0' && s[i-1] <= '9' || s[i-1] == '.') {
		i--
	}
	num, unit := strings.TrimSpace(s[:i]), strings.ToLower(strings.TrimSpace(s[i:]))
	mult, ok := sizeUnits[unit]
	if !ok || num == "" {
		return 0, errNotSize
	}
	if n, err := strconv.ParseInt(num, 10, 64); err == nil && n <= math.MaxInt64/int64(mult) {
		return n * int64(mult), nil
	}
	f, err := strconv.ParseFloat(num, 64)
	if err != nil || f*mult >= math.MaxInt64 {
		return 0, errNotSize
	}
	if b := f * mult; b != math.Trunc(b) {
		return 0, errors.New("not a whole number of bytes")
	}
	return int64(f * mult), nil
}

// ParseSeconds reads a duration in whole seconds: bare seconds (90) or a
// Go duration (90s, 10m, 1h30m).
func ParseSeconds(text string) (int64, error) {
	s := strings.ReplaceAll(strings.TrimSpace(text), "_", "")
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return n, nil
	}
	d, err := time.ParseDuration(strings.ToLower(s))
	if err != nil {
		return 0, errors.New("not a duration (write seconds, or a duration such as 90s, 10m or 1h)")
	}
	if d%time.Second != 0 {
		return 0, errors.New("not a whole number of seconds")
	}
	return int64(d / time.Second), nil
}

// FormatSize shows a number of bytes the shortest exact way: 10 MiB,
// 1 GiB, 1500 B.
func FormatSize(n int64) string {
	for _, u := range []struct {
		name string
		size int64
	}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if n != 0 && n%u.size == 0 {
			return strconv.FormatInt(n/u.size, 10) + " " + u.name
		}
	}
	return strconv.FormatInt(n, 10) + " B"
}

// FormatSeconds shows a number of seconds the shortest exact way, as a Go
// duration would parse it: 30s, 10m, 720h.
func FormatSeconds(n int64) string {
	switch {
	case n != 0 && n%3600 == 0:
		return strconv.FormatInt(n/3600, 10) + "h"
	case n != 0 && n%60 == 0:
		return strconv.FormatInt(n/60, 10) + "m"
	}
	return strconv.FormatInt(n, 10) + "s"
}

// parseBool reads a boolean the ways people write one, in any case: true,
// false, yes, no, on, off, 1, 0.
func parseBool(text string) (bool, bool) {
	switch strings.ToLower(strings.TrimSpace(text)) {
	case "true", "yes", "on", "1", "t", "y":
		return true, true
	case "false", "no", "off", "0", "f", "n":
		return false, true
	}
	return false, false
}
