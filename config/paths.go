package config

import (
	"cmp"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"slices"
	"strconv"

	"github.com/anthropics/cco/homefile"
)

// Paths are the files cco keeps under CCO_HOME. This is the one place
// that names them: every other package asks a Paths.
type Paths struct {
	Home string
}

// The names of CCO_HOME's files.
const (
	configName     = "config.toml"
	configLockName = "config.lock"
	stateName      = "daemon.pid"
	lockName       = "daemon.lock"
	startLockName  = "daemon.start.lock"
	logName        = "daemon.log"
	launchdLogName = "launchd.log"
	editCopyName   = ".config.toml.edit"
	failedName     = "failed-starts"
)

// HomeFrom returns the paths under $CCO_HOME, or ~/.cco when it is unset.
// A CCO_HOME of "~" or "~/…" (quoted in a shell or a unit file, so the
// shell did not expand it) is taken from HOME; any other relative CCO_HOME
// is refused, since it would name another directory in every working
// directory.
func HomeFrom(getenv func(string) string) (Paths, error) {
	if h := getenv("CCO_HOME"); h != "" {
		if h == "~" || strings.HasPrefix(h, "~/") {
			home := getenv("HOME")
			if home == "" || !filepath.IsAbs(home) {
				return Paths{}, fmt.Errorf("CCO_HOME=%s starts with ~, but HOME is not an absolute path to expand it with: set CCO_HOME to an absolute path", h)
			}
			return Paths{Home: filepath.Join(home, strings.TrimPrefix(h, "~"))}, nil
		}
		if !filepath.IsAbs(h) {
			return Paths{}, fmt.Errorf("CCO_HOME=%s is a relative path, which would be a different directory in every working directory: set it to an absolute path, such as $HOME/.cco", h)
		}
		return Paths{Home: filepath.Clean(h)}, nil
	}
	home := getenv("HOME")
	if home == "" {
		return Paths{}, fmt.Errorf("neither CCO_HOME nor HOME is set: set CCO_HOME to the directory cco should keep its files in")
	}
	return Paths{Home: filepath.Join(home, ".cco")}, nil
}

// Config is config.toml.
func (p Paths) Config() string { return filepath.Join(p.Home, configName) }

// ConfigLockFile serializes the changes of config.toml (`config set`,
// `config unset`), so that concurrent changes of different keys all land.
func (p Paths) ConfigLockFile() string { return filepath.Join(p.Home, configLockName) }

// PIDFile is the daemon's state file.
func (p Paths) PIDFile() string { return filepath.Join(p.Home, stateName) }

// LockFile is held by the running daemon for its whole life.
func (p Paths) LockFile() string { return filepath.Join(p.Home, lockName) }

// StartLockFile serializes `cco daemon start`s, so that concurrent starts
// yield one daemon.
func (p Paths) StartLockFile() string { return filepath.Join(p.Home, startLockName) }

// LogFile is the daemon's log.
func (p Paths) LogFile() string { return filepath.Join(p.Home, logName) }

// FailedStarts records the daemon's recent failed starts under launchd,
// which has no start limit of its own (package service/startlimit).
func (p Paths) FailedStarts() string { return filepath.Join(p.Home, failedName) }

// ConfigEditCopy is the copy of config.toml that `config edit` hands the
// editor; config.toml itself changes only once the copy validates.
func (p Paths) ConfigEditCopy() string { return filepath.Join(p.Home, editCopyName) }

// LaunchdLog is where launchd sends the daemon's output. It is not
// daemon.log: the daemon owns and rotates that file, and launchd would keep
// writing into a rotated one.
func (p Paths) LaunchdLog() string { return filepath.Join(p.Home, launchdLogName) }

// Check makes sure that CCO_HOME is this user's own directory before cco
// reads, writes, locks or signals anything through it: owned by the user
// cco runs as, and writable by nobody else, who could otherwise plant links
// and files in it. A CCO_HOME owned by another user is refused (sudo keeps
// HOME: root must not act in, or write through links planted in, a user's
// directory), and so is one that group or others may write to (cco will not
// guess what was planted while it was). It costs one stat; a missing
// CCO_HOME passes, for Ensure to make.
func (p Paths) Check() error {
	fi, err := os.Stat(p.Home)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("CCO_HOME: %w", err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("CCO_HOME %s is not a directory: remove it, or set CCO_HOME to a directory", p.Home)
	}
	if err := ownDir("CCO_HOME", p.Home, fi); err != nil {
		return err
	}
	if perm := fi.Mode().Perm(); perm&0o022 != 0 {
		return fmt.Errorf("refusing CCO_HOME %s: it is writable by group or others (mode %04o), who could plant files and links in it; cco uses it once it is yours alone: chmod 700 %s", p.Home, perm, p.Home)
	}
	return nil
}

