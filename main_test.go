package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/anthropics/cco/cli"
	"github.com/anthropics/cco/internal/golden"
)

// TestHelp compares --help with testdata/golden/help/, at the 80 columns
// kingpin wraps to without a terminal.
func TestHelp(t *testing.T) {
	t.Setenv("COLUMNS", "80")
	for _, args := range [][]string{{"--help"}, {"daemon", "--help"}, {"daemon", "logs", "--help"}} {
		var stdout, stderr bytes.Buffer
		env := &cli.Env{Stdout: &stdout, Stderr: &stderr, Getenv: func(string) string { return "" }}
		if code := cli.Main(args, env); code != 0 {
			t.Fatalf("cco %s: exit %d: %s", strings.Join(args, " "), code, stderr.Bytes())
		}
		name := strings.Join(append([]string{"cco"}, args[:len(args)-1]...), "-")
		golden.Check(t, "help/"+name+".txt", stdout.Bytes())
		if bytes.Contains(stdout.Bytes(), []byte("[no-]")) {
			t.Errorf("cco %s writes a flag as --[no-]name", strings.Join(args, " "))
		}
	}
}
