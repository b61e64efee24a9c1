package supervisor

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/anthropics/cco/protocol"
)

// maxProbeTimeout bounds one GET /health, whatever the interval.
const maxProbeTimeout = 5 * time.Second

// maxHealthBytes bounds the answer read: the health document is small.
const maxHealthBytes = 64 << 10

// checkHealth asks st's daemon GET /health through its own listener, waiting at
// most min(interval, maxProbeTimeout): it must answer 200 and "ok" with its
// own pid. It speaks HTTP/1.0 over a plain connection rather than through
// net/http's client: the request is one line, and net/http's transport
// would more than double the supervisor's resident memory for it.
func checkHealth(ctx context.Context, st *protocol.State, interval time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, min(interval, maxProbeTimeout))
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", st.Addr())
	if err != nil {
		return err
	}
	defer conn.Close()
	deadline, _ := ctx.Deadline()
	conn.SetDeadline(deadline)
	if _, err := io.WriteString(conn, "GET /health HTTP/1.0\r\nHost: "+st.Addr()+"\r\n\r\n"); err != nil {
		return fmt.Errorf("GET /health: %w", err)
	}
	resp, err := io.ReadAll(io.LimitReader(conn, maxHealthBytes))
	if err != nil {
		return fmt.Errorf("GET /health: %w", err)
	}
	head, body, ok := bytes.Cut(resp, []byte("\r\n\r\n"))
	status, _, _ := bytes.Cut(head, []byte("\r\n"))
	if !ok || !bytes.HasPrefix(status, []byte("HTTP/1.")) || !bytes.HasPrefix(status[min(len(status), 8):], []byte(" 200")) {
		return fmt.Errorf("GET /health: answered %q", status)
	}
	var h protocol.Health
	if err := json.Unmarshal(body, &h); err != nil {
		return fmt.Errorf("GET /health: %w", err)
	}
	if h.Status != "ok" || h.PID != st.PID {
		return fmt.Errorf("GET /health answered status %q from pid %d", h.Status, h.PID)
	}
	return nil
}