// ownDir refuses a directory of another user.
func ownDir(what, path string, fi os.FileInfo) error {
	uid := int(fi.Sys().(*syscall.Stat_t).Uid)
	if me := os.Geteuid(); uid != me {
		return fmt.Errorf("refusing %s %s: it is owned by %s, not by %s who runs cco; cco never acts in another user's directory (sudo keeps HOME): run cco as its owner, or set CCO_HOME to a directory of your own",
			what, path, homefile.Owner(uid), homefile.Owner(me))
	}
	return nil
}

// Ensure makes CCO_HOME ready for writing: made mode 0700 when missing
// (after checking that the directory it is made in is this user's or
// root's), passed through Check, and tightened to 0700 when others may read
// or enter it. Every command that writes in CCO_HOME and the daemon call it.
func (p Paths) Ensure() error {
	if err := p.Check(); err != nil {
		return err
	}
	fi, err := os.Stat(p.Home)
	if errors.Is(err, fs.ErrNotExist) {
		if err := p.checkParent(); err != nil {
			return err
		}
		if err := os.MkdirAll(p.Home, 0o700); err != nil {
			return fmt.Errorf("creating CCO_HOME: %w", err)
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("CCO_HOME: %w", err)
	}
	if fi.Mode().Perm() != 0o700 {
		if err := os.Chmod(p.Home, 0o700); err != nil {
			return fmt.Errorf("making CCO_HOME private: %w", err)
		}
	}
	return nil
}

// checkParent refuses to make CCO_HOME inside another user's directory:
// root run by sudo with a user's HOME would make ~/.cco root's, and the user
// locked out of it. The nearest existing ancestor must be this user's or
// root's (such as /tmp).
func (p Paths) checkParent() error {
	for dir := filepath.Dir(p.Home); ; dir = filepath.Dir(dir) {
		fi, err := os.Stat(dir)
		if err == nil {
			if fi.Sys().(*syscall.Stat_t).Uid == 0 {
				return nil
			}
			return ownDir("to make CCO_HOME in", dir, fi)
		}
		if !errors.Is(err, fs.ErrNotExist) || dir == filepath.Dir(dir) {
			return fmt.Errorf("CCO_HOME: %w", err)
		}
	}
}

// DatabaseFile is the file a sqlite:// database_url names: a relative path
// is taken from home (CCO_HOME). It is "" for a URL that names no file.
func DatabaseFile(home, databaseURL string) string {
	u, err := url.Parse(databaseURL)
	if err != nil || u.Scheme != "sqlite" {
		return ""
	}
	name := u.Host + u.Path
	if name == "" {
		name = u.Opaque
	}
	if name == "" {
		return ""
	}
	if !filepath.IsAbs(name) {
		name = filepath.Join(home, name)
	}
	return filepath.Clean(name)
}

// RotatedLog names the n-th file rotated out of the log at path:
// daemon.log.n. Numbers only grow, so a higher n is a newer file.
func RotatedLog(path string, n int64) string { return path + "." + strconv.FormatInt(n, 10) }

// NextLog is where the daemon makes the log's next file before it renames
// it over the log at path.
func NextLog(path string) string { return path + ".next" }

// A Rotated is a file rotated out of the daemon's log.
type Rotated struct {
	Path string
	N    int64
}

// RotatedLogs lists the files rotated out of the log at path, oldest
// first.
func RotatedLogs(path string) ([]Rotated, error) {
	entries, err := os.ReadDir(filepath.Dir(path))
	if err != nil {
		return nil, err
	}
	prefix := filepath.Base(path) + "."
	var rs []Rotated
	for _, e := range entries {
		num, ok := strings.CutPrefix(e.Name(), prefix)
		if !ok || num == "" || num[0] < '1' || num[0] > '9' {
			continue
		}
		if n, err := strconv.ParseInt(num, 10, 64); err == nil {
			rs = append(rs, Rotated{Path: filepath.Join(filepath.Dir(path), e.Name()), N: n})
		}
	}
	slices.SortFunc(rs, func(a, b Rotated) int { return cmp.Compare(a.N, b.N) })
	return rs, nil
}
