// Package golden compares test output with files in testdata/golden/ and
// rewrites them when tests run with -update.
package golden

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden/ with the current output")

// Dir is the repository's testdata/golden directory.
func Dir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "testdata", "golden")
}

// Path is the golden file of the given name.
func Path(name string) string { return filepath.Join(Dir(), name) }

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
