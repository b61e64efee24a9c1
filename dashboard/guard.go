package dashboard

import (
	"encoding/json"
	"net"
	"net/http"
	"strconv"
	"strings"
)

// CSP is the Content-Security-Policy of every answer: the page runs its
// own script and style only, fetches from its own origin only, and cannot
// be framed.
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
	"frame-ancestors 'none'; base-uri 'none'; form-action 'none'"

// guard refuses what a page on another site could make a browser send to
// a daemon on localhost.
type guard struct {
	port        string
	names       map[string]bool // host names and addresses (lower case, IPs canonical) that are ours
	unspecified bool            // the daemon listens on every address: any IP literal names it
}

func newGuard(host string, port int) guard {
	g := guard{port: strconv.Itoa(port), names: map[string]bool{}}
	for _, h := range []string{"localhost", "127.0.0.1", "::1", host} {
		g.names[canonical(h)] = true
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		g.unspecified = true
	}
	return g
}

func canonical(h string) string {
	if ip := net.ParseIP(h); ip != nil {
		return ip.String()
	}
	return strings.ToLower(h)
}

// hostOK says whether a Host header names this daemon. A name that is not
// ours is how DNS rebinding reaches a loopback server: the attacker's name
// resolves to 127.0.0.1, and the browser sends that name. An IP literal
// cannot be rebound, so a daemon on every address takes any.
func (g guard) hostOK(hostport string) bool {
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		host, port = strings.TrimSuffix(strings.TrimPrefix(hostport, "["), "]"), "80"
	}
	if port != g.port {
		return false
	}
	if g.names[canonical(host)] {
		return true
	}
	return g.unspecified && net.ParseIP(host) != nil
}

// refuse says why a request is refused (code 0: it is not).
func (g guard) refuse(r *http.Request) (int, string) {
	if !g.hostOK(r.Host) {
		return http.StatusMisdirectedRequest, "host " + strconv.Quote(r.Host) + " is not this daemon's address: use http://127.0.0.1:" + g.port + "/"
	}
	if o := r.Header.Get("Origin"); o != "" && o != "http://"+r.Host {
		return http.StatusForbidden, "cross-origin request from " + strconv.Quote(o) + " refused"
	}
	switch site := r.Header.Get("Sec-Fetch-Site"); site {
	case "", "same-origin", "none":
	default:
		// Following a link to the page is fine: it shows the user's own
		// data to the user, and cannot be framed. Anything else from
		// another site (a script, an image, a fetch) is refused.
		if !(r.URL.Path == "/" && r.Header.Get("Sec-Fetch-Mode") == "navigate") {
			return http.StatusForbidden, site + " request refused"
		}
	}
	return 0, ""
}

// wrap refuses what refuse refuses and sets the security headers on
// every answer.
func (g guard) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Content-Security-Policy", CSP)
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("Referrer-Policy", "no-referrer")
		hd.Set("Cross-Origin-Resource-Policy", "same-origin")
		hd.Set("X-Frame-Options", "DENY")
		if code, msg := g.refuse(r); code != 0 {
			jsonError(w, code, msg)
			return
		}
		h.ServeHTTP(w, r)
	})
}

func jsonError(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": msg})
}
