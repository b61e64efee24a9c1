package daemon

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/anthropics/cco/version"
)

// metrics is what GET /metrics exports, in the Prometheus text format: the
// process and Go runtime, the daemon's requests, log and reloads, and the
// usage ledger. Names follow the Prometheus conventions (base units,
// counters ending in _total), which `promtool check metrics` enforces.
type metrics struct {
	reg          *prometheus.Registry
	requests     *prometheus.CounterVec
	logLines     *prometheus.CounterVec
	logBytes     prometheus.Counter
	reloads      *prometheus.CounterVec
	lastReload   prometheus.Gauge
	lastReloadOK prometheus.Gauge
}

func newMetrics(started time.Time) *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cco_http_requests_total", Help: "HTTP requests the daemon answered, by route and status code.",
		}, []string{"route", "code"}),
		logLines: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cco_log_lines_total", Help: "Lines the daemon wrote to daemon.log, by level.",
		}, []string{"level"}),
		logBytes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "cco_log_bytes_total", Help: "Bytes the daemon wrote to daemon.log.",
		}),
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cco_config_reloads_total", Help: "Reloads of config.toml, by result (success or failure).",
		}, []string{"result"}),
		lastReload: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "cco_config_last_reload_success_timestamp_seconds", Help: "When config.toml was last applied (the start counts).",
		}),
		lastReloadOK: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "cco_config_last_reload_successful", Help: "1 when the last reload of config.toml applied, 0 when it failed and the running configuration stayed.",
		}),
	}
	for _, r := range []string{"success", "failure"} {
		m.reloads.WithLabelValues(r)
	}
	start := prometheus.NewGauge(prometheus.GaugeOpts{Name: "cco_daemon_start_time_seconds", Help: "When the daemon started, in seconds since the epoch."})
	start.Set(float64(started.UnixNano()) / 1e9)
	info := prometheus.NewGauge(prometheus.GaugeOpts{Name: "cco_build_info", Help: "The daemon's version, as a label; the value is 1.", ConstLabels: prometheus.Labels{"version": version.String()}})
	info.Set(1)
	m.lastReload.Set(float64(started.UnixNano()) / 1e9)
	m.lastReloadOK.Set(1)
	m.reg.MustRegister(
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		collectors.NewGoCollector(),
		m.requests, m.logLines, m.logBytes, m.reloads, m.lastReload, m.lastReloadOK, start, info,
	)
	return m
}

// handler serves the registry, uncompressed: scrapes come over loopback,
// where gzip costs more than the bytes it saves.
func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{DisableCompression: true})
}

// reloaded records a reload's result.
func (m *metrics) reloaded(ok bool, at time.Time) {
	if !ok {
		m.reloads.WithLabelValues("failure").Inc()
		m.lastReloadOK.Set(0)
		return
	}
	m.reloads.WithLabelValues("success").Inc()
	m.lastReloadOK.Set(1)
	m.lastReload.Set(float64(at.UnixNano()) / 1e9)
}

// countRequests wraps the daemon's routes: each answer counts under the
// route pattern that served it (a bounded set, never the raw path).
func (m *metrics) countRequests(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cw := &codeWriter{ResponseWriter: w, code: http.StatusOK}
		mux.ServeHTTP(cw, r)
		route := r.Pattern
		if route == "" {
			route = "none"
		}
		m.requests.WithLabelValues(route, itoa(cw.code)).Inc()
	})
}

func itoa(code int) string {
	const digits = "0123456789"
	if code < 100 || code > 999 {
		return "other"
	}
	return string([]byte{digits[code/100], digits[code/10%10], digits[code%10]})
}

// codeWriter remembers the status code of an answer.
type codeWriter struct {
	http.ResponseWriter
	code int
}

func (c *codeWriter) WriteHeader(code int) {
	c.code = code
	c.ResponseWriter.WriteHeader(code)
}

