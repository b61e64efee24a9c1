package dashboard

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/anthropics/cco/ledger"
)

// Pulse is what an event says: the ledger's generation (the page fetches
// /api/dashboard again when it changed) and the progress of a scan under
// way (the page shows it at once).
type Pulse struct {
	Generation    uint64 `json:"generation"`
	Syncing       bool   `json:"syncing"`
	ProgressFiles int64  `json:"progressFiles"`
	TotalFiles    int64  `json:"totalFiles"`
	ProgressBytes int64  `json:"progressBytes"`
	TotalBytes    int64  `json:"totalBytes"`
	Malformed     int64  `json:"malformed"`
}

func pulse(s ledger.State) Pulse {
	return Pulse{s.Generation, s.Syncing, s.ProgressFiles, s.TotalFiles, s.ProgressBytes, s.TotalBytes, s.Malformed}
}

// serveEvents is a text/event-stream with an event at once and one
// whenever the Pulse changes. It compares on a ticker (Options.Poll) rather
// than waiting on the ledger: the ledger has no change channel, a
// comparison is a mutex and a copy, and the ticker runs only while a page
// is open. An idle daemon with no page open does nothing here.
func (d *Dashboard) serveEvents(w http.ResponseWriter, r *http.Request) {
	l, err := d.o.Ledger(r.Context())
	if err != nil {
		jsonError(w, http.StatusServiceUnavailable, "usage reports are not available: "+err.Error())
		return
	}
	rc := http.NewResponseController(w)
	// A stream lives as long as its page: the server's write timeout is
	// for answers, not for it.
	_ = rc.SetWriteDeadline(time.Time{})
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	t := time.NewTicker(d.o.Poll)
	defer t.Stop()
	var last Pulse
	for first := true; ; first = false {
		if p := pulse(l.State()); first || p != last {
			last = p
			b, _ := json.Marshal(p)
			if _, err := w.Write(append(append([]byte("data: "), b...), '\n', '\n')); err != nil {
				return
			}
			if err := rc.Flush(); err != nil {
				return
			}
		}
		select {
		case <-t.C:
		case <-r.Context().Done():
			return
		case <-d.closing:
			return
		}
	}
}
