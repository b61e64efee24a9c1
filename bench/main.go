// Command bench measures cco side by side with the tools a user would pick
// instead (start-stop-daemon, systemctl --user, supervisord, pm2), in one
// run on one machine, and prints one markdown table of medians, spreads,
// ratios and targets. Run it under `tini -s` (make bench does) so that the
// daemons the peers leave behind are reaped at once.
//
//	go build -o bench/out/ccobench ./bench && tini -s -- bench/out/ccobench -cco ./cco
package main

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/anthropics/cco/config"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "serve" {
		serve()
		return
	}
	if len(os.Args) > 1 && os.Args[1] == "ingest" {
		if err := ingestMain(os.Args[2:]); err != nil {
			fmt.Fprintf(os.Stderr, "bench: ingest: %v\n", err)
			os.Exit(1)
		}
		return
	}
	if err := mainErr(); err != nil {
		fmt.Fprintf(os.Stderr, "bench: %v\n", err)
		os.Exit(1)
	}
}

type options struct {
	cco      string
	n, warm  int
	logSize  int64
	idle     time.Duration
	out      string
	fake     bool
	install  bool
	only     string
	keepTemp bool
	// the usage ledger beside ccusage
	ledgerBytes int64
	ledgerRuns  int
	usageDaily  bool
}

func mainErr() error {
	var o options
	flag.StringVar(&o.cco, "cco", "./cco", "the cco binary to measure (built by make build)")
	flag.IntVar(&o.n, "n", 30, "timed runs per measure")
	flag.IntVar(&o.warm, "warm", 3, "untimed warm-up runs per measure")
	flag.Int64Var(&o.logSize, "log-size", 1<<30, "size of the log for `logs -n 50`, in bytes")
	flag.DurationVar(&o.idle, "idle", 5*time.Second, "how long the daemon idles before its RSS is read")
	flag.StringVar(&o.out, "out", "bench/out/results.md", "where to write the table too")
	flag.BoolVar(&o.fake, "fake-workload", false, "peers run this program's trivial server instead of `cco daemon run` (to test the harness)")
	flag.BoolVar(&o.install, "install", true, "install missing peers (apt-get, npm)")
	flag.StringVar(&o.only, "only", "", "comma-separated tools to run (cco,fork+kill,start-stop-daemon,systemctl,supervisorctl,pm2,ledger); empty: all")
	flag.Int64Var(&o.ledgerBytes, "ledger-bytes", 1<<30, "size of the generated transcript tree the ledger and ccusage read, in bytes; 0: no ledger rows")
	flag.IntVar(&o.ledgerRuns, "ledger-runs", 5, "timed runs of the ledger's first ingest and of ccusage daily")
	flag.BoolVar(&o.usageDaily, "usage-daily", false, "also time `cco usage daily` end to end on the ingested ledger")
	flag.BoolVar(&o.keepTemp, "keep", false, "keep the temporary directory")
	flag.Parse()

	ccoBin, err := filepath.Abs(o.cco)
	if err != nil {
		return err
	}
	if _, err := os.Stat(ccoBin); err != nil {
		return fmt.Errorf("%v (run make build first)", err)
	}
	if os.Getppid() != 1 && !underTini() {
		fmt.Fprintln(os.Stderr, "bench: warning: not under `tini -s`: orphaned daemons may linger as zombies and slow the peers' stops")
	}
	if o.install {
		installPeers()
	}
	tmp, err := os.MkdirTemp("", "ccobench-")
	if err != nil {
		return err
	}
	if !o.keepTemp {
		defer os.RemoveAll(tmp)
	}
	// Ctrl-C: tear down what was started before leaving.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	interrupted := make(chan struct{})
	go func() { <-sigs; close(interrupted) }()

	self, _ := os.Executable()
	wl := func(name string) (workload, error) {
		port, err := freePort()
		if err != nil {
			return workload{}, err
		}
		home := filepath.Join(tmp, strings.NewReplacer(" ", "_", "-", "_", "+", "_").Replace(name))
		if err := os.MkdirAll(home, 0o700); err != nil {
			return workload{}, err
		}
		w := workload{bin: ccoBin, args: []string{"daemon", "run"}, home: home, port: port}
		if o.fake {
			w.bin, w.args = self, []string{"serve"}
		}
		return w, nil
	}

	res := &results{cycle: map[string]stats{}, status: map[string]stats{}, mgrRSS: map[string]int64{}}
	tools := []tool{&ccoTool{bin: ccoBin}, &rawTool{}, &ssdTool{}, &systemdTool{}, &supervisorTool{}, &pm2Tool{}}
	if o.fake {
		tools = tools[1:]
	}
	for _, t := range tools {
		if !selected(o.only, t.name()) {
			continue
		}
		select {
		case <-interrupted:
			return fmt.Errorf("interrupted")
		default:
		}
		w, err := wl(t.name())
		if err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "bench: %s ...\n", t.name())
		measureTool(t, w, o, res)
	}
	if !o.fake && selected(o.only, "cco") {
		fmt.Fprintln(os.Stderr, "bench: completion, logs ...")
		measureCCOOnly(ccoBin, tmp, o, res)
	}
	if !o.fake && o.ledgerBytes > 0 && selected(o.only, "ledger") {
		fmt.Fprintln(os.Stderr, "bench: usage ledger beside ccusage ...")
		measureLedger(ccoBin, tmp, o, res)
	}

	table := res.table(machine(ccoBin), o) + res.ledgerTable(o)
	fmt.Print(table)
	if o.out != "" {
		if err := os.MkdirAll(filepath.Dir(o.out), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(o.out, []byte(table), 0o644); err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "bench: wrote %s\n", o.out)
	}
	return nil
}

