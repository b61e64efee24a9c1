// Package daemon is what `cco daemon run` does, whoever starts it (`cco
// daemon start`, systemd, launchd or a user in a terminal): hold the lock,
// listen, write the state file, serve /health and /ready, own and rotate its
// log, reload on SIGHUP, and stop cleanly on SIGTERM or SIGINT.
package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/anthropics/cco/config"
	"github.com/anthropics/cco/internal/resident"
	"github.com/anthropics/cco/protocol"
	"github.com/anthropics/cco/version"
	"github.com/prometheus/client_golang/prometheus"
)

// ShutdownGrace bounds how long in-flight requests may take to finish once
// the daemon is told to stop.
const ShutdownGrace = 5 * time.Second

// The HTTP server's timeouts. A request must arrive whole within
// ReadTimeout and be answered within WriteTimeout, both far longer than any
// of the daemon's requests takes; a keep-alive connection left idle is
// closed after IdleTimeout, so that idle clients cannot hold connections
// (and file descriptors) forever.
const (
	ReadHeaderTimeout = 5 * time.Second
	ReadTimeout       = time.Minute
	WriteTimeout      = 2 * time.Minute
	IdleTimeout       = 2 * time.Minute
)

// HomeCheckInterval is how often the daemon makes sure that CCO_HOME still
// holds its lock, state file and log.
const HomeCheckInterval = time.Second

// Options is what Run needs.
type Options struct {
	Paths  config.Paths
	Config config.DaemonConfig
	// Reload reads the configuration again, on SIGHUP.
	Reload func() (config.DaemonConfig, error)
	// Ready, when not nil, is the readiness pipe of `cco daemon start`:
	// Run writes protocol.ReadyLine or "error: " and its error, then
	// closes it.
	Ready *os.File
	// Getenv reads NOTIFY_SOCKET and WATCHDOG_*.
	Getenv func(string) string
	// RedirectStd points fds 1 and 2 at the log, so that a panic lands
	// there. Off in tests, which need their own stderr.
	RedirectStd bool
	// Serving, when not nil, is told the daemon's state once it serves,
	// before it logs so and writes the readiness line: the crash history
	// records the start.
	Serving func(*protocol.State) error
	// IdleTimeout, when not zero, replaces the package's IdleTimeout: for
	// tests, which cannot wait minutes to see an idle connection closed.
	IdleTimeout time.Duration
	// Echo, when not nil, gets every log line too: the terminal of a user
	// who runs `cco daemon run` by hand.
	Echo io.Writer
	// IgnoreTERM is for tests only: the daemon ignores SIGTERM, so that
	// stop's escalation to SIGKILL can be seen.
	IgnoreTERM bool
	// Launchd says launchd runs the daemon: with no watchdog there, the
	// daemon exits when its own health probe keeps failing.
	Launchd bool
	// WedgeFile is for tests only: while it exists, every request hangs,
	// as in a deadlocked server.
	WedgeFile string
}

// Run runs the daemon until SIGTERM or SIGINT, or ctx is done. Any failure
// before it serves is returned (and reported on the readiness pipe) with
// nothing left behind: no state file, no lock held.
func Run(ctx context.Context, o Options) (err error) {
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	defer signal.Stop(sigs)
	if o.IgnoreTERM {
		signal.Ignore(syscall.SIGTERM)
	}
	d, err := start(o)
	if o.Ready != nil {
		line := ""
		if err == nil {
			line, err = protocol.ReadyLine(d.state)
		}
		if err != nil {
			line = "error: " + err.Error()
		}
		fmt.Fprintln(o.Ready, line)
		o.Ready.Close()
	}
	if err != nil {
		NotifyFailure(o.Getenv, err)
		return err
	}
	d.usage.start()
	return d.loop(ctx, sigs)
}

