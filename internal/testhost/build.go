package testhost

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

var (
	buildOnce sync.Once
	built     string
	buildErr  error
)

// CCO returns the path of a cco binary built from this checkout. It is built
// once per `go test` run however many packages ask: the binary is kept in
// the user's cache directory (not a temporary one, from which cco refuses
// to install a service) under a hash of the module's files, and concurrent
// test binaries wait for one build under a lock.
func CCO(t interface{ Fatal(...any) }) string {
	buildOnce.Do(func() { built, buildErr = buildCCO() })
	if buildErr != nil {
		t.Fatal("building cco: ", buildErr)
	}
	return built
}

// CCODir is the directory of CCO's binary, to put first on a PATH.
func CCODir(t interface{ Fatal(...any) }) string { return filepath.Dir(CCO(t)) }

func buildCCO() (string, error) {
	root, err := ModuleRoot()
	if err != nil {
		return "", err
	}
	sum, err := sourceHash(root)
	if err != nil {
		return "", err
	}
	cacheHome, err := os.UserCacheDir()
	if err != nil {
		return "", err
	}
	cache := filepath.Join(cacheHome, "cco-test-bin")
	dir := filepath.Join(cache, sum[:16])
	bin := filepath.Join(dir, "cco")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	lock, err := os.OpenFile(filepath.Join(dir, "build.lock"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return "", err
	}
	defer lock.Close()
	if err := unix.Flock(int(lock.Fd()), unix.LOCK_EX); err != nil {
		return "", err
	}
	if _, err := os.Stat(bin); err == nil {
		return bin, nil
	}
	removeOld(cache, dir)
	tmp := bin + ".new"
	cmd := exec.Command("go", "build", "-o", tmp, ".")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build: %v\n%s", err, out)
	}
	return bin, os.Rename(tmp, bin)
}

// removeOld removes the binaries of earlier sources, a day after their
// last build.
func removeOld(cache, keep string) {
	ents, _ := os.ReadDir(cache)
	for _, e := range ents {
		p := filepath.Join(cache, e.Name())
		if fi, err := e.Info(); err == nil && p != keep && time.Since(fi.ModTime()) > 24*time.Hour {
			os.RemoveAll(p)
		}
	}
}

// ModuleRoot is the directory of this module's go.mod, as the go command
// finds it from the test's working directory (its package directory).
func ModuleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", fmt.Errorf("not inside the cco module")
	}
	return filepath.Dir(gomod), nil
}

// sourceHash hashes every file the binary is built from: the Go files,
// go.mod, go.sum and whatever the packages embed, that is every file
// outside .git, testdata and build output.
func sourceHash(root string) (string, error) {
	h := sha256.New()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() {
			if path != root && (strings.HasPrefix(name, ".") || name == "testdata" || name == "out" || name == "node_modules") {
				return filepath.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() || strings.HasSuffix(name, "_test.go") || (path == filepath.Join(root, "cco")) {
			return nil
		}
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		rel, _ := filepath.Rel(root, path)
		fmt.Fprintf(h, "%s\x00", rel)
		_, err = io.Copy(h, f)
		return err
	})
	return hex.EncodeToString(h.Sum(nil)), err
}