func selected(only, name string) bool {
	if only == "" {
		return true
	}
	for _, s := range strings.Split(only, ",") {
		if s != "" && strings.HasPrefix(name, s) {
			return true
		}
	}
	return false
}

func underTini() bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", os.Getppid()))
	return err == nil && strings.TrimSpace(string(b)) == "tini"
}

// measureTool times start→ready→stop cycles, then status with the workload
// running, and reads the idle RSS of the daemon (cco) or of the manager.
func measureTool(t tool, w workload, o options, res *results) {
	name := t.name()
	if err := t.setup(w); err != nil {
		res.fail(name, "setup", err)
		res.cycle[name] = stats{err: err}
		return
	}
	defer func() {
		t.teardown()
		if left := pidsWithEnv("CCO_HOME=" + w.home); len(left) > 0 {
			res.fail(name, "teardown", fmt.Errorf("processes left behind: %v (ended)", left))
			endPIDs(left)
		}
	}()
	cycle := func() error {
		if err := t.start(); err != nil {
			return err
		}
		if err := waitPort(w.port, 10*time.Second); err != nil {
			_ = t.stop()
			return err
		}
		return t.stop()
	}
	settle := func() error {
		if err := waitClosed(w.port, 10*time.Second); err != nil {
			return err
		}
		deadline := time.Now().Add(10 * time.Second)
		for len(pidsWithEnv("CCO_HOME="+w.home)) > 0 {
			if time.Now().After(deadline) {
				return fmt.Errorf("the workload is still alive 10 s after stop returned")
			}
			time.Sleep(time.Millisecond)
		}
		return nil
	}
	s := timeN(o.n, o.warm, cycle, settle)
	res.cycle[name] = s
	if s.err != nil {
		res.fail(name, "cycle", s.err)
	}
	if _, ok := t.(*rawTool); ok {
		return
	}
	// status, with the workload running
	if err := t.start(); err != nil {
		res.fail(name, "status", err)
		res.status[name] = stats{err: err}
		return
	}
	if err := waitPort(w.port, 10*time.Second); err != nil {
		res.fail(name, "status", err)
		res.status[name] = stats{err: err}
		return
	}
	st := timeN(o.n, o.warm, t.status, nil)
	res.status[name] = st
	if st.err != nil {
		res.fail(name, "status", st.err)
	}
	time.Sleep(o.idle)
	if name == "cco" {
		// `cco daemon start` runs the daemon under its supervisor:
		// the one is measured like the daemons, the other like the
		// peers' managers.
		var daemon, super []int
		for _, pid := range pidsWithEnv("CCO_HOME=" + w.home) {
			cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
			switch {
			case strings.HasSuffix(string(cmdline), "\x00daemon\x00run\x00"):
				daemon = append(daemon, pid)
			case strings.HasSuffix(string(cmdline), "\x00daemon\x00supervise\x00"):
				super = append(super, pid)
			}
		}
		if len(daemon) != 1 || len(super) != 1 {
			res.fail(name, "rss", fmt.Errorf("expected one daemon and one supervisor, found %v and %v", daemon, super))
		} else if kb, err := rssKB(daemon[0]); err != nil {
			res.fail(name, "rss", err)
		} else if skb, err := rssKB(super[0]); err != nil {
			res.fail(name, "rss", err)
		} else {
			res.rssKB, res.supervisorRSSKB = kb, skb
		}
	} else if pid := t.managerPID(); pid > 0 {
		if kb, err := rssKB(pid); err == nil {
			res.mgrRSS[name] = kb
		}
	}
	if err := t.stop(); err != nil {
		res.fail(name, "stop", err)
	}
	_ = settle()
}

