package dashboard

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/anthropics/cco/ledger"
)

func assistant(id string, in int64) string {
	return fmt.Sprintf(`{"type":"assistant","sessionId":"s","requestId":"r%s","timestamp":"2026-03-01T10:00:00Z","message":{"id":"m%s","model":"claude-sonnet-4-6","usage":{"input_tokens":%d,"output_tokens":1}}}`+"\n", id, id, in)
}

// TestEvents: a stream says the generation at once and again when ingest
// changes it, and ends when the dashboard closes (the daemon's shutdown
// does not wait for open pages).
func TestEvents(t *testing.T) {
	root := t.TempDir()
	file := filepath.Join(root, "projects", "p", "s.jsonl")
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, []byte(assistant("1", 10)), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	l, err := ledger.Open(ctx, "sqlite://a.db", t.TempDir(), ledger.Options{Roots: []string{root}})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if _, err := l.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	srv := httptest.NewUnstartedServer(mux)
	d := New(Options{Host: "127.0.0.1", Port: srv.Listener.Addr().(*net.TCPAddr).Port, Setting: "on", Poll: 10 * time.Millisecond,
		Ledger: func(context.Context) (*ledger.Ledger, error) { return l, nil }, Usage: http.NotFoundHandler()})
	d.Register(mux)
	srv.Start()
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/api/events")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("Content-Type %q", ct)
	}
	events := make(chan Pulse, 16)
	go func() {
		defer close(events)
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			if data, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
				var p Pulse
				if err := json.Unmarshal([]byte(data), &p); err != nil {
					t.Error(err)
				}
				events <- p
			}
		}
	}()
	first := <-events
	if first.Generation != l.State().Generation || first.Generation == 0 {
		t.Fatalf("first event %+v, ledger generation %d", first, l.State().Generation)
	}
	f, err := os.OpenFile(file, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(assistant("2", 20))
	f.Close()
	if _, err := l.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case p := <-events:
		if p.Generation != first.Generation+1 {
			t.Fatalf("after an ingest: %+v, want generation %d", p, first.Generation+1)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no event after an ingest")
	}
	d.Close()
	select {
	case _, open := <-events:
		if open {
			t.Fatal("an event after Close, want the stream's end")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the stream is still open after Close")
	}
}
