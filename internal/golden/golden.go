// Package golden compares test output with files in the testing package's
// testdata/golden/ and rewrites them when tests run with -update. Every
// package with tests imports it (for its flag, at least), so that
// `go test ./... -update` is accepted from the repository's root.
package golden

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden/ with the current output")

// Path is the golden file of the given name: testdata/golden/name in the
// package under test, which is the working directory of its tests (so it
// is found under -trimpath too).
func Path(name string) string { return filepath.Join("testdata", "golden", name) }

// Check compares got with the golden file name (a path under
// testdata/golden/), or rewrites it under -update.
func Check(t testing.TB, name string, got []byte) {
	t.Helper()
	path := Path(name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("golden file %s: %v (run go test ./... -update to create it)", name, err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (review, then go test ./... -update):\n--- want\n%s\n--- got\n%s", name, want, got)
	}
}

// Updating reports whether the tests run with -update.
func Updating() bool { return *update }
