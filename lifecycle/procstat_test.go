package lifecycle

import (
	"os"
	"testing"
	"time"
)

// TestStats reads this very process, which has memory and has used CPU.
func TestStats(t *testing.T) {
	for deadline := time.Now().Add(time.Second); time.Now().Before(deadline); {
		_ = make([]byte, 1<<20) // some CPU and memory
	}
	s, err := Stats(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if s.RSS < 1<<20 || s.CPU < 100*time.Millisecond {
		t.Errorf("Stats = %+v; want RSS over 1 MiB, CPU over 100 ms", s)
	}
}
