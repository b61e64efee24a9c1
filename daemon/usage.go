package daemon

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/anthropics/cco/config"
	"github.com/anthropics/cco/ledger"
)

// ledgerOpenWait bounds how long a usage query waits for the ledger to
// open when the daemon has just started.
const ledgerOpenWait = 5 * time.Second

// usage is the daemon's own job: the usage ledger of Claude Code. It is
// opened and run in the background once the daemon serves and has said so
// (start, after the readiness line or READY=1), so that neither a large
// database nor the work of opening one delays readiness; a query that comes
// before it is open waits for it (bounded).
type usage struct {
	// start opens the ledger and runs it in the background; once.
	start  func()
	isOpen chan struct{} // closed once l or err is set
	l      *ledger.Ledger
	err    error
	cancel context.CancelFunc
	done   sync.WaitGroup

	// limits are cache limits a reload set; limitsMu orders them with the
	// ledger's opening, so that the latest reaches the ledger.
	limitsMu sync.Mutex
	limits   func(*ledger.Ledger)
}

// usageOptions is what the ledger needs of the daemon's configuration.
func usageOptions(cfg config.DaemonConfig, getenv func(string) string, logger *slog.Logger) (ledger.Options, error) {
	var configured []string
	for _, d := range strings.Split(cfg.ClaudeConfigDirs, ",") {
		if d = strings.TrimSpace(d); d != "" {
			configured = append(configured, d)
		}
	}
	roots, err := ledger.Roots(getenv, getenv("HOME"), configured)
	return ledger.Options{
		Roots:      roots,
		Logger:     logger,
		CacheBytes: cfg.CacheSize,
		CacheTTL:   time.Duration(cfg.CacheTTL) * time.Second,
	}, err
}

// newUsage returns the daemon's usage ledger, not yet open: start opens it.
func newUsage(p config.Paths, cfg config.DaemonConfig, getenv func(string) string, logger *slog.Logger) *usage {
	ctx, cancel := context.WithCancel(context.Background())
	u := &usage{isOpen: make(chan struct{}), cancel: cancel}
	u.start = sync.OnceFunc(func() { u.open(ctx, p, cfg, getenv, logger) })
	return u
}

// open opens the ledger and runs it in the background.
func (u *usage) open(ctx context.Context, p config.Paths, cfg config.DaemonConfig, getenv func(string) string, logger *slog.Logger) {
	u.done.Add(1)
	go func() {
		defer u.done.Done()
		opts, err := usageOptions(cfg, getenv, logger)
		if err != nil {
			logger.Error("ledger: no transcript roots; reports answer from the database only", "err", err)
		}
		u.l, u.err = ledger.Open(ctx, cfg.DatabaseURL, p.Home, opts)
		u.limitsMu.Lock()
		close(u.isOpen)
		if u.limits != nil && u.err == nil {
			u.limits(u.l)
		}
		u.limitsMu.Unlock()
		if u.err != nil {
			logger.Error("ledger: cannot open the database; usage reports are off", "database_url", cfg.DatabaseURL, "err", u.err)
			return
		}
		logger.Info("ledger: reading transcripts", "roots", strings.Join(opts.Roots, ","), "database", dbPath(cfg.DatabaseURL, p.Home))
		if err := u.l.Run(ctx); err != nil && ctx.Err() == nil {
			logger.Error("ledger: ingest stopped", "err", err)
		}
	}()
}

// dbPath shows where a sqlite:// URL points, for the log.
func dbPath(url, home string) string {
	p := strings.TrimPrefix(url, "sqlite://")
	if !filepath.IsAbs(p) {
		p = filepath.Join(home, p)
	}
	return p
}

// ledger waits (up to ledgerOpenWait or ctx) for the ledger to open.
func (u *usage) ledger(ctx context.Context) (*ledger.Ledger, error) {
	t := time.NewTimer(ledgerOpenWait)
	defer t.Stop()
	select {
	case <-u.isOpen:
		return u.l, u.err
	case <-t.C:
		return nil, errors.New("the ledger is still opening its database; ask again in a moment")
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// handler serves the ledger's reports under /api/usage/.
func (u *usage) handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		l, err := u.ledger(r.Context())
		if err != nil {
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": "usage reports are not available: " + err.Error()})
			return
		}
		l.Handler().ServeHTTP(w, r)
	})
}

// opened returns the ledger once it is open, nil before or when it failed.
func (u *usage) opened() *ledger.Ledger {
	select {
	case <-u.isOpen:
		return u.l
	default:
		return nil
	}
}

// settled reports whether opening the ledger is over, done or failed.
func (u *usage) settled() bool {
	select {
	case <-u.isOpen:
		return true
	default:
		return false
	}
}

// state is the ledger's part of /health: its state, or why there is none.
func (u *usage) state() any {
	select {
	case <-u.isOpen:
	default:
		return map[string]string{"status": "opening"}
	}
	if u.err != nil {
		return map[string]string{"status": "error", "error": u.err.Error()}
	}
	return u.l.State()
}

// close stops ingest and closes the database; what was committed stays.
func (u *usage) close() error {
	u.cancel()
	u.done.Wait()
	if u.l != nil {
		return u.l.Close()
	}
	return nil
}