// daemon is a running daemon.
type daemon struct {
	o       Options
	cfg     config.DaemonConfig
	lock    *protocol.Lock
	log     *LogFile
	level   *slog.LevelVar
	logger  *slog.Logger
	srv     *http.Server
	served  chan error
	state   *protocol.State
	notify  *notifier
	usage   *usage
	metrics *metrics
	probe   *prober // nil when health checks are off
	reloads reloads
	watch   *configWatcher // nil when config.toml cannot be watched
	cancel  context.CancelFunc
	stopped bool
	trimmed bool // trimAfterStart has trimmed
	// conns counts the client connections the server holds open.
	conns atomic.Int64
}

func start(o Options) (d *daemon, err error) {
	if err := o.Paths.Ensure(); err != nil {
		return nil, err
	}
	lock, err := protocol.AcquireLock(o.Paths.LockFile())
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			lock.Release()
		}
	}()
	cfg := o.Config
	log, err := OpenLog(o.Paths.LogFile(), cfg.LogRotationSize, cfg.LogMaxFiles, o.RedirectStd)
	if err != nil {
		return nil, err
	}
	level := new(slog.LevelVar)
	level.Set(parseLevel(cfg.LogLevel))
	m := newMetrics(time.Now())
	var out io.Writer = countingWriter{log, m.logBytes}
	if o.Echo != nil {
		out = io.MultiWriter(out, o.Echo) // the log first: a gone terminal never costs a line
	}
	logger := slog.New(countingHandler{slog.NewTextHandler(out, &slog.HandlerOptions{Level: level}), m.logLines})
	defer func() {
		if err != nil {
			logger.Error("not starting", "err", err)
			// What cco prints of err then reaches whoever started the
			// daemon (a terminal, systemd's journal), not only the log.
			if rerr := log.RestoreStd(); rerr != nil {
				logger.Error("restoring stdout and stderr", "err", rerr)
			}
			log.Close()
		}
	}()
	ln, err := net.Listen("tcp", cfg.Addr())
	if err != nil {
		return nil, listenError(cfg, err)
	}
	n, err := newNotifier(o.Getenv)
	if err != nil {
		ln.Close()
		return nil, err
	}
	self, err := protocol.Self()
	if err != nil {
		ln.Close()
		return nil, fmt.Errorf("reading this process's start time: %w", err)
	}
	exe, _ := os.Executable()
	bound := ln.Addr().(*net.TCPAddr)
	// The state file names the address as an IP, so that clients (status)
	// can tell whether it is loopback and reach it without a name lookup: a
	// host name is replaced by the address it was bound to.
	host := cfg.Host
	if net.ParseIP(host) == nil {
		host = bound.IP.String()
	}
	d = &daemon{o: o, cfg: cfg, lock: lock, log: log, level: level, logger: logger, notify: n, metrics: m, served: make(chan error, 1)}
	d.state = &protocol.State{
		PID: os.Getpid(), StartedAt: time.Now().UTC().Truncate(time.Millisecond),
		Host: host, Port: bound.Port, Version: version.String(), Executable: exe,
		ProcStart: self.Start, ExecutableID: self.ExeID, LogFile: o.Paths.LogFile(),
	}
	if err := protocol.WriteState(o.Paths.PIDFile(), d.state); err != nil {
		ln.Close()
		return nil, err
	}
	d.usage = newUsage(o.Paths, cfg, o.Getenv, logger)
	m.reg.MustRegister(newLedgerCollector(d.usage), prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "cco_log_rotations_total", Help: "Rotations of daemon.log since the daemon started.",
	}, func() float64 { return float64(log.Rotations()) }))
	d.startWatching(bound)
	idle := IdleTimeout
	if o.IdleTimeout != 0 {
		idle = o.IdleTimeout
	}
	d.srv = &http.Server{
		ReadHeaderTimeout: ReadHeaderTimeout, ReadTimeout: ReadTimeout, WriteTimeout: WriteTimeout, IdleTimeout: idle,
		ConnState: d.countConn,
		ErrorLog:  slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	d.srv.Handler = wedgeable(d.routes(), o.WedgeFile) // after the server: the dashboard's streams end with it
	go func() { d.served <- d.srv.Serve(ln) }()
	log.ForgetStd()
	if o.Serving != nil {
		if err := o.Serving(d.state); err != nil {
			logger.Warn("recording the start", "err", err)
		}
	}
	logger.Info("serving", "addr", d.state.Addr(), "pid", d.state.PID, "version", d.state.Version)
	if !config.Loopback(host) {
		logger.Warn(config.ExposedWarning(d.state.Addr()))
	}
	if err := n.send("READY=1\nMAINPID=" + strconv.Itoa(d.state.PID)); err != nil {
		logger.Warn("systemd notify", "err", err)
	}
	d.probe.begin()
	return d, nil
}

