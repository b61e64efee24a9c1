package daemon

import (
	"context"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/fsnotify/fsnotify"
)

// ConfigDebounce is how long config.toml must stay quiet after a change
// before the daemon reloads it: an editor's save is several events.
const ConfigDebounce = 200 * time.Millisecond

// configWatcher tells when config.toml changed. It watches the file's
// directory, not the file: editors save by writing a temporary and renaming
// it over, which a watch on the file itself would lose. When config.toml is
// a symlink it also watches the directory of the file the link points to,
// anew after each change, so that both an edit of the target and a swap of
// the link count. The kernel wakes it; it never polls.
type configWatcher struct {
	path    string // config.toml
	w       *fsnotify.Watcher
	target  string // config.toml's final target when it is a link; "" when not
	watched string // target's directory when it is watched besides config.toml's; "" when none
	changed chan struct{}
	logger  *slog.Logger
	// dir is config.toml's directory as watched: removed and made anew, it
	// is another directory, which the watch does not follow.
	dir os.FileInfo
}

func watchConfig(path string, logger *slog.Logger) (*configWatcher, error) {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, err
	}
	dir, err := os.Stat(filepath.Dir(path))
	if err == nil {
		err = w.Add(filepath.Dir(path))
	}
	if err != nil {
		w.Close()
		return nil, err
	}
	c := &configWatcher{path: path, w: w, changed: make(chan struct{}, 1), logger: logger, dir: dir}
	c.follow()
	return c, nil
}

// follow resolves config.toml's final target and watches its directory
// when that differs from config.toml's own.
func (c *configWatcher) follow() {
	c.target = ""
	if t, err := filepath.EvalSymlinks(c.path); err == nil && t != c.path {
		c.target = t
	}
	dir := ""
	if c.target != "" && filepath.Dir(c.target) != filepath.Dir(c.path) {
		dir = filepath.Dir(c.target)
	}
	if dir == c.watched {
		return
	}
	if c.watched != "" {
		c.w.Remove(c.watched)
	}
	c.watched = ""
	if dir != "" {
		if err := c.w.Add(dir); err != nil {
			c.logger.Warn("config.toml is a link; its target's directory cannot be watched: edits there need `cco daemon reload`", "dir", dir, "err", err)
			return
		}
		c.watched = dir
	}
}

// relevant says whether an event may have changed what config.toml reads:
// one on config.toml, or on the file it links to.
func (c *configWatcher) relevant(ev fsnotify.Event) bool {
	if ev.Op == fsnotify.Chmod {
		return false
	}
	return ev.Name == c.path || (c.target != "" && ev.Name == c.target)
}

// run delivers a change on c.changed once no relevant event came for
// ConfigDebounce, until ctx is done. It leaves the watcher open: close
// closes it.
func (c *configWatcher) run(ctx context.Context) {
	quiet := time.NewTimer(time.Hour)
	quiet.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case ev, ok := <-c.w.Events:
			if !ok {
				return
			}
			if c.relevant(ev) {
				c.follow()
				quiet.Reset(ConfigDebounce)
			}
		case err, ok := <-c.w.Errors:
			if !ok {
				return
			}
			c.logger.Warn("watching config.toml", "err", err)
		case <-quiet.C:
			select {
			case c.changed <- struct{}{}:
			default:
			}
		}
	}
}

// rewatch watches config.toml's directory again if it was removed and is
// back (the daemon makes CCO_HOME anew within HomeCheckInterval).
func (c *configWatcher) rewatch() {
	if c == nil {
		return
	}
	fi, err := os.Stat(filepath.Dir(c.path))
	if err != nil || os.SameFile(fi, c.dir) {
		return
	}
	c.w.Remove(filepath.Dir(c.path))
	if err := c.w.Add(filepath.Dir(c.path)); err != nil {
		c.logger.Warn("cannot watch config.toml again; changes apply on `cco daemon reload`", "err", err)
		return
	}
	c.dir = fi
	c.logger.Info("watching config.toml again", "dir", filepath.Dir(c.path))
}

// unwatch stops watching, ahead of close. Closing an inotify instance that
// still watches makes the kernel wait out a grace period (milliseconds, at
// times tens of them) before close returns, and a process's exit waits for
// it too; watches removed a moment before the close are let go of in the
// background, and the close is then immediate. The daemon's shutdown
// unwatches first and closes last.
func (c *configWatcher) unwatch() {
	if c == nil {
		return
	}
	for _, p := range c.w.WatchList() {
		_ = c.w.Remove(p)
	}
}

// close releases the watcher (see unwatch).
func (c *configWatcher) close() {
	if c == nil {
		return
	}
	if err := c.w.Close(); err != nil {
		c.logger.Warn("closing the watch on config.toml", "err", err)
	}
}

// changes delivers each change; nil (never) without a watcher.
func (c *configWatcher) changes() <-chan struct{} {
	if c == nil {
		return nil
	}
	return c.changed
}

// startWatching starts what runs beside the server until shutdown: the
// watch on config.toml and, when health checks are on or systemd expects
// watchdog pings, the probe of the daemon's own /health at addr.
func (d *daemon) startWatching(addr *net.TCPAddr) {
	ctx, cancel := context.WithCancel(context.Background())
	d.cancel = cancel
	if w, err := watchConfig(d.o.Paths.Config(), d.logger); err != nil {
		d.logger.Warn("cannot watch config.toml; changes apply on `cco daemon reload`", "path", d.o.Paths.Config(), "err", err)
	} else {
		d.watch = w
		go w.run(ctx)
	}
	if d.cfg.HealthChecks || d.notify.watchdog > 0 {
		d.probe = newProber(selfURL(addr), time.Duration(d.cfg.HealthCheckInterval)*time.Second, d.notify, d.logger, d.o.Launchd && d.cfg.HealthChecks, d.metrics.reg)
		go d.probe.run(ctx)
	}
}
