package protocol

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"
)

// ProbeState is what the daemon's probe of its own GET /health has seen:
// "probe" in the health document.
type ProbeState struct {
	// IntervalSeconds is how often the daemon probes itself.
	IntervalSeconds float64 `json:"interval_seconds"`
	// LastSuccess is when the probe last had an answer; null before the first.
	LastSuccess *time.Time `json:"last_success"`
	// ConsecutiveFailures counts the probes that failed since the last success.
	ConsecutiveFailures int `json:"consecutive_failures"`
	// LastError is why the last probe failed; "" after a success.
	LastError string `json:"last_error"`
}

// ReloadState is the last reload of config.toml: "reload" in the health
// document.
type ReloadState struct {
	// Generation counts reload attempts since the daemon started, failed
	// ones included: a client that saw it change knows a reload happened.
	Generation uint64 `json:"generation"`
	// At is when the last attempt was made; null before the first.
	At *time.Time `json:"at"`
	// Trigger is what caused it: "signal" (SIGHUP, `cco daemon reload`) or
	// "file" (config.toml changed); "" before the first.
	Trigger string `json:"trigger"`
	// OK is false when the last attempt failed and the running
	// configuration stayed.
	OK bool `json:"ok"`
	// Error is why the last attempt failed; "" when it did not.
	Error string `json:"error"`
	// Applied names the keys the last successful reload changed live.
	Applied []string `json:"applied"`
	// PendingRestart names the keys whose configured value differs from
	// the running one and that apply only at the next start.
	PendingRestart []string `json:"pending_restart"`
}

// ProbeUserAgent is the User-Agent of Probe's requests, by which the
// daemon tells its probes from other requests.
const ProbeUserAgent = "cco-probe"

// probeClient keeps no connections: a wedged server must be seen as
// wedged, not answered from a connection it accepted long ago.
var probeClient = &http.Client{Transport: &http.Transport{DisableKeepAlives: true, Proxy: nil}}

// Probe asks a daemon's GET /health (url ends in /health) once, within
// ctx: nil when it answers 200 with status "ok". The daemon probes itself
// with it for the systemd watchdog and under launchd; a supervisor can use
// it as its liveness check.
func Probe(ctx context.Context, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	req.Header.Set("User-Agent", ProbeUserAgent)
	resp, err := probeClient.Do(req)
	if err != nil {
		return fmt.Errorf("GET %s: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	var h struct {
		Status string `json:"status"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&h); err != nil {
		return fmt.Errorf("GET %s: %w", url, err)
	}
	if h.Status != "ok" {
		return fmt.Errorf("GET %s: status %q", url, h.Status)
	}
	return nil
}