func (d *daemon) routes() http.Handler {
	mux := http.NewServeMux()
	// Every route refuses what the dashboard's do (a Host that is not the
	// daemon's: DNS rebinding; a foreign Origin): /health tells a ledger's
	// state, /metrics its tokens and costs.
	guard := d.mountDashboard(mux)
	mux.Handle("GET /health", guard(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := d.state
		writeJSON(w, http.StatusOK, protocol.Health{
			Status: "ok", Version: s.Version, PID: s.PID,
			UptimeSeconds: int64(time.Since(s.StartedAt) / time.Second),
			StartedAt:     s.StartedAt, Host: s.Host, Port: s.Port,
			Ledger: d.usage.state(),
			Probe:  d.probe.state(), Reload: d.reloads.state(),
			Connections: d.conns.Load(),
		})
	})))
	mux.Handle("GET /metrics", guard(d.metrics.handler()))
	mux.Handle("GET /ready", guard(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]bool{"ready": true})
	})))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "not found: " + r.Method + " " + r.URL.Path})
	})
	counted := d.metrics.countRequests(mux)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The daemon's own probe is counted, not logged: a line every
		// health_check_interval would say nothing.
		if r.UserAgent() != protocol.ProbeUserAgent {
			d.logger.Debug("request", "method", r.Method, "path", r.URL.Path, "remote", r.RemoteAddr)
		}
		counted.ServeHTTP(w, r)
	})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

// loop handles signals, changes of config.toml and the health probe's
// verdict until the daemon stops.
func (d *daemon) loop(ctx context.Context, sigs <-chan os.Signal) error {
	home := time.NewTicker(HomeCheckInterval)
	defer home.Stop()
	for {
		select {
		case sig := <-sigs:
			if sig == syscall.SIGHUP {
				if !d.keepHome() {
					return d.shutdown()
				}
				d.reload("signal")
				continue
			}
			if sig == syscall.SIGTERM && d.o.IgnoreTERM {
				continue
			}
			d.logger.Info("stopping", "signal", sig.String())
			return d.shutdown()
		case <-ctx.Done():
			d.logger.Info("stopping", "reason", ctx.Err())
			return d.shutdown()
		case err := <-d.served:
			d.logger.Error("the HTTP server failed", "err", err)
			d.shutdown()
			return fmt.Errorf("the HTTP server failed: %w", err)
		case <-d.watch.changes():
			d.reload("file")
		case err := <-d.probe.gaveUp():
			d.logger.Error("stopping", "err", err)
			d.shutdown()
			return err
		case <-home.C:
			if !d.keepHome() {
				return d.shutdown()
			}
			d.watch.rewatch()
			d.trimAfterStart()
		}
	}
}

// trimAfterStart gives back, once, the pages of the binary that only
// start-up touched (resident.Trim): at the first home check after the
// ledger opened, when start-up is over and the start that waited for the
// daemon long done, so that the work (a read of /proc/self/smaps, the page
// tables) never competes with it.
func (d *daemon) trimAfterStart() {
	if d.trimmed || !d.usage.settled() {
		return
	}
	d.trimmed = true
	resident.Trim()
}

