package main

import (
	"io"
	"os"
	"testing"
	"time"

	"github.com/anthropics/cco/cli"
)

// BenchmarkCompletionBash is the in-process cost of one Tab press:
// `cco --completion-bash daemon` (kingpin prints candidates on os.Stdout).
func BenchmarkCompletionBash(b *testing.B) {
	devnull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		b.Fatal(err)
	}
	defer devnull.Close()
	saved := os.Stdout
	os.Stdout = devnull
	defer func() { os.Stdout = saved }()
	env := &cli.Env{Stdout: io.Discard, Stderr: io.Discard, Getenv: func(string) string { return "" },
		Executable: func() (string, error) { return "/usr/bin/cco", nil }}
	b.ReportAllocs()
	for b.Loop() {
		if code := cli.Main([]string{"--completion-bash", "daemon"}, env); code != 0 {
			b.Fatalf("exit %d", code)
		}
	}
}

func TestSummarise(t *testing.T) {
	s := summarise([]time.Duration{5, 1, 4, 2, 3, 9, 8, 7, 6, 10, 11})
	if s.med != 6 || s.p10 != 2 || s.p90 != 10 || s.n != 11 {
		t.Fatalf("summarise = %+v", s)
	}
}
