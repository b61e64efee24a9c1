package supervisor

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/anthropics/cco/protocol"
)

// maxProbeTimeout bounds one GET /health, whatever the interval.
const maxProbeTimeout = 5 * time.Second

// prober asks the daemon GET /health through its own listener.
type prober struct{ client *http.Client }

func newProber() *prober {
	// No keep-alive: one request per interval, and an idle connection
	// would hold a goroutine and buffers for nothing.
	return &prober{client: &http.Client{Transport: &http.Transport{DisableKeepAlives: true, Proxy: nil}}}
}

// check asks st's daemon GET /health, waiting at most min(interval,
// maxProbeTimeout): it must answer "ok" with its own pid.
func (p *prober) check(ctx context.Context, st *protocol.State, interval time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, min(interval, maxProbeTimeout))
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, st.URL()+"/health", nil)
	if err != nil {
		return err
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var h protocol.Health
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET /health: %s", resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(&h); err != nil {
		return fmt.Errorf("GET /health: %w", err)
	}
	if h.Status != "ok" || h.PID != st.PID {
		return fmt.Errorf("GET /health answered status %q from pid %d", h.Status, h.PID)
	}
	return nil
}
