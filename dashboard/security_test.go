package dashboard_test

import (
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/anthropics/cco/dashboard"
	"github.com/anthropics/cco/internal/transcripts"
)

// paths are every route the page uses, and the reports.
var paths = []string{"/", "/assets/app.js", "/assets/app.css", "/api/dashboard?timezone=UTC", "/api/usage/daily", "/api/usage/session", "/api/nope"}

func do(t *testing.T, url string, header map[string]string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		if k == "Host" {
			req.Host = v
		} else {
			req.Header.Set(k, v)
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

func TestRefusals(t *testing.T) {
	exp := tree(t, 256<<10)
	d := startDaemon(t, exp.Roots)
	port := strconv.Itoa(d.port)
	ok := []map[string]string{
		nil,
		{"Host": "localhost:" + port},
		{"Host": "[::1]:" + port},
		{"Host": "127.0.0.1:" + port, "Origin": "http://127.0.0.1:" + port, "Sec-Fetch-Site": "same-origin"},
		{"Sec-Fetch-Site": "none"},
	}
	refused := []struct {
		header map[string]string
		code   int
	}{
		{map[string]string{"Host": "evil.example:" + port}, http.StatusMisdirectedRequest}, // DNS rebinding
		{map[string]string{"Host": "localhost.evil.example:" + port}, http.StatusMisdirectedRequest},
		{map[string]string{"Host": "127.0.0.1:1"}, http.StatusMisdirectedRequest},
		{map[string]string{"Host": "127.0.0.1"}, http.StatusMisdirectedRequest},
		{map[string]string{"Host": "10.1.2.3:" + port}, http.StatusMisdirectedRequest}, // loopback daemon: not its address
		{map[string]string{"Origin": "http://evil.example"}, http.StatusForbidden},
		{map[string]string{"Origin": "null"}, http.StatusForbidden},
		{map[string]string{"Origin": "http://localhost:" + port}, http.StatusForbidden}, // another origin than the Host named
		{map[string]string{"Sec-Fetch-Site": "cross-site"}, http.StatusForbidden},
		{map[string]string{"Sec-Fetch-Site": "same-site"}, http.StatusForbidden}, // another port of localhost
	}
	for _, p := range paths {
		for _, h := range ok {
			resp := do(t, d.base+p, h)
			want := http.StatusOK
			if p == "/api/nope" {
				want = http.StatusNotFound
			}
			if resp.StatusCode != want {
				t.Errorf("GET %s with %v: %s, want %d", p, h, resp.Status, want)
			}
			headers(t, p, resp)
		}
		for _, r := range refused {
			resp := do(t, d.base+p, r.header)
			if resp.StatusCode != r.code {
				t.Errorf("GET %s with %v: %s, want %d", p, r.header, resp.Status, r.code)
			}
			if resp.Header.Get("Access-Control-Allow-Origin") != "" {
				t.Errorf("GET %s with %v: Access-Control-Allow-Origin %q", p, r.header, resp.Header.Get("Access-Control-Allow-Origin"))
			}
			headers(t, p, resp)
		}
	}
	// Following a link from another site to the page shows it (it cannot
	// be framed); a cross-site fetch of the same page is refused.
	if resp := do(t, d.base+"/", map[string]string{"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "navigate"}); resp.StatusCode != http.StatusOK {
		t.Errorf("a cross-site navigation to /: %s", resp.Status)
	}
	if resp := do(t, d.base+"/api/dashboard", map[string]string{"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "navigate"}); resp.StatusCode != http.StatusForbidden {
		t.Errorf("a cross-site navigation to /api/dashboard: %s, want 403", resp.Status)
	}
	// Nothing the page uses changes anything: every other method is refused.
	for _, p := range []string{"/", "/api/dashboard", "/api/events", "/api/usage/daily"} {
		for _, m := range []string{http.MethodPost, http.MethodPut, http.MethodDelete} {
			req, _ := http.NewRequest(m, d.base+p, strings.NewReader("{}"))
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode < 400 {
				t.Errorf("%s %s: %s", m, p, resp.Status)
			}
		}
	}
}

// headers checks what every answer carries, refused or not; HTML answers
// carry the policy above all.
func headers(t *testing.T, p string, resp *http.Response) {
	t.Helper()
	h := resp.Header
	if h.Get("Content-Security-Policy") != dashboard.CSP || h.Get("X-Content-Type-Options") != "nosniff" || h.Get("Referrer-Policy") != "no-referrer" {
		t.Errorf("GET %s: CSP %q, X-Content-Type-Options %q, Referrer-Policy %q", p, h.Get("Content-Security-Policy"), h.Get("X-Content-Type-Options"), h.Get("Referrer-Policy"))
	}
	if strings.HasPrefix(h.Get("Content-Type"), "text/html") && !strings.Contains(h.Get("Content-Security-Policy"), "frame-ancestors 'none'") {
		t.Errorf("GET %s: HTML without frame-ancestors 'none'", p)
	}
}

// TestOffOnAnotherHost: a daemon on every address serves no dashboard
// unless told to, and its reports still refuse foreign names; with
// dashboard = on it serves the page to an IP literal.
func TestOffOnAnotherHost(t *testing.T) {
	exp := transcriptsTiny(t)
	d := startDaemon(t, exp.Roots, "CCO_HOST=0.0.0.0")
	port := strconv.Itoa(d.port)
	if resp := do(t, d.base+"/", nil); resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET / on host 0.0.0.0 (dashboard auto): %s, want 404", resp.Status)
	}
	if resp := do(t, d.base+"/api/dashboard", nil); resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET /api/dashboard on host 0.0.0.0: %s, want 404", resp.Status)
	}
	if resp := do(t, d.base+"/api/usage/daily", map[string]string{"Host": "0.0.0.0:" + port}); resp.StatusCode != http.StatusOK {
		t.Errorf("GET /api/usage/daily as cco usage asks it: %s", resp.Status)
	}
	if resp := do(t, d.base+"/api/usage/daily", map[string]string{"Host": "evil.example:" + port}); resp.StatusCode != http.StatusMisdirectedRequest {
		t.Errorf("GET /api/usage/daily, Host evil.example: %s, want 421", resp.Status)
	}
	on := startDaemon(t, exp.Roots, "CCO_HOST=0.0.0.0", "CCO_DASHBOARD=on")
	for _, host := range []string{"", "192.0.2.7:" + strconv.Itoa(on.port)} {
		if resp := do(t, on.base+"/", map[string]string{"Host": host}); resp.StatusCode != http.StatusOK {
			t.Errorf("GET / with dashboard = on, Host %q: %s", host, resp.Status)
		}
	}
	if resp := do(t, on.base+"/", map[string]string{"Host": "evil.example:" + strconv.Itoa(on.port)}); resp.StatusCode != http.StatusMisdirectedRequest {
		t.Errorf("GET / with dashboard = on, Host evil.example: %s, want 421", resp.Status)
	}
}

func transcriptsTiny(t *testing.T) transcripts.Expect { return tree(t, 64<<10) }