// Flush keeps streaming answers streaming.
func (c *codeWriter) Flush() {
	if f, ok := c.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the connection.
func (c *codeWriter) Unwrap() http.ResponseWriter { return c.ResponseWriter }

// countingWriter counts the bytes written to the log.
type countingWriter struct {
	w io.Writer
	n prometheus.Counter
}

func (c countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n.Add(float64(n))
	return n, err
}

// countingHandler counts log records by level before its handler writes
// them.
type countingHandler struct {
	slog.Handler
	lines *prometheus.CounterVec
}

func (h countingHandler) Handle(ctx context.Context, r slog.Record) error {
	h.lines.WithLabelValues(levelName(r.Level)).Inc()
	return h.Handler.Handle(ctx, r)
}

func (h countingHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return countingHandler{h.Handler.WithAttrs(as), h.lines}
}

func (h countingHandler) WithGroup(name string) slog.Handler {
	return countingHandler{h.Handler.WithGroup(name), h.lines}
}

func levelName(l slog.Level) string {
	switch {
	case l >= slog.LevelError:
		return "error"
	case l >= slog.LevelWarn:
		return "warn"
	case l >= slog.LevelInfo:
		return "info"
	}
	return "debug"
}

// ledgerCollector exports the usage ledger's state at each scrape; it
// costs a lock and a copy, never a query.
type ledgerCollector struct {
	u *usage

	files, calls, malformed, lag, lastIngest *prometheus.Desc
	tokens, cost                             *prometheus.Desc
	cacheHits, cacheMisses, cacheEvictions   *prometheus.Desc
	cacheBytes, cacheEntries                 *prometheus.Desc
}

func newLedgerCollector(u *usage) *ledgerCollector {
	d := func(name, help string) *prometheus.Desc { return prometheus.NewDesc(name, help, nil, nil) }
	return &ledgerCollector{
		u:              u,
		files:          d("cco_ledger_transcript_files", "Transcript files the ledger knows."),
		calls:          d("cco_ledger_calls", "Distinct API calls the ledger holds."),
		malformed:      d("cco_ledger_malformed_lines_total", "Transcript lines that could hold usage but could not be read."),
		lag:            d("cco_ledger_ingest_lag_seconds", "How long changed transcripts have waited to be read (0: none pending)."),
		lastIngest:     d("cco_ledger_last_ingest_timestamp_seconds", "When the ledger last stored new calls, in seconds since the epoch (0: not since the daemon started)."),
		tokens:         prometheus.NewDesc("cco_ledger_tokens_total", "Tokens of every call the ledger holds, by model and kind (input, output, cache_write, cache_read).", []string{"model", "kind"}, nil),
		cost:           prometheus.NewDesc("cco_ledger_cost_dollars_total", "What the calls the ledger holds cost, in US dollars, by model.", []string{"model"}, nil),
		cacheHits:      d("cco_report_cache_hits_total", "Usage reports answered from the cache."),
		cacheMisses:    d("cco_report_cache_misses_total", "Usage reports computed from the database."),
		cacheEvictions: d("cco_report_cache_evictions_total", "Cached reports dropped for the byte budget (cache_size) or their lifetime (cache_ttl)."),
		cacheBytes:     d("cco_report_cache_bytes", "Encoded size of the cached reports."),
		cacheEntries:   d("cco_report_cache_entries", "Cached reports."),
	}
}

func (c *ledgerCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.files, c.calls, c.malformed, c.lag, c.lastIngest, c.tokens, c.cost, c.cacheHits, c.cacheMisses, c.cacheEvictions, c.cacheBytes, c.cacheEntries} {
		ch <- d
	}
}

func (c *ledgerCollector) Collect(ch chan<- prometheus.Metric) {
	l := c.u.opened()
	if l == nil {
		return
	}
	s := l.State()
	g := func(d *prometheus.Desc, v float64) { ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v) }
	n := func(d *prometheus.Desc, v float64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v)
	}
	g(c.files, float64(s.Files))
	g(c.calls, float64(s.Calls))
	n(c.malformed, float64(s.Malformed))
	g(c.lag, s.IngestLag.Seconds())
	if !s.LastIngest.IsZero() {
		g(c.lastIngest, float64(s.LastIngest.UnixNano())/1e9)
	} else {
		g(c.lastIngest, 0)
	}
	for _, t := range l.Totals() {
		for kind, v := range map[string]int64{"input": t.Input, "output": t.Output, "cache_write": t.CacheCreation, "cache_read": t.CacheRead} {
			ch <- prometheus.MustNewConstMetric(c.tokens, prometheus.CounterValue, float64(v), t.Model, kind)
		}
		ch <- prometheus.MustNewConstMetric(c.cost, prometheus.CounterValue, t.CostUSD, t.Model)
	}
	n(c.cacheHits, float64(s.Cache.Hits))
	n(c.cacheMisses, float64(s.Cache.Misses))
	n(c.cacheEvictions, float64(s.Cache.Evictions))
	g(c.cacheBytes, float64(s.Cache.Bytes))
	g(c.cacheEntries, float64(s.Cache.Entries))
}
