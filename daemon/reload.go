package daemon

import (
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/anthropics/cco/config"
	"github.com/anthropics/cco/ledger"
	"github.com/anthropics/cco/protocol"
)

// How a configuration key reaches a running daemon.
const (
	// Live keys apply at once when config.toml is reloaded.
	Live = "live"
	// Restart keys apply only when the daemon starts again.
	Restart = "restart"
	// Service keys are read by `cco daemon install` for the service file,
	// not by the daemon.
	Service = "service"
)

// applies says how each key reaches a running daemon.
var applies = map[string]string{
	"log_level": Live, "log_rotation_size": Live, "log_max_files": Live,
	"cache_size": Live, "cache_ttl": Live, "health_check_interval": Live,
	"host": Restart, "port": Restart, "database_url": Restart,
	// The ledger reads its transcript roots once, as it opens.
	"claude_config_dirs": Restart, "health_checks": Restart,
	// Whether the dashboard is served is settled as the daemon starts.
	"dashboard":  Restart,
	"auto_start": Service, "sandbox": Service,
}

// Applies says how key reaches a running daemon: Live, Restart or Service.
func Applies(key string) string { return applies[key] }

// reloads is the record of the daemon's reloads, for /health.
type reloads struct {
	mu sync.Mutex
	st protocol.ReloadState
}

func (r *reloads) state() *protocol.ReloadState {
	r.mu.Lock()
	defer r.mu.Unlock()
	st := r.st
	st.Applied = slices.Clone(st.Applied)
	st.PendingRestart = slices.Clone(st.PendingRestart)
	return &st
}

// reload applies config.toml again: the live keys at once, the log file
// reopened; a changed restart key is logged at warn and listed in /health
// as pending. A file that does not load is not applied at all: the
// running configuration stays. trigger says what asked: "signal" or "file".
func (d *daemon) reload(trigger string) {
	if err := d.log.Reopen(); err != nil {
		d.logger.Error("reopening the log", "err", err)
	}
	cfg, err := d.o.Reload()
	now := time.Now()
	d.metrics.reloaded(err == nil, now)
	d.reloads.mu.Lock()
	defer d.reloads.mu.Unlock()
	st := &d.reloads.st
	st.Generation++
	st.At, st.Trigger, st.OK = &now, trigger, err == nil
	if err != nil {
		st.Error, st.Applied = err.Error(), nil
		d.logger.Error("reload failed; keeping the running configuration", "trigger", trigger, "err", err)
		return
	}
	st.Error, st.Applied, st.PendingRestart = "", []string{}, []string{}
	for _, k := range config.Keys {
		if cfg.Value(k) == d.cfg.Value(k) {
			continue
		}
		switch applies[k.Name] {
		case Live:
			st.Applied = append(st.Applied, k.Name)
		case Restart:
			st.PendingRestart = append(st.PendingRestart, k.Name)
			d.logger.Warn(k.Name+" changed; it applies at the next restart (`cco daemon restart`)",
				"running", config.FormatValue(d.cfg.Value(k)), "configured", config.FormatValue(cfg.Value(k)))
		}
	}
	d.log.SetLimits(cfg.LogRotationSize, cfg.LogMaxFiles)
	d.usage.setCacheLimits(cfg.CacheSize, time.Duration(cfg.CacheTTL)*time.Second)
	if d.probe != nil {
		d.probe.setInterval(time.Duration(cfg.HealthCheckInterval) * time.Second)
	}
	d.cfg.LogLevel, d.cfg.LogRotationSize, d.cfg.LogMaxFiles = cfg.LogLevel, cfg.LogRotationSize, cfg.LogMaxFiles
	d.cfg.CacheSize, d.cfg.CacheTTL, d.cfg.HealthCheckInterval = cfg.CacheSize, cfg.CacheTTL, cfg.HealthCheckInterval
	// The line is written at the old level or the new, whichever shows it:
	// a user who turns the level up from info still sees the change.
	level := parseLevel(cfg.LogLevel)
	if level > slog.LevelInfo {
		d.logReloaded(cfg, trigger)
		d.level.Set(level)
		return
	}
	d.level.Set(level)
	d.logReloaded(cfg, trigger)
}

func (d *daemon) logReloaded(cfg config.DaemonConfig, trigger string) {
	d.logger.Info("reloaded", "log_level", cfg.LogLevel, "log_rotation_size", cfg.LogRotationSize, "log_max_files", cfg.LogMaxFiles,
		"cache_size", cfg.CacheSize, "cache_ttl", cfg.CacheTTL, "health_check_interval", cfg.HealthCheckInterval, "trigger", trigger)
}

// setCacheLimits gives the ledger new cache limits: at once when it is
// open, as it opens otherwise.
func (u *usage) setCacheLimits(bytes int64, ttl time.Duration) {
	u.limitsMu.Lock()
	defer u.limitsMu.Unlock()
	u.limits = func(l *ledger.Ledger) { l.SetCacheLimits(bytes, ttl) }
	select {
	case <-u.isOpen:
		if u.err == nil {
			u.limits(u.l)
		}
	default:
	}
}
