package main

import (
	"testing"
	"time"

	_ "github.com/anthropics/cco/internal/golden" // its -update flag: `go test ./... -update` works from the root
)

func TestSummarise(t *testing.T) {
	s := summarise([]time.Duration{5, 1, 4, 2, 3, 9, 8, 7, 6, 10, 11})
	if s.med != 6 || s.p10 != 2 || s.p90 != 10 || s.n != 11 {
		t.Fatalf("summarise = %+v", s)
	}
}
