package lifecycle

import (
	"net"
	"os"
	"testing"
	"time"
)

// TestStats reads this very process: it has memory, has used CPU, and
// holds the one connection it makes to its own listener.
func TestStats(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	before, err := Stats(os.Getpid(), port)
	if err != nil {
		t.Fatal(err)
	}
	if before.Connections != 0 {
		t.Errorf("%d connections to a listener nobody dialled", before.Connections)
	}
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	served, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer served.Close()
	for deadline := time.Now().Add(time.Second); time.Now().Before(deadline); {
		_ = make([]byte, 1<<20) // some CPU and memory
	}
	s, err := Stats(os.Getpid(), port)
	if err != nil {
		t.Fatal(err)
	}
	if s.RSS < 1<<20 || s.CPU < 100*time.Millisecond || s.Connections != 1 {
		t.Errorf("Stats = %+v; want RSS over 1 MiB, CPU over 100 ms, 1 connection", s)
	}
}
