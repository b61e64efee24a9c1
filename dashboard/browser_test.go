package dashboard_test

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/anthropics/cco/internal/chrome"
	"github.com/anthropics/cco/internal/transcripts"
	"github.com/anthropics/cco/ledger"
)

// shown is what the page shows of a number: its text, and the exact value
// and full form it keeps in data-value and title.
type shown struct {
	Text, Value, Title string
}

func readShown(t *testing.T, p *chrome.Page, ids ...string) map[string]shown {
	t.Helper()
	out := map[string]shown{}
	expr := fmt.Sprintf(`Object.fromEntries(%q.split(",").map((id) => { const e = document.getElementById(id);
		return [id, e ? {Text: e.textContent, Value: e.dataset.value || "", Title: e.title} : null]; }))`, strings.Join(ids, ","))
	if err := p.Eval(expr, &out); err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		if _, ok := out[id]; !ok {
			t.Fatalf("the page has no #%s", id)
		}
	}
	return out
}

// dollars and thousands are how the page writes amounts in en-US.
func dollars(x float64) string {
	return "$" + thousands(int64(math.Round(x*100))/100) + fmt.Sprintf(".%02d", int64(math.Round(x*100))%100)
}

func thousands(n int64) string {
	s := fmt.Sprint(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// sameCost: the exact value equals the API's within float noise, and the
// text is it in dollars and cents.
func sameCost(t *testing.T, what string, got shown, want float64) {
	t.Helper()
	var v float64
	fmt.Sscan(got.Value, &v)
	if math.Abs(v-want) > 1e-9*math.Max(1, math.Abs(want)) || got.Text != dollars(want) {
		t.Errorf("%s: page shows %q (value %s), the API says %v (%s)", what, got.Text, got.Value, want, dollars(want))
	}
}

func sameCount(t *testing.T, what string, got shown, want int64) {
	t.Helper()
	if got.Value != fmt.Sprint(want) {
		t.Errorf("%s: page holds %s, the API says %d", what, got.Value, want)
	}
	if full := thousands(want); got.Title != full && got.Text != full {
		t.Errorf("%s: page shows %q (title %q), want %s in one of them", what, got.Text, got.Title, full)
	}
}

// TestPageInBrowser loads the page in headless Chromium against a daemon
// fed a generated tree: what it shows equals the API's JSON, a call
// appended to a transcript appears without a reload, the time zone can be
// changed, the narrow layout does not overflow, and the console stays
// clean.
func TestPageInBrowser(t *testing.T) {
	exp := tree(t, 2<<20)
	d := startDaemon(t, exp.Roots)
	b := chrome.Start(t)
	p := b.NewPage(t, 1280, 800)
	if err := p.Navigate(d.base + "/"); err != nil {
		t.Fatal(err)
	}
	p.WaitFor(t, "the first render", `document.body.dataset.ready === "1"`, 20*time.Second)
	var first float64
	if err := p.Eval(`window.ccoFirstRender`, &first); err != nil {
		t.Fatal(err)
	}
	t.Logf("first render %.1f ms after navigation (%d files, %d bytes)", first, exp.Files, exp.Bytes)

	check := func(zone string) {
		t.Helper()
		today := time.Now().In(mustZone(t, zone)).Format(time.DateOnly)
		since := time.Now().In(mustZone(t, zone)).AddDate(0, 0, -29).Format(time.DateOnly)
		report := func(q string) ledger.DailyReport {
			var r ledger.DailyReport
			if err := d.getJSON("/api/usage/daily?timezone="+zone+q, &r); err != nil {
				t.Fatal(err)
			}
			return r
		}
		m0, _ := time.Parse(time.DateOnly, today[:7]+"-01")
		monthEnd := m0.AddDate(0, 1, -1).Format(time.DateOnly) // the month is the whole month
		all, day, month, rng := report(""), report("&since="+today+"&until="+today), report("&since="+today[:7]+"-01&until="+monthEnd), report("&since="+since+"&until="+today)
		var sess ledger.SessionReport
		if err := d.getJSON("/api/usage/session?timezone="+zone+"&since="+since+"&until="+today, &sess); err != nil {
			t.Fatal(err)
		}
		var health struct {
			Ledger struct {
				Calls int64 `json:"calls"`
			} `json:"ledger"`
		}
		if err := d.getJSON("/health", &health); err != nil {
			t.Fatal(err)
		}
		s := readShown(t, p, "all-cost", "all-tokens", "all-calls", "today-cost", "today-tokens", "month-cost", "month-tokens",
			"range-cost", "range-tokens", "tok-input", "tok-output", "tok-cacheWrite", "tok-cacheRead", "today-label")
		if s["today-label"].Text != today {
			t.Errorf("the page's today is %q, want %s in %s", s["today-label"].Text, today, zone)
		}
		sameCost(t, zone+": everything", s["all-cost"], all.Totals.TotalCost)
		sameCount(t, zone+": everything's tokens", s["all-tokens"], all.Totals.TotalTokens)
		sameCount(t, zone+": everything's calls", s["all-calls"], health.Ledger.Calls)
		sameCost(t, zone+": today", s["today-cost"], day.Totals.TotalCost)
		sameCount(t, zone+": today's tokens", s["today-tokens"], day.Totals.TotalTokens)
		sameCost(t, zone+": this month", s["month-cost"], month.Totals.TotalCost)
		sameCount(t, zone+": this month's tokens", s["month-tokens"], month.Totals.TotalTokens)
		sameCost(t, zone+": 30 days", s["range-cost"], rng.Totals.TotalCost)
		sameCount(t, zone+": 30 days' tokens", s["range-tokens"], rng.Totals.TotalTokens)
		sameCount(t, zone+": input", s["tok-input"], rng.Totals.InputTokens)
		sameCount(t, zone+": output", s["tok-output"], rng.Totals.OutputTokens)
		sameCount(t, zone+": cache write", s["tok-cacheWrite"], rng.Totals.CacheCreationTokens)
		sameCount(t, zone+": cache read", s["tok-cacheRead"], rng.Totals.CacheReadTokens)
		var top string
		if err := p.Eval(`document.querySelector("#sessions tbody td").title`, &top); err != nil {
			t.Fatal(err)
		}
		if len(sess.Sessions) == 0 || top != sess.Sessions[0].SessionID {
			t.Errorf("%s: the top session shown is %q, want the costliest of the report", zone, top)
		}
	}
	check("UTC") // the browser's own zone: chrome.Start runs it with TZ=UTC

	// Live: a call appended to a transcript shows without a reload.
	if err := p.Eval(`window.notReloaded = true`, nil); err != nil {
		t.Fatal(err)
	}
	var gen string
	if err := p.Eval(`document.body.dataset.generation`, &gen); err != nil {
		t.Fatal(err)
	}
	before := readShown(t, p, "all-tokens")["all-tokens"].Value
	appended := time.Now()
	if err := transcripts.AppendLine(firstTranscript(t, exp.Roots[0]), newCall("a1", appended, 1234, 567)); err != nil {
		t.Fatal(err)
	}
	p.WaitFor(t, "the appended call on the page", `document.body.dataset.generation !== `+fmt.Sprintf("%q", gen), 10*time.Second)
	t.Logf("an appended call was on the page %v after the append", time.Since(appended).Round(time.Millisecond))
	var n int64
	fmt.Sscan(before, &n)
	if got := readShown(t, p, "all-tokens")["all-tokens"].Value; got != fmt.Sprint(n+1234+567) {
		t.Errorf("after the append the page holds %s tokens, want %d", got, n+1234+567)
	}
	var still bool
	if err := p.Eval(`window.notReloaded === true`, &still); err != nil || !still {
		t.Errorf("the page reloaded to show the update")
	}
	check("UTC")

	// Another time zone, chosen in the page.
	if err := p.Eval(`(() => { const s = document.getElementById("tz"); s.dispatchEvent(new MouseEvent("mousedown")); s.value = "Pacific/Kiritimati"; s.dispatchEvent(new Event("change")); })()`, nil); err != nil {
		t.Fatal(err)
	}
	p.WaitFor(t, "the page in Pacific/Kiritimati", `document.getElementById("range-label").textContent.includes("Pacific/Kiritimati")`, 10*time.Second)
	check("Pacific/Kiritimati")

	shot := filepath.Join(artifacts(t), "dashboard-1280x800.png")
	if err := p.Screenshot(shot); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", shot)

	// Dark, as the system asks.
	if err := p.Call("Emulation.setEmulatedMedia", map[string]any{"features": []map[string]string{{"name": "prefers-color-scheme", "value": "dark"}}}, nil); err != nil {
		t.Fatal(err)
	}
	var bg string
	if err := p.Eval(`getComputedStyle(document.body).backgroundColor`, &bg); err != nil {
		t.Fatal(err)
	}
	if bg != "rgb(26, 26, 25)" {
		t.Errorf("dark mode: body background %s, want the dark one", bg)
	}
	dark := filepath.Join(filepath.Dir(shot), "dashboard-dark.png")
	if err := p.Screenshot(dark); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", dark)

	// Narrow: one column, nothing wider than the window.
	if err := p.Call("Emulation.setDeviceMetricsOverride", map[string]any{"width": 400, "height": 800, "deviceScaleFactor": 1, "mobile": true}, nil); err != nil {
		t.Fatal(err)
	}
	p.WaitFor(t, "the narrow layout", `document.documentElement.clientWidth === 400`, 5*time.Second)
	p.WaitFor(t, "the chart redrawn at its new width", `document.querySelector("#chart svg").viewBox.baseVal.width === Math.max(document.getElementById("chart").clientWidth, 280)`, 5*time.Second)
	var overflow int
	if err := p.Eval(`document.documentElement.scrollWidth - document.documentElement.clientWidth`, &overflow); err != nil {
		t.Fatal(err)
	}
	if overflow > 0 {
		t.Errorf("at 400 px wide the page is %d px wider than the window", overflow)
	}
	narrow := filepath.Join(filepath.Dir(shot), "dashboard-narrow.png")
	if err := p.Screenshot(narrow); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", narrow)

	if errs := p.Errors(); len(errs) > 0 {
		t.Errorf("the page's console:\n%s", strings.Join(errs, "\n"))
	}
}

// artifacts is where screenshots go: $CCO_TEST_ARTIFACTS (kept, for CI to
// collect) or the test's temporary directory.
func artifacts(t *testing.T) string {
	if dir := os.Getenv("CCO_TEST_ARTIFACTS"); dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	return t.TempDir()
}

func mustZone(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}