// keepHome restores what the daemon keeps in CCO_HOME when someone removed
// it under the running daemon: without the lock and the state file no cco
// command can find or stop the daemon, and without the log every line is
// lost. It returns false when another daemon took CCO_HOME over meanwhile;
// this one must then stop.
func (d *daemon) keepHome() bool {
	p := d.o.Paths
	if err := p.Ensure(); err != nil {
		d.logger.Error("CCO_HOME cannot be used: it is gone and cannot be made again, or is no longer yours alone", "err", err)
		return true
	}
	if reopened, err := d.log.ReopenIfGone(); err != nil {
		d.logger.Error("reopening the log", "err", err)
	} else if reopened {
		d.logger.Warn("the log file was removed; writing a new one", "path", p.LogFile())
	}
	if !d.lock.Intact(p.LockFile()) {
		lock, err := protocol.AcquireLock(p.LockFile())
		var held *protocol.HeldError
		if errors.As(err, &held) {
			d.logger.Error("the lock file was removed and another daemon took CCO_HOME over; stopping", "other_pid", held.PID)
			return false
		}
		if err != nil {
			d.logger.Error("taking the removed lock anew", "err", err)
			return true
		}
		d.lock.Release()
		d.lock = lock
		d.logger.Warn("the lock file was removed; took it anew", "path", p.LockFile())
	}
	if st, err := protocol.ReadState(p.PIDFile()); err != nil || st.PID != d.state.PID {
		if err := protocol.WriteState(p.PIDFile(), d.state); err != nil {
			d.logger.Error("writing the state file anew", "err", err)
		} else {
			d.logger.Warn("the state file was removed or replaced; wrote it anew", "path", p.PIDFile())
		}
	}
	return true
}

// shutdown stops accepting, lets in-flight requests finish within
// ShutdownGrace, removes the state file and releases the lock, in that
// order, so that a successor's state file is never removed.
func (d *daemon) shutdown() error {
	if d.stopped {
		return nil
	}
	d.stopped = true
	d.cancel()
	d.watch.unwatch() // first, so that its close, last, is immediate
	if err := d.notify.send("STOPPING=1"); err != nil {
		d.logger.Warn("systemd notify", "err", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), ShutdownGrace)
	defer cancel()
	if err := d.srv.Shutdown(ctx); err != nil {
		d.logger.Warn("requests still in flight were cut off", "after", ShutdownGrace, "err", err)
		d.srv.Close()
	}
	if err := d.usage.close(); err != nil {
		d.logger.Error("closing the ledger", "err", err)
	}
	if err := protocol.RemoveStateOf(d.o.Paths.PIDFile(), d.state.PID); err != nil {
		d.logger.Error("removing the state file", "err", err)
	}
	d.watch.close()
	d.logger.Info("stopped")
	d.notify.close()
	d.log.Close()
	return d.lock.Release()
}

func parseLevel(s string) slog.Level {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return slog.LevelInfo
	}
	return l
}

// listenError says why the daemon cannot listen, naming what to change: the
// port when it is taken or refused, the host when it is no address of this
// machine or no name it can resolve.
func listenError(cfg config.DaemonConfig, err error) error {
	var dns *net.DNSError
	switch {
	case errors.As(err, &dns):
		return fmt.Errorf("cannot listen on %s: the host %q does not resolve (%v); set host to an address of this machine, such as 127.0.0.1, with --host or `cco daemon config set host ADDR`", cfg.Addr(), cfg.Host, dns.Err)
	case errors.Is(err, syscall.EADDRNOTAVAIL):
		return fmt.Errorf("cannot listen on %s: %w: %s is not an address of this machine; set host to one, such as 127.0.0.1, with --host or `cco daemon config set host ADDR`", cfg.Addr(), syscall.EADDRNOTAVAIL, cfg.Host)
	}
	return fmt.Errorf("cannot listen on %s: %w; choose another port with --port or `cco daemon config set port N`", cfg.Addr(), errors.Unwrap(err))
}

// countConn keeps d.conns: a connection counts from its first byte until it
// is closed or taken over.
func (d *daemon) countConn(_ net.Conn, state http.ConnState) {
	switch state {
	case http.StateNew:
		d.conns.Add(1)
	case http.StateClosed, http.StateHijacked:
		d.conns.Add(-1)
	}
}
