package daemon

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/fsnotify/fsnotify"

	"github.com/anthropics/cco/config"
	"github.com/anthropics/cco/internal/testhost"
)

// TestAppliesEveryKey: every configuration key is classified, so that
// config set and reload can say what happens to it.
func TestAppliesEveryKey(t *testing.T) {
	for _, k := range config.Keys {
		if a := Applies(k.Name); a != Live && a != Restart && a != Service {
			t.Errorf("key %s: Applies says %q", k.Name, a)
		}
	}
}

// TestWatcherDebounces: a burst of writes to config.toml, each closer to
// the last than ConfigDebounce, is one change; writes to other files of
// the directory are none.
func TestWatcherDebounces(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "config.toml")
	w, err := watchConfig(path, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	ctx, cancel := context.WithCancel(context.Background())
	defer func() { cancel(); <-done; w.close() }()
	go func() { w.run(ctx); close(done) }()
	var changes atomic.Int64
	go func() {
		for range w.changes() {
			changes.Add(1)
		}
	}()
	for i := range 10 {
		if err := os.WriteFile(path, []byte("port = "+string(rune('1'+i%9))+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(dir, "daemon.log"), []byte("noise\n"), 0o600)
		time.Sleep(ConfigDebounce / 10)
	}
	// The burst is over: the one change comes ConfigDebounce after its
	// last write, and nothing after it.
	testhost.Eventually(t, "a change after a burst of writes", func() bool { return changes.Load() >= 1 })
	if n := changes.Load(); n != 1 {
		t.Fatalf("a burst of writes was delivered as %d changes, want 1", n)
	}
}

// watchLinkedConfig watches dir/config.toml, a link to elsewhere/cco.toml.
func watchLinkedConfig(t *testing.T) (w *configWatcher, dir, elsewhere string) {
	t.Helper()
	dir, elsewhere = t.TempDir(), t.TempDir()
	path := filepath.Join(dir, "config.toml")
	target := filepath.Join(elsewhere, "cco.toml")
	if err := os.WriteFile(target, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, path); err != nil {
		t.Fatal(err)
	}
	w, err := watchConfig(path, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	return w, dir, elsewhere
}

// TestWatcherRelevant: the events that count are those on config.toml and
// on the file it links to, wherever that is; not the daemon's own files.
func TestWatcherRelevant(t *testing.T) {
	w, dir, elsewhere := watchLinkedConfig(t)
	path, target := filepath.Join(dir, "config.toml"), filepath.Join(elsewhere, "cco.toml")
	defer w.w.Close()
	for name, want := range map[string]bool{
		path: true, target: true,
		filepath.Join(dir, "daemon.log"): false, filepath.Join(elsewhere, "other.toml"): false,
		filepath.Join(dir, "cco.toml"): false,
	} {
		for _, op := range []fsnotify.Op{fsnotify.Write, fsnotify.Create, fsnotify.Rename, fsnotify.Remove} {
			if got := w.relevant(fsnotify.Event{Name: name, Op: op}); got != want {
				t.Errorf("%v on %s: relevant %v, want %v", op, name, got, want)
			}
		}
	}
	if w.relevant(fsnotify.Event{Name: path, Op: fsnotify.Chmod}) {
		t.Error("a chmod of config.toml counts as a change")
	}
	if w.watched != elsewhere {
		t.Errorf("watching %q besides config.toml's directory, want the link target's %q", w.watched, elsewhere)
	}
}

// TestWatcherUnwatch: unwatch removes every watch (config.toml's directory
// and a link target's), ahead of close, which releases the instance.
func TestWatcherUnwatch(t *testing.T) {
	before := testhost.InotifyFDs(t)
	w, _, _ := watchLinkedConfig(t)
	if n := len(w.w.WatchList()); n != 2 {
		t.Fatalf("watching %v, want config.toml's directory and the link target's", w.w.WatchList())
	}
	w.unwatch()
	if left := w.w.WatchList(); len(left) != 0 {
		t.Errorf("still watching %v after unwatch", left)
	}
	w.close()
	if n := testhost.InotifyFDs(t) - before; n != 0 {
		t.Errorf("close left %d inotify instances open", n)
	}
}

// TestReloadRepeatedly: hundreds of reloads, failing and succeeding in
// turn, while /health is read: each is counted once, a failed one changes
// nothing, and the record /health shows is the last one's (run with -race).
func TestReloadRepeatedly(t *testing.T) {
	o := testOptions(t, nil)
	base := o.Config
	var n atomic.Int64
	o.Reload = func() (config.DaemonConfig, error) {
		i := n.Add(1)
		if i%2 == 1 {
			return config.DaemonConfig{}, errors.New("bad file")
		}
		c := base
		c.CacheSize = base.CacheSize + i
		c.Port = base.Port + 1
		return c, nil
	}
	runDaemon(t, o)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
				// Not health: t.Fatal belongs to the test's goroutine.
				if resp, err := http.Get("http://" + o.Config.Addr() + "/health"); err == nil {
					resp.Body.Close()
				}
			}
		}
	}()
	const rounds = 200
	for i := 1; i <= rounds; i++ {
		if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		testhost.Eventually(t, "the reload counted", func() bool {
			r := health(t, o).Reload
			return r != nil && r.Generation == uint64(i)
		})
		r := health(t, o).Reload
		if want := i%2 == 0; r.OK != want || (r.Error != "") == want {
			t.Fatalf("reload %d: ok %v error %q", i, r.OK, r.Error)
		}
		// The first reload fails: nothing is pending until one succeeds.
		if i > 1 && (len(r.PendingRestart) != 1 || r.PendingRestart[0] != "port") {
			t.Fatalf("reload %d: pending restart %v, want [port]", i, r.PendingRestart)
		}
		if i%2 == 0 && (len(r.Applied) != 1 || r.Applied[0] != "cache_size") {
			t.Fatalf("reload %d: applied %v, want [cache_size]", i, r.Applied)
		}
	}
	close(stop)
	wg.Wait()
}

// TestWatchSurvivesARemovedHome: once the daemon has made a removed
// CCO_HOME anew, changes of config.toml reach it again.
func TestWatchSurvivesARemovedHome(t *testing.T) {
	o := testOptions(t, nil)
	runDaemon(t, o)
	// The ledger may be creating its database files at this moment.
	testhost.Eventually(t, "CCO_HOME removed", func() bool { return os.RemoveAll(o.Paths.Home) == nil })
	testhost.Eventually(t, "CCO_HOME made anew", func() bool {
		_, err := os.Stat(o.Paths.PIDFile())
		return err == nil
	})
	testhost.Eventually(t, "the watch back", func() bool {
		b, _ := os.ReadFile(o.Paths.LogFile())
		return strings.Contains(string(b), "watching config.toml again")
	})
	if err := os.WriteFile(o.Paths.Config(), []byte("port = 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	testhost.Eventually(t, "a change of config.toml reloaded", func() bool {
		r := health(t, o).Reload
		return r != nil && r.Generation == 1 && r.Trigger == "file"
	})
}
