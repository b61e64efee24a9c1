package dashboard

import (
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	_ "github.com/anthropics/cco/internal/golden" // its -update flag: `go test ./... -update` works from the root
)

// assetBudget is what the page may add to the binary.
const assetBudget = 300 << 10

func TestAssetsSmallAndOffline(t *testing.T) {
	total := 0
	for p, a := range files {
		total += len(a.body)
		if a.ctype == "" {
			t.Errorf("%s has no media type", p)
		}
		// Nothing from the network: no URL but our own paths (the SVG
		// namespace is a name, not a fetch).
		for _, u := range regexp.MustCompile(`(?i)(https?:)?//[a-z0-9.-]+\.[a-z]{2,}[^"'\s)]*`).FindAllString(string(a.body), -1) {
			if u != "http://www.w3.org/2000/svg" {
				t.Errorf("%s refers to %s: every asset must be embedded", p, u)
			}
		}
		if strings.Contains(string(a.body), "@import") || strings.Contains(string(a.body), "@font-face") {
			t.Errorf("%s imports a stylesheet or a font", p)
		}
	}
	if total > assetBudget {
		t.Errorf("the embedded assets weigh %d bytes, over the budget of %d", total, assetBudget)
	}
	t.Logf("embedded assets: %d bytes", total)
}

// TestPageRefersToItsAssets: every script and stylesheet the page names is
// served, with its media type and the security headers.
func TestPageRefersToItsAssets(t *testing.T) {
	d := New(Options{Host: "127.0.0.1", Port: 80, Setting: "auto", Usage: http.NotFoundHandler()})
	mux := http.NewServeMux()
	d.Register(mux)
	refs := regexp.MustCompile(`(?:src|href)="(/assets/[^"]+)"`).FindAllStringSubmatch(string(files["/assets/index.html"].body), -1)
	if len(refs) != 2 {
		t.Fatalf("index.html names %d assets, want app.js and app.css", len(refs))
	}
	for _, ref := range append(refs, []string{"", "/"}) {
		r := httptest.NewRequest(http.MethodGet, "http://127.0.0.1"+ref[1], nil)
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, r)
		if w.Code != http.StatusOK || w.Header().Get("Content-Security-Policy") != CSP || w.Header().Get("ETag") == "" {
			t.Errorf("GET %s: %d, CSP %q, ETag %q", ref[1], w.Code, w.Header().Get("Content-Security-Policy"), w.Header().Get("ETag"))
		}
		r.Header.Set("If-None-Match", w.Header().Get("ETag"))
		w = httptest.NewRecorder()
		mux.ServeHTTP(w, r)
		if w.Code != http.StatusNotModified {
			t.Errorf("GET %s again with its ETag: %d, want 304", ref[1], w.Code)
		}
	}
}

func TestEnabled(t *testing.T) {
	for _, c := range []struct {
		setting, host string
		want          bool
	}{
		{"auto", "127.0.0.1", true}, {"auto", "127.0.0.2", true}, {"auto", "::1", true}, {"auto", "localhost", true},
		{"auto", "0.0.0.0", false}, {"auto", "::", false}, {"auto", "192.168.1.5", false}, {"auto", "myhost.lan", false},
		{"on", "0.0.0.0", true}, {"off", "127.0.0.1", false},
	} {
		if got := Enabled(c.setting, c.host); got != c.want {
			t.Errorf("Enabled(%q, %q) = %v, want %v", c.setting, c.host, got, c.want)
		}
	}
	if got := URL("0.0.0.0", 3000); got != "http://127.0.0.1:3000/" {
		t.Errorf("URL on every address: %s", got)
	}
	if got := URL("::1", 3000); got != "http://[::1]:3000/" {
		t.Errorf("URL on ::1: %s", got)
	}
}
