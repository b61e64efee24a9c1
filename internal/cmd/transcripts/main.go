// Command transcripts writes a generated tree of Claude Code transcripts,
// for trying the usage ledger by hand and for the benchmarks:
//
//	go run ./internal/cmd/transcripts -out DIR -bytes 100MiB
//
// then point cco at it with CLAUDE_CONFIG_DIR=DIR/root1 (or the config key
// claude_config_dirs).
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/anthropics/cco/config"
	"github.com/anthropics/cco/internal/transcripts"
)

func main() {
	out := flag.String("out", "", "directory to write the tree into (must be empty or missing)")
	size := flag.String("bytes", "10MiB", "about how much to write")
	roots := flag.Int("roots", 1, "config roots (root1, root2, …)")
	seed := flag.Uint64("seed", 1, "seed: the same seed writes the same tree")
	all := flag.Bool("all", false, "include the cases where cco deliberately differs from ccusage")
	flag.Parse()
	n, err := config.ParseSize(*size)
	if *out == "" || err != nil {
		fmt.Fprintln(os.Stderr, "usage: transcripts -out DIR [-bytes 10MiB] [-roots N] [-seed N] [-all]")
		os.Exit(2)
	}
	cases := transcripts.Agreeing
	if *all {
		cases = transcripts.All
	}
	exp, err := transcripts.Generate(*out, transcripts.Spec{Seed: *seed, Roots: *roots, Bytes: n, Cases: cases})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Printf("%s: %d calls\n", *out, exp.Calls)
}
