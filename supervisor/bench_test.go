package supervisor_test

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/anthropics/cco/internal/tooltest"
)

// The benchmarks run the real binary, as a user would.
// `go test -run '^$' -bench . ./supervisor`.

// BenchmarkCrashToServing measures, under the supervisor, from kill -9 of
// the daemon to its successor answering GET /health: the first restart of a
// fresh supervisor each time (its delay is then the shortest, 100 ms).
func BenchmarkCrashToServing(b *testing.B) {
	h := newHome(b)
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		h.must("daemon", "start")
		pid := h.daemon()
		b.StartTimer()
		h.kill(pid, syscall.SIGKILL)
		for next := 0; next == 0 || next == pid; {
			time.Sleep(time.Millisecond)
			next = h.daemon()
		}
		b.StopTimer()
		h.must("daemon", "stop")
	}
}

// BenchmarkIdleCPU reports the CPU time that the supervisor and the daemon,
// idle with the default configuration (a probe every 30 s), use in 10 s
// (utime + stime of /proc/<pid>/stat, Linux).
func BenchmarkIdleCPU(b *testing.B) {
	h := newHome(b)
	h.must("daemon", "start")
	defer h.must("daemon", "stop")
	sup, pid := h.supervisor(), h.daemon()
	const window = 10 * time.Second
	s0, d0 := cpuTicks(b, sup), cpuTicks(b, pid)
	time.Sleep(window)
	s1, d1 := cpuTicks(b, sup), cpuTicks(b, pid)
	for b.Loop() {
	}
	b.ReportMetric(ticksToMs(s1-s0), "supervisor-CPU-ms/10s")
	b.ReportMetric(ticksToMs(d1-d0), "daemon-CPU-ms/10s")
}

// BenchmarkSupervisorRSS reports the supervisor's resident memory (VmRSS)
// once it relayed the first readiness line, and after 10 s of probes every
// second and one restart.
func BenchmarkSupervisorRSS(b *testing.B) {
	h := newHome(b, "CCO_HEALTH_CHECK_INTERVAL=1")
	h.must("daemon", "start")
	defer h.must("daemon", "stop")
	sup := h.supervisor()
	first := rssKB(b, sup)
	h.kill(h.daemon(), syscall.SIGKILL)
	h.restarted(0)
	time.Sleep(10 * time.Second)
	later := rssKB(b, sup)
	for b.Loop() {
	}
	b.ReportMetric(first/1024, "MiB-RSS-ready")
	b.ReportMetric(later/1024, "MiB-RSS-after-probes-and-restart")
}

// cpuTicks is utime + stime of pid, in clock ticks.
func cpuTicks(b *testing.B, pid int) float64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		tooltest.Missing(b, "no /proc: %v", err)
	}
	f := strings.Fields(string(data[strings.LastIndexByte(string(data), ')')+2:]))
	utime, _ := strconv.ParseFloat(f[11], 64) // field 14
	stime, _ := strconv.ParseFloat(f[12], 64) // field 15
	return utime + stime
}

// ticksToMs converts clock ticks (USER_HZ, 100 on Linux) to milliseconds.
func ticksToMs(t float64) float64 { return t * 10 }

func rssKB(b *testing.B, pid int) float64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		tooltest.Missing(b, "no /proc: %v", err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); len(f) == 3 && f[0] == "VmRSS:" {
			kb, _ := strconv.ParseFloat(f[1], 64)
			return kb
		}
	}
	b.Fatalf("no VmRSS for pid %d", pid)
	return 0
}
