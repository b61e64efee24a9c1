package supervisor_test

import (
	"bufio"
	"context"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/anthropics/cco/internal/testhost"
	"github.com/anthropics/cco/protocol"
	"github.com/anthropics/cco/supervisor"
)

// Run in this process (so that -race sees its goroutines): it relays the
// first readiness line, restarts a daemon killed with SIGKILL, probes it,
// and when its context ends stops the daemon and returns.
func TestRunInProcess(t *testing.T) {
	h := newHome(t)
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- supervisor.Run(ctx, supervisor.Options{
			Paths: h.paths, Executable: testhost.CCO(t), Env: h.env, Ready: w,
			// Probes every 20 ms: several run while the daemon restarts.
			HealthInterval: 20 * time.Millisecond, Policy: supervisor.DefaultPolicy,
		})
	}()
	line, err := bufio.NewReader(r).ReadString('\n')
	if err != nil {
		t.Fatalf("reading the readiness line: %v", err)
	}
	st, ok := protocol.ParseReady(strings.TrimSuffix(line, "\n"))
	if !ok {
		t.Fatalf("the relayed line is not a readiness line: %q", line)
	}
	if got := h.daemon(); got != st.PID {
		t.Fatalf("the line names pid %d, the serving daemon is %d", st.PID, got)
	}
	h.kill(st.PID, syscall.SIGKILL)
	next := h.restarted(st.PID)
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run after its context ended: %v", err)
		}
	case <-time.After(testhost.EventuallyWithin):
		t.Fatal("Run did not return after its context ended")
	}
	if protocol.Alive(next) {
		t.Errorf("the daemon (pid %d) still runs after Run returned", next)
	}
}
