package service

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// StableExecutable returns the path a service should run cco by: the path
// the user ran, not the file it resolves to. Homebrew and Nix run cco
// through a symlink into a versioned directory (/opt/homebrew/bin/cco ->
// ../Cellar/cco/1.2.0/bin/cco) that an upgrade removes, and os.Executable
// resolves symlinks on Linux.
//
// argv0 is taken as a shell takes it: with a slash, relative to cwd;
// without one, searched on pathEnv (a $PATH). The result is absolute and
// keeps its symlinks. It is used only when it is the running executable
// (executable is os.Executable); when argv0 says something else, as a
// program that sets argv[0] freely can make it, executable's answer is
// returned instead.
func StableExecutable(argv0, pathEnv, cwd string, executable func() (string, error)) (string, error) {
	exe, exeErr := executable()
	if cand := lookArgv0(argv0, pathEnv, cwd); cand != "" && (exeErr != nil || sameFile(cand, exe)) {
		return cand, nil
	}
	if exeErr != nil {
		return "", fmt.Errorf("cannot tell where cco is (%v): give its absolute path with --exec", exeErr)
	}
	return exe, nil
}

// lookArgv0 returns the absolute, unresolved path of the executable file
// argv0 names, or "" when it names none.
func lookArgv0(argv0, pathEnv, cwd string) string {
	if argv0 == "" {
		return ""
	}
	var cands []string
	if strings.Contains(argv0, "/") {
		cands = []string{argv0}
	} else {
		for _, dir := range filepath.SplitList(pathEnv) {
			if dir == "" {
				dir = "." // an empty PATH entry is the current directory
			}
			cands = append(cands, filepath.Join(dir, argv0))
		}
	}
	for _, c := range cands {
		if !filepath.IsAbs(c) {
			c = filepath.Join(cwd, c)
		}
		if isExecutable(c) {
			return filepath.Clean(c)
		}
	}
	return ""
}

func isExecutable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0
}

func sameFile(a, b string) bool {
	fa, errA := os.Stat(a)
	fb, errB := os.Stat(b)
	return errA == nil && errB == nil && os.SameFile(fa, fb)
}

// TransientExecutable says why path is no place for a service to run cco
// from — a binary that `go run` or `go test` built in a temporary directory
// and deletes when it exits — or "" when it is a stable path. tmpDirs are
// the machine's temporary directories ($TMPDIR and the like).
func TransientExecutable(path string, tmpDirs ...string) string {
	clean := filepath.Clean(path)
	for _, part := range strings.Split(clean, string(filepath.Separator)) {
		if strings.HasPrefix(part, "go-build") {
			return fmt.Sprintf("%s is a temporary build of `go run`, deleted when it exits", path)
		}
	}
	for _, dir := range tmpDirs {
		if dir == "" {
			continue
		}
		if rel, err := filepath.Rel(filepath.Clean(dir), clean); err == nil && rel != "." && !strings.HasPrefix(rel, "..") {
			return fmt.Sprintf("%s is in the temporary directory %s, which is cleaned without notice", path, dir)
		}
	}
	return ""
}
