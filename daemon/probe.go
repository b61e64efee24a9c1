package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/anthropics/cco/protocol"
)

// maxProbeTimeout bounds one probe of the daemon's own /health: a daemon
// that answers on loopback answers in milliseconds.
const maxProbeTimeout = 2 * time.Second

// ProbeGiveUp is how many probes in a row must fail before a daemon under
// launchd, which has no watchdog, exits so that KeepAlive starts it anew.
const ProbeGiveUp = 3

// prober is the daemon's health check of itself: every period it asks its
// own GET /health through its own listener (protocol.Probe), and only an
// answer counts as alive. Under systemd each success pings the watchdog, so
// a wedged HTTP server is restarted as surely as a stopped process; under
// launchd ProbeGiveUp failures in a row end the daemon.
type prober struct {
	url    string
	notify *notifier
	logger *slog.Logger
	// exit, when set, is where the prober says it gave up (under launchd).
	exit chan error

	failures    prometheus.Counter
	lastSuccess prometheus.Gauge

	interval chan time.Duration // a new health_check_interval
	ready    chan struct{}      // closed once systemd was told READY=1
	every    time.Duration      // the period; run's alone once it runs

	mu sync.Mutex
	st protocol.ProbeState
}

// newProber probes url every interval, or at half the systemd watchdog's
// timeout when that is shorter: a ping then lands at least twice within
// WATCHDOG_USEC.
func newProber(url string, interval time.Duration, n *notifier, logger *slog.Logger, giveUp bool, reg prometheus.Registerer) *prober {
	p := &prober{
		url: url, notify: n, logger: logger, interval: make(chan time.Duration, 1), ready: make(chan struct{}),
		failures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "cco_health_probe_failures_total", Help: "Probes of the daemon's own GET /health that failed.",
		}),
		lastSuccess: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "cco_health_probe_last_success_timestamp_seconds", Help: "When the daemon last answered its own GET /health, in seconds since the epoch; 0 before the first.",
		}),
	}
	if giveUp {
		p.exit = make(chan error, 1)
	}
	reg.MustRegister(p.failures, p.lastSuccess)
	p.every = p.period(interval)
	p.st.IntervalSeconds = p.every.Seconds()
	return p
}

// selfURL is the daemon's own /health through its listener: a wildcard
// address is probed on loopback.
func selfURL(addr *net.TCPAddr) string {
	ip := addr.IP
	switch {
	case ip.IsUnspecified() && ip.To4() != nil:
		ip = net.IPv4(127, 0, 0, 1)
	case ip.IsUnspecified():
		ip = net.IPv6loopback
	}
	return "http://" + net.JoinHostPort(ip.String(), strconv.Itoa(addr.Port)) + "/health"
}

func (p *prober) period(interval time.Duration) time.Duration {
	if w := p.notify.watchdog; w > 0 && w < interval {
		return w
	}
	return interval
}

// setInterval applies a new health_check_interval at the next probe.
func (p *prober) setInterval(d time.Duration) {
	select {
	case <-p.interval:
	default:
	}
	p.interval <- d
}

// state is the probe's result for /health; nil without a prober.
func (p *prober) state() *protocol.ProbeState {
	if p == nil {
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	st := p.st
	return &st
}

// begin lets run probe: after READY=1, which a watchdog ping must follow.
func (p *prober) begin() {
	if p != nil {
		close(p.ready)
	}
}

// run probes once begin was called, then every period, until ctx is done.
func (p *prober) run(ctx context.Context) {
	select {
	case <-ctx.Done():
		return
	case <-p.ready:
	}
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case d := <-p.interval:
			p.every = p.period(d)
			p.mu.Lock()
			p.st.IntervalSeconds = p.every.Seconds()
			p.mu.Unlock()
			t.Reset(p.every)
			continue
		case <-t.C:
		}
		if p.once(ctx, min(maxProbeTimeout, p.every/2)) {
			return
		}
		t.Reset(p.every)
	}
}

// once probes and records the result; it reports whether the prober gave
// up.
func (p *prober) once(ctx context.Context, timeout time.Duration) bool {
	pctx, cancel := context.WithTimeout(ctx, timeout)
	err := protocol.Probe(pctx, p.url)
	cancel()
	if ctx.Err() != nil {
		return true
	}
	now := time.Now()
	p.mu.Lock()
	if err == nil {
		p.st.LastSuccess, p.st.ConsecutiveFailures, p.st.LastError = &now, 0, ""
	} else {
		p.st.ConsecutiveFailures++
		p.st.LastError = err.Error()
	}
	failures := p.st.ConsecutiveFailures
	p.mu.Unlock()
	if err == nil {
		p.lastSuccess.Set(float64(now.UnixNano()) / 1e9)
		if err := p.notify.send("WATCHDOG=1"); err != nil {
			p.logger.Warn("systemd watchdog", "err", err)
		}
		return false
	}
	p.failures.Inc()
	p.logger.Warn("health probe failed: the daemon did not answer its own /health", "failures", failures, "err", err)
	if p.exit != nil && failures >= ProbeGiveUp {
		p.exit <- fmt.Errorf("the daemon did not answer its own %s %d times in a row: exiting so that launchd starts it anew", p.url, failures)
		return true
	}
	return false
}

// wedgeable is for tests only: while the file at path exists, every
// request hangs until it is removed or the client gives up, as in a
// deadlocked server. Without a path it is h itself.
func wedgeable(h http.Handler, path string) http.Handler {
	if path == "" {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for {
			if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
				break
			}
			select {
			case <-r.Context().Done():
				return
			case <-time.After(10 * time.Millisecond):
			}
		}
		h.ServeHTTP(w, r)
	})
}

// gaveUp delivers the prober's reason to exit; nil (never) without a
// prober or outside launchd.
func (p *prober) gaveUp() <-chan error {
	if p == nil {
		return nil
	}
	return p.exit
}