// measureCCOOnly times what has no peer: a completion query, `logs -n 50`
// on a large log, and the binary's size.
func measureCCOOnly(bin, tmp string, o options, res *results) {
	home := filepath.Join(tmp, "cco_only")
	_ = os.MkdirAll(home, 0o700)
	r := runner{env: baseEnv("CCO_HOME="+home, "HOME="+home)}
	res.completion = timeN(o.n, o.warm, func() error {
		out, err := r.run(bin, "--completion-bash", "daemon")
		if err == nil && !bytes.Contains(out, []byte("start")) {
			err = fmt.Errorf("completion offered no `start`: %q", out)
		}
		return err
	}, nil)
	if res.completion.err != nil {
		res.fail("cco", "completion", res.completion.err)
	}

	logPath := config.Paths{Home: home}.LogFile()
	last, err := writeLog(logPath, o.logSize)
	if err != nil {
		res.fail("cco", "logs", err)
		res.logs = stats{err: err}
	} else {
		res.logSize = o.logSize
		res.logs = timeN(o.n, o.warm, func() error {
			out, err := r.run(bin, "daemon", "logs", "-n", "50")
			if err != nil {
				return err
			}
			lines := strings.Split(strings.TrimRight(string(out), "\n"), "\n")
			if len(lines) != 50 || !strings.Contains(lines[49], last) {
				return fmt.Errorf("logs -n 50 printed %d lines, last %q; want 50 ending with seq=%s", len(lines), lines[len(lines)-1], last)
			}
			return nil
		}, nil)
		if res.logs.err != nil {
			res.fail("cco", "logs", res.logs.err)
		}
	}
	if err := os.Remove(logPath); err != nil && !os.IsNotExist(err) {
		res.fail("cco", "logs", err)
	}
	if fi, err := os.Stat(bin); err == nil {
		res.binSize = fi.Size()
	}
}

// writeLog writes size bytes of log lines and returns the last sequence
// number written.
func writeLog(path string, size int64) (string, error) {
	f, err := os.Create(path)
	if err != nil {
		return "", err
	}
	w := bufio.NewWriterSize(f, 4<<20)
	var written int64
	var seq int64
	line := make([]byte, 0, 256)
	for written < size {
		seq++
		line = line[:0]
		line = append(line, `time=2026-01-01T00:00:00.000Z level=INFO msg=request method=GET path=/health status=200 dur=41µs seq=`...)
		line = strconv.AppendInt(line, seq, 10)
		line = append(line, '\n')
		n, err := w.Write(line)
		if err != nil {
			f.Close()
			return "", err
		}
		written += int64(n)
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return "", err
	}
	return "seq=" + strconv.FormatInt(seq, 10), f.Close()
}

// installPeers installs the peers that are missing: supervisor (Debian) and
// pm2 (npm). start-stop-daemon ships with dpkg; systemd must be there.
func installPeers() {
	need := func(bin string) bool { _, err := exec.LookPath(bin); return err != nil }
	if need("supervisord") || need("supervisorctl") {
		fmt.Fprintln(os.Stderr, "bench: installing supervisor (apt-get)")
		run := func(args ...string) {
			cmd := exec.Command("apt-get", args...)
			cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
			cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
			_ = cmd.Run()
		}
		run("update", "-qq")
		run("install", "-y", "-qq", "supervisor")
	}
	if need("pm2") {
		fmt.Fprintln(os.Stderr, "bench: installing pm2 (npm install -g pm2)")
		cmd := exec.Command("npm", "install", "-g", "pm2")
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		_ = cmd.Run()
	}
}

// serve is the stand-in workload of -fake-workload: listen on CCO_PORT,
// answer /health, exit on SIGTERM.
func serve() {
	l, err := net.Listen("tcp", "127.0.0.1:"+os.Getenv("CCO_PORT"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, os.Interrupt)
	go func() { <-sigs; l.Close(); os.Exit(0) }()
	_ = http.Serve(l, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") }))
}

// machine describes where the figures come from.
func machine(ccoBin string) string {
	model := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(l, "model name") {
				if _, v, ok := strings.Cut(l, ":"); ok {
					model = strings.TrimSpace(v)
				}
				break
			}
		}
	}
	kernel := "?"
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		kernel = strings.TrimSpace(string(b))
	}
	ver := "?"
	if out, err := exec.Command(ccoBin, "--version").CombinedOutput(); err == nil {
		ver = strings.TrimSpace(string(out))
	}
	return fmt.Sprintf("%s · %d × %s · Linux %s · %s · cco %s",
		time.Now().UTC().Format("2006-01-02 15:04 UTC"), runtime.NumCPU(), model, kernel, runtime.Version(), ver)
}
