// Package dashboard is the daemon's usage dashboard: one page at / that
// shows the ledger (today, this month, everything; cost by day and model;
// tokens by kind; top projects and sessions; what prompt caching saved),
// kept live by server-sent events, with every asset embedded. It also
// guards the daemon's JSON: a request must name the daemon's own address
// (DNS rebinding) and come from no other origin.
package dashboard

import (
	"context"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/anthropics/cco/ledger"
)

// DefaultPoll is how often an open event stream compares the ledger's
// generation: a quarter second keeps an update well within a second of
// ingest, and costs a mutex and a few loads per tick, only while a page is
// open.
const DefaultPoll = 250 * time.Millisecond

// Options is what the dashboard needs of the daemon.
type Options struct {
	// Host and Port are the daemon's address, as configured (Host) and
	// as bound (Port).
	Host string
	Port int
	// Setting is the dashboard configuration key: auto, on or off.
	Setting string
	// Ledger returns the ledger once it is open, waiting a bounded time.
	Ledger func(context.Context) (*ledger.Ledger, error)
	// Usage serves the ledger's reports under /api/usage/.
	Usage http.Handler
	// Now is the clock ("today" in the page's time zone); nil: time.Now.
	Now func() time.Time
	// Poll is how often an event stream looks at the ledger; 0: DefaultPoll.
	Poll time.Duration
}

// Dashboard serves the page, its assets and its API.
type Dashboard struct {
	o       Options
	guard   guard
	closing chan struct{}
	close   sync.Once

	builder Builder
	mu      sync.Mutex // guards cache
	cache   cached
}

// New returns the dashboard of a daemon.
func New(o Options) *Dashboard {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Poll <= 0 {
		o.Poll = DefaultPoll
	}
	return &Dashboard{o: o, guard: newGuard(o.Host, o.Port), closing: make(chan struct{})}
}

// Enabled says whether the page is served: setting "on" or "off" says so,
// "auto" serves it on a loopback host only.
func Enabled(setting, host string) bool {
	switch setting {
	case "on":
		return true
	case "off":
		return false
	}
	return isLoopback(host)
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Register adds the dashboard's routes to mux: the guarded reports under
// /api/usage/ always; the page, its assets, /api/dashboard and
// /api/events when the dashboard is enabled.
func (d *Dashboard) Register(mux *http.ServeMux) {
	mux.Handle("/api/usage/", d.guard.wrap(d.o.Usage))
	mux.Handle("/api/", d.guard.wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		jsonError(w, http.StatusNotFound, "not found: "+r.Method+" "+r.URL.Path)
	})))
	if !Enabled(d.o.Setting, d.o.Host) {
		mux.Handle("GET /{$}", d.guard.wrap(http.HandlerFunc(d.off)))
		return
	}
	mux.Handle("GET /{$}", d.guard.wrap(http.HandlerFunc(serveIndex)))
	mux.Handle("GET /assets/", d.guard.wrap(http.HandlerFunc(serveAsset)))
	mux.Handle("GET /api/dashboard", d.guard.wrap(http.HandlerFunc(d.serveData)))
	mux.Handle("GET /api/events", d.guard.wrap(http.HandlerFunc(d.serveEvents)))
}

// Guard wraps a handler of the daemon's in the dashboard's refusals and
// security headers (see guard).
func (d *Dashboard) Guard(h http.Handler) http.Handler { return d.guard.wrap(h) }

// Close ends every event stream, so that the server's shutdown need not
// wait for open pages.
func (d *Dashboard) Close() { d.close.Do(func() { close(d.closing) }) }

func (d *Dashboard) off(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusNotFound)
	msg := "The usage dashboard is off"
	if d.o.Setting == "off" {
		msg += " (dashboard = \"off\" in config.toml).\n"
	} else {
		msg += ": the daemon listens on " + d.o.Host + ", which is not a loopback address, and anyone who reaches it would see your usage.\n" +
			"To serve it anyway: cco daemon config set dashboard on, then cco daemon restart.\n"
	}
	_, _ = w.Write([]byte(msg))
}

// URL is the address a browser on this machine opens: a loopback address
// when the daemon listens on every address.
func URL(host string, port int) string {
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, strconv.Itoa(port)) + "/"
}
