package daemon

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/anthropics/cco/internal/testhost"
	"github.com/anthropics/cco/internal/tooltest"
	"github.com/anthropics/cco/internal/transcripts"
)

func get(t *testing.T, url string) []byte {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s %v", url, resp.Status, err)
	}
	return b
}

// TestMetricsPassPromtool: /metrics is the Prometheus text format with the
// daemon's own series, and `promtool check metrics` finds nothing to say
// about their names, types and help.
func TestMetricsPassPromtool(t *testing.T) {
	promtool := tooltest.Need(t, "promtool", "prometheus")
	tree := t.TempDir()
	if _, err := transcripts.Generate(tree, transcripts.Spec{Seed: 5, Roots: 1, Bytes: 256 << 10, Cases: transcripts.Agreeing}); err != nil {
		t.Fatal(err)
	}
	o := testOptions(t, map[string]string{"CLAUDE_CONFIG_DIR": filepath.Join(tree, "root1")})
	runDaemon(t, o)
	base := "http://" + o.Config.Addr()
	testhost.Eventually(t, "the ledger to read the transcripts", func() bool {
		var h struct {
			Ledger struct{ Calls int } `json:"ledger"`
		}
		return json.Unmarshal(get(t, base+"/health"), &h) == nil && h.Ledger.Calls > 0
	})
	http.Get(base + "/nothing-here")
	body := get(t, base+"/metrics")
	for _, series := range []string{
		`cco_http_requests_total{code="200",route="GET /health"} `,
		"cco_health_probe_failures_total 0",
		"cco_health_probe_last_success_timestamp_seconds ",
		`cco_http_requests_total{code="404",route="/"} 1`,
		`cco_log_lines_total{level="info"}`,
		"cco_log_bytes_total ",
		"cco_log_rotations_total 0",
		`cco_config_reloads_total{result="failure"} 0`,
		"cco_config_last_reload_successful 1",
		"cco_daemon_start_time_seconds ",
		`cco_build_info{version=`,
		"process_resident_memory_bytes ",
		"go_goroutines ",
		`cco_ledger_tokens_total{kind="input",model="claude-`,
		`cco_ledger_tokens_total{kind="cache_read",model="claude-`,
		`cco_ledger_cost_dollars_total{model="claude-`,
		"cco_ledger_calls ",
		"cco_ledger_malformed_lines_total ",
		"cco_report_cache_hits_total ",
	} {
		if !bytes.Contains(body, []byte(series)) {
			t.Errorf("/metrics lacks %q", series)
		}
	}
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = bytes.NewReader(body)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}
}

// TestMetricsScrapedByPrometheus: a real Prometheus server, on loopback,
// scrapes the daemon and answers a query for one of its series.
func TestMetricsScrapedByPrometheus(t *testing.T) {
	prom := tooltest.Need(t, "prometheus", "prometheus")
	o := testOptions(t, nil)
	runDaemon(t, o)
	dir := t.TempDir()
	conf := filepath.Join(dir, "prometheus.yml")
	err := os.WriteFile(conf, []byte(fmt.Sprintf("global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: cco\n    static_configs:\n      - targets: ['%s']\n", o.Config.Addr())), 0o644)
	if err != nil {
		t.Fatal(err)
	}
	web := fmt.Sprintf("127.0.0.1:%d", testhost.FreePort(t))
	cmd := exec.Command(prom, "--config.file="+conf, "--web.listen-address="+web, "--storage.tsdb.path="+filepath.Join(dir, "data"))
	var log bytes.Buffer
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
	})
	query := func(q string) string {
		resp, err := http.Get("http://" + web + "/api/v1/query?query=" + q)
		if err != nil {
			return ""
		}
		defer resp.Body.Close()
		var r struct {
			Data struct {
				Result []struct {
					Value []any `json:"value"`
				} `json:"result"`
			} `json:"data"`
		}
		if json.NewDecoder(resp.Body).Decode(&r) != nil || len(r.Data.Result) == 0 || len(r.Data.Result[0].Value) < 2 {
			return ""
		}
		return fmt.Sprint(r.Data.Result[0].Value[1])
	}
	testhost.Eventually(t, "Prometheus to scrape the daemon", func() bool {
		return query(`up{job="cco"}`) == "1"
	})
	if v := query(`cco_config_last_reload_successful{job="cco"}`); v != "1" {
		t.Errorf("Prometheus answers cco_config_last_reload_successful = %q, want 1\n%s", v, log.String())
	}
}

// BenchmarkMetricsScrape is one GET /metrics of a running daemon, as
// Prometheus makes it (a kept-alive connection).
func BenchmarkMetricsScrape(b *testing.B) {
	o := testOptions(b, nil)
	runDaemon(b, o)
	url := "http://" + o.Config.Addr() + "/metrics"
	client := &http.Client{}
	for b.Loop() {
		resp, err := client.Get(url)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := io.Copy(io.Discard, resp.Body); err != nil {
			b.Fatal(err)
		}
		resp.Body.Close()
	}
}
