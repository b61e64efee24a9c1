package cli

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/anthropics/cco/ledger"
)

// TestIngestProgress: the progress cco usage prints is read from the
// ledger's own state as /health carries it.
func TestIngestProgress(t *testing.T) {
	state := ledger.State{Syncing: true, ProgressFiles: 1234, TotalFiles: 9400, ProgressBytes: 100 << 20, TotalBytes: 1 << 30}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]any{"status": "ok", "ledger": state})
	}))
	defer srv.Close()
	if got, want := ingestProgress(context.Background(), srv.URL), " (read 1,234 of 9,400 files, 100.0 MiB of 1024.0 MiB)"; got != want {
		t.Errorf("while syncing: %q, want %q", got, want)
	}
	state.Syncing = false
	if got := ingestProgress(context.Background(), srv.URL); got != "" {
		t.Errorf("after the scan: %q, want nothing", got)
	}
}
