// Command gen writes the generated, committed files of the repository:
// completions/ and man/ (`make generate` runs it through go generate).
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/alecthomas/kingpin/v2"

	"github.com/anthropics/cco/cli"
	"github.com/anthropics/cco/config"
	"github.com/anthropics/cco/docs"
)

func main() {
	root := flag.String("root", ".", "the repository root to write into")
	flag.Parse()
	if err := write(*root); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}

// model is the command tree as every cco builds it. Building it reads and
// starts nothing, so the environment it is given is empty.
func model() *kingpin.ApplicationModel {
	return cli.New(&cli.Env{
		Stdout:     io.Discard,
		Stderr:     io.Discard,
		Getenv:     func(string) string { return "" },
		Executable: func() (string, error) { return "", errors.New("not running") },
	}).Model()
}

func generate() ([]docs.File, error) { return docs.Generate(model(), config.Keys) }

func write(root string) error {
	files, err := generate()
	if err != nil {
		return err
	}
	for _, f := range files {
		path := filepath.Join(root, filepath.FromSlash(f.Path))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(path, f.Data, 0o644); err != nil {
			return err
		}
	}
	return nil
}
