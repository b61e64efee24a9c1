package daemon

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/anthropics/cco/protocol"
)

// getOn sends GET path on the keep-alive connection c and reads the answer.
func getOn(t *testing.T, c net.Conn, r *bufio.Reader, path string) {
	t.Helper()
	if _, err := io.WriteString(c, "GET "+path+" HTTP/1.1\r\nHost: "+c.RemoteAddr().String()+"\r\n\r\n"); err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	resp, err := http.ReadResponse(r, nil)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Close {
		t.Fatalf("GET %s: %s (close %v)", path, resp.Status, resp.Close)
	}
}

// TestIdleConnectionIsClosed: a keep-alive connection left idle is closed
// by the daemon after its idle timeout, while one that keeps asking, for
// longer than that timeout in all, stays open.
func TestIdleConnectionIsClosed(t *testing.T) {
	const idle = 300 * time.Millisecond
	o := testOptions(t, nil)
	o.IdleTimeout = idle
	runDaemon(t, o)
	st, err := protocol.ReadState(o.Paths.PIDFile())
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.Dial("tcp", st.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r := bufio.NewReader(c)
	// Busy for three idle timeouts: the connection stays.
	for begin := time.Now(); time.Since(begin) < 3*idle; {
		getOn(t, c, r, "/health")
		time.Sleep(idle / 4)
	}
	// Then idle: the daemon closes it. The read deadline only bounds a
	// daemon that never does.
	begin := time.Now()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, err = r.ReadByte()
	switch {
	case errors.Is(err, os.ErrDeadlineExceeded):
		t.Fatalf("an idle keep-alive connection was still open after %v (idle timeout %v)", time.Since(begin), idle)
	case err == nil:
		t.Fatalf("the daemon sent something on an idle connection")
	}
	t.Logf("idle connection closed after %v: %v", time.Since(begin).Round(time.Millisecond), err)
}

// TestServerTimeouts: the daemon's server has every timeout set, the idle
// one by default to IdleTimeout.
func TestServerTimeouts(t *testing.T) {
	o := testOptions(t, nil)
	d, err := start(o)
	if err != nil {
		t.Fatal(err)
	}
	defer d.shutdown()
	s := d.srv
	if s.ReadHeaderTimeout != ReadHeaderTimeout || s.ReadTimeout != ReadTimeout || s.WriteTimeout != WriteTimeout || s.IdleTimeout != IdleTimeout {
		t.Errorf("timeouts: header %v read %v write %v idle %v", s.ReadHeaderTimeout, s.ReadTimeout, s.WriteTimeout, s.IdleTimeout)
	}
	for _, d := range []time.Duration{ReadHeaderTimeout, ReadTimeout, WriteTimeout, IdleTimeout} {
		if d <= 0 {
			t.Errorf("a timeout is %v: none", d)
		}
	}
}
