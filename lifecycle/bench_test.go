package lifecycle_test

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	_ "github.com/anthropics/cco/internal/golden" // its -update flag: `go test ./... -update` works from the root
	"github.com/anthropics/cco/internal/tooltest"

	"github.com/anthropics/cco/internal/testhost"
	"github.com/anthropics/cco/protocol"

	"github.com/anthropics/cco/config"
	"github.com/anthropics/cco/lifecycle"
)

// The benchmarks run the real binary as a user would, each command a new
// process, so that they compare with other tools' command lines (see
// BenchmarkPeerStartStopDaemon). `go test -run '^$' -bench . ./lifecycle`.

// benchHome is a CCO_HOME and a free port for one benchmark; any daemon left
// is killed at the end.
type benchHome struct {
	b    *testing.B
	home string
	port string
}

func newBenchHome(b *testing.B) *benchHome {
	h := &benchHome{b: b, home: filepath.Join(b.TempDir(), ".cco"), port: strconv.Itoa(testhost.FreePort(b))}
	b.Cleanup(func() { killDaemon(h.home) })
	return h
}

func (h *benchHome) cco(args ...string) []byte {
	cmd := exec.Command(testhost.CCO(h.b), args...)
	cmd.Env = append(os.Environ(), "CCO_HOME="+h.home, "HOME="+filepath.Dir(h.home), "CCO_PORT="+h.port)
	out, err := cmd.CombinedOutput()
	if err != nil {
		h.b.Fatalf("cco %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

func BenchmarkStartStop(b *testing.B) {
	h := newBenchHome(b)
	for b.Loop() {
		h.cco("daemon", "start")
		h.cco("daemon", "stop")
	}
}

// BenchmarkStart measures `cco daemon start` until the daemon serves.
func BenchmarkStart(b *testing.B) {
	h := newBenchHome(b)
	for i := 0; i < b.N; i++ {
		h.cco("daemon", "start")
		b.StopTimer()
		h.cco("daemon", "stop")
		b.StartTimer()
	}
}

// BenchmarkStop measures `cco daemon stop` until the daemon has exited.
func BenchmarkStop(b *testing.B) {
	h := newBenchHome(b)
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		h.cco("daemon", "start")
		b.StartTimer()
		h.cco("daemon", "stop")
	}
}

// BenchmarkStatus measures `cco daemon status` with a live GET /health.
func BenchmarkStatus(b *testing.B) {
	h := newBenchHome(b)
	h.cco("daemon", "start")
	for b.Loop() {
		h.cco("daemon", "status")
	}
	h.cco("daemon", "stop")
}

// BenchmarkLogsTail1GB measures `cco daemon logs -n 50` on a 1 GB log: a
// sparse file whose last MB is log lines, so the disk holds only that MB.
func BenchmarkLogsTail1GB(b *testing.B) {
	h := newBenchHome(b)
	paths := config.Paths{Home: h.home}
	if err := paths.Ensure(); err != nil {
		b.Fatal(err)
	}
	f, err := os.Create(paths.LogFile())
	if err != nil {
		b.Fatal(err)
	}
	const size = 1 << 30
	if err := f.Truncate(size - 1<<20); err != nil {
		b.Fatal(err)
	}
	if _, err := f.Seek(0, io.SeekEnd); err != nil {
		b.Fatal(err)
	}
	w := bufio.NewWriter(f)
	for i := 0; ; i++ {
		line := fmt.Sprintf("time=2026-01-01T00:00:00Z level=INFO msg=request n=%08d\n", i)
		if fi, _ := f.Stat(); fi.Size()+int64(w.Buffered()+len(line)) > size {
			break
		}
		w.WriteString(line)
	}
	w.Flush()
	f.Close()
	b.Run("process", func(b *testing.B) {
		for b.Loop() {
			if out := h.cco("daemon", "logs", "-n", "50"); bytes.Count(out, []byte("\n")) != 50 {
				b.Fatalf("logs -n 50 printed %d lines", bytes.Count(out, []byte("\n")))
			}
		}
	})
	b.Run("in-process", func(b *testing.B) {
		for b.Loop() {
			if _, err := lifecycle.Tail(io.Discard, paths.LogFile(), 50); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkIdleRSS reports the resident memory of an idle daemon that has
// answered one status (VmRSS, Linux only).
func BenchmarkIdleRSS(b *testing.B) {
	h := newBenchHome(b)
	h.cco("daemon", "start")
	defer h.cco("daemon", "stop")
	h.cco("daemon", "status")
	st, err := protocol.ReadState(config.Paths{Home: h.home}.PIDFile())
	if err != nil {
		b.Fatal(err)
	}
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", st.PID))
	if err != nil {
		tooltest.Missing(b, "no /proc: %v", err)
	}
	var kb float64
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); len(f) == 3 && f[0] == "VmRSS:" {
			kb, _ = strconv.ParseFloat(f[1], 64)
		}
	}
	for b.Loop() {
	}
	b.ReportMetric(kb/1024, "MB-RSS")
}

// BenchmarkPeerStartStopDaemon is the yardstick: Debian's start-stop-daemon
// starting and stopping (--retry) a sleep, in the same run.
func BenchmarkPeerStartStopDaemon(b *testing.B) {
	ssd, err := exec.LookPath("start-stop-daemon")
	if err != nil {
		b.Skip("start-stop-daemon (dpkg) not installed")
	}
	pidfile := filepath.Join(b.TempDir(), "sleep.pid")
	run := func(args ...string) {
		if out, err := exec.Command(ssd, args...).CombinedOutput(); err != nil {
			b.Fatalf("start-stop-daemon %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	for b.Loop() {
		run("--start", "--background", "--make-pidfile", "--pidfile", pidfile, "--exec", "/bin/sleep", "--", "300")
		run("--stop", "--pidfile", pidfile, "--retry", "TERM/5/KILL/5", "--remove-pidfile")
	}
}
