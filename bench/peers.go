package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/anthropics/cco/internal/usermanager"
)

// workload is the process every tool starts: `cco daemon run` with its own
// CCO_HOME and port, so that every tool runs the very same server.
type workload struct {
	bin  string   // absolute path
	args []string // such as daemon run
	home string   // CCO_HOME
	port int
}

func (w workload) env() []string {
	return []string{"CCO_HOME=" + w.home, "CCO_PORT=" + strconv.Itoa(w.port)}
}

// tool is one way to start and stop the workload.
type tool interface {
	name() string
	setup(w workload) error
	start() error // returns when the tool returns, ready or not
	stop() error  // returns when the tool returns
	status() error
	managerPID() int // the supervising process, 0 when there is none
	teardown()
}

// --- cco itself ---------------------------------------------------------

type ccoTool struct {
	bin string
	w   workload
	r   runner
}

func (t *ccoTool) name() string { return "cco" }
func (t *ccoTool) setup(w workload) error {
	t.w = w
	t.r = runner{env: baseEnv("CCO_HOME="+w.home, "HOME="+w.home)}
	return nil
}
func (t *ccoTool) start() error {
	_, err := t.r.run(t.bin, "daemon", "start", "--port", strconv.Itoa(t.w.port))
	return err
}
func (t *ccoTool) stop() error { _, err := t.r.run(t.bin, "daemon", "stop"); return err }
func (t *ccoTool) status() error {
	_, err := t.r.run(t.bin, "daemon", "status")
	return err
}
func (t *ccoTool) managerPID() int { return 0 }
func (t *ccoTool) teardown()       { _, _ = t.r.run(t.bin, "daemon", "stop") }

// --- raw fork + kill: the floor -------------------------------------------

type rawTool struct {
	w   workload
	cmd *exec.Cmd
}

func (t *rawTool) name() string           { return "fork+kill" }
func (t *rawTool) setup(w workload) error { t.w = w; return nil }
func (t *rawTool) status() error          { return fmt.Errorf("no status") }
func (t *rawTool) managerPID() int        { return 0 }
func (t *rawTool) teardown()              { _ = t.stop() }
func (t *rawTool) start() error {
	t.cmd = exec.Command(t.w.bin, t.w.args...)
	t.cmd.Env = baseEnv(t.w.env()...)
	return t.cmd.Start()
}
func (t *rawTool) stop() error {
	if t.cmd == nil || t.cmd.Process == nil {
		return nil
	}
	_ = t.cmd.Process.Signal(syscall.SIGTERM)
	_ = t.cmd.Wait()
	t.cmd = nil
	return nil
}

// --- start-stop-daemon ----------------------------------------------------

type ssdTool struct {
	w       workload
	pidfile string
	r       runner
}

func (t *ssdTool) name() string { return "start-stop-daemon" }
func (t *ssdTool) setup(w workload) error {
	if _, err := exec.LookPath("start-stop-daemon"); err != nil {
		return err
	}
	t.w = w
	t.pidfile = filepath.Join(w.home, "ssd.pid")
	t.r = runner{env: baseEnv(w.env()...)}
	return nil
}
func (t *ssdTool) start() error {
	args := append([]string{"--start", "--background", "--make-pidfile", "--pidfile", t.pidfile, "--exec", t.w.bin, "--"}, t.w.args...)
	_, err := t.r.run("start-stop-daemon", args...)
	return err
}
func (t *ssdTool) stop() error {
	_, err := t.r.run("start-stop-daemon", "--stop", "--retry", "TERM/10/KILL/5", "--pidfile", t.pidfile)
	return err
}
func (t *ssdTool) status() error {
	_, err := t.r.run("start-stop-daemon", "--status", "--pidfile", t.pidfile)
	return err
}
func (t *ssdTool) managerPID() int { return 0 }
func (t *ssdTool) teardown()       { _ = t.stop() }

// --- systemd --user, a private manager ------------------------------------

// systemdTool runs `systemd --user` in its own cgroup and a private mount
// namespace (internal/usermanager), so that the machine's own systemd (if
// any) is never touched.
type systemdTool struct {
	mgr *usermanager.Manager
	log *os.File
}

const unitName = "ccobench.service"

func (t *systemdTool) name() string { return "systemctl --user" }
func (t *systemdTool) setup(w workload) error {
	if err := usermanager.Check(); err != nil {
		return err
	}
	base := filepath.Join(w.home, "systemd")
	if err := os.MkdirAll(base, 0o700); err != nil {
		return err
	}
	log, err := os.Create(filepath.Join(base, "manager.log"))
	if err != nil {
		return err
	}
	t.log = log
	mgr, err := usermanager.New(base, log)
	if err != nil {
		return err
	}
	unit := fmt.Sprintf("[Unit]\nDescription=cco bench workload\n\n[Service]\nType=simple\nEnvironment=%s\nExecStart=%s %s\n",
		strings.Join(w.env(), " "), w.bin, strings.Join(w.args, " "))
	if err := os.WriteFile(filepath.Join(mgr.UnitDir(), unitName), []byte(unit), 0o644); err != nil {
		return err
	}
	if err := mgr.Boot(); err != nil {
		return err
	}
	t.mgr = mgr
	return nil
}
func (t *systemdTool) start() error {
	_, err := t.mgr.Systemctl("start", unitName)
	return err
}
func (t *systemdTool) stop() error {
	_, err := t.mgr.Systemctl("stop", unitName)
	return err
}
func (t *systemdTool) status() error {
	_, err := t.mgr.Systemctl("status", unitName)
	return err
}
func (t *systemdTool) managerPID() int {
	if t.mgr == nil {
		return 0
	}
	return t.mgr.PID()
}

// teardown ends the manager as a logout would and removes its cgroups.
func (t *systemdTool) teardown() {
	if t.mgr != nil {
		if err := t.mgr.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "systemd --user teardown:", err)
		}
		t.mgr = nil
	}
	if t.log != nil {
		t.log.Close()
	}
}

// --- supervisord ----------------------------------------------------------

type supervisorTool struct {
	w    workload
	conf string
	mgr  *exec.Cmd
	r    runner
}

func (t *supervisorTool) name() string { return "supervisorctl" }
func (t *supervisorTool) setup(w workload) error {
	t.w = w
	dir := filepath.Join(w.home, "supervisor")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	var envs []string
	for _, kv := range w.env() {
		k, v, _ := strings.Cut(kv, "=")
		envs = append(envs, fmt.Sprintf("%s=%q", k, v))
	}
	conf := fmt.Sprintf(`[unix_http_server]
file=%[1]s/supervisor.sock
chmod=0700

[supervisord]
logfile=%[1]s/supervisord.log
pidfile=%[1]s/supervisord.pid
childlogdir=%[1]s
nodaemon=true

[rpcinterface:supervisor]
supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface

[supervisorctl]
serverurl=unix://%[1]s/supervisor.sock

[program:cco]
command=%[2]s %[3]s
environment=%[4]s
autostart=false
autorestart=false
startsecs=0
stopwaitsecs=10
stdout_logfile=%[1]s/cco.out
stderr_logfile=%[1]s/cco.err
`, dir, w.bin, strings.Join(w.args, " "), strings.Join(envs, ","))
	t.conf = filepath.Join(dir, "supervisord.conf")
	if err := os.WriteFile(t.conf, []byte(conf), 0o600); err != nil {
		return err
	}
	t.mgr = exec.Command("supervisord", "-n", "-c", t.conf)
	t.mgr.Env = baseEnv()
	if err := t.mgr.Start(); err != nil {
		t.mgr = nil
		return err
	}
	t.r = runner{env: baseEnv()}
	deadline := time.Now().Add(15 * time.Second)
	for {
		if _, err := t.r.run("supervisorctl", "-c", t.conf, "pid"); err == nil {
			return nil
		} else if time.Now().After(deadline) {
			t.teardown()
			return fmt.Errorf("supervisord not up: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
func (t *supervisorTool) start() error {
	_, err := t.r.run("supervisorctl", "-c", t.conf, "start", "cco")
	return err
}
func (t *supervisorTool) stop() error {
	_, err := t.r.run("supervisorctl", "-c", t.conf, "stop", "cco")
	return err
}
func (t *supervisorTool) status() error {
	_, err := t.r.run("supervisorctl", "-c", t.conf, "status", "cco")
	return err
}
func (t *supervisorTool) managerPID() int {
	if t.mgr == nil || t.mgr.Process == nil {
		return 0
	}
	return t.mgr.Process.Pid
}
func (t *supervisorTool) teardown() {
	if t.mgr == nil {
		return
	}
	_, _ = t.r.run("supervisorctl", "-c", t.conf, "shutdown")
	done := make(chan struct{})
	go func() { _ = t.mgr.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = t.mgr.Process.Kill()
		<-done
	}
	t.mgr = nil
}

// --- pm2 --------------------------------------------------------------------

type pm2Tool struct {
	w    workload
	home string
	r    runner
	up   bool
}

const pm2App = "ccobench"

func (t *pm2Tool) name() string { return "pm2" }
func (t *pm2Tool) setup(w workload) error {
	t.w = w
	t.home = filepath.Join(w.home, "pm2")
	if err := os.MkdirAll(t.home, 0o700); err != nil {
		return err
	}
	own := []string{"PM2_HOME=" + t.home, "HOME=" + w.home}
	t.r = runner{env: baseEnv(append(own, w.env()...)...)}
	// Start pm2's daemon without the workload's environment, so that only
	// the workload carries CCO_HOME (the harness finds it by that).
	if _, err := (runner{env: baseEnv(own...)}).run("pm2", "ping"); err != nil {
		return err
	}
	t.up = true
	// Register the app once; every timed cycle is then `pm2 start NAME` +
	// `pm2 stop NAME` with the daemon already up.
	args := append([]string{"start", w.bin, "--name", pm2App, "--interpreter", "none", "--no-autorestart", "--"}, w.args...)
	if _, err := t.r.run("pm2", args...); err != nil {
		t.teardown()
		return err
	}
	if err := waitPort(w.port, 10*time.Second); err != nil {
		t.teardown()
		return err
	}
	if err := t.stop(); err != nil {
		t.teardown()
		return err
	}
	return waitClosed(w.port, 10*time.Second)
}
func (t *pm2Tool) start() error { _, err := t.r.run("pm2", "start", pm2App); return err }
func (t *pm2Tool) stop() error  { _, err := t.r.run("pm2", "stop", pm2App); return err }
func (t *pm2Tool) status() error {
	_, err := t.r.run("pm2", "jlist")
	return err
}
func (t *pm2Tool) managerPID() int {
	b, err := os.ReadFile(filepath.Join(t.home, "pm2.pid"))
	if err != nil {
		return 0
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	return pid
}
func (t *pm2Tool) teardown() {
	if !t.up {
		return
	}
	pid := t.managerPID()
	_, _ = t.r.run("pm2", "delete", pm2App)
	_, _ = t.r.run("pm2", "kill")
	if pid > 0 {
		deadline := time.Now().Add(5 * time.Second)
		for time.Now().Before(deadline) {
			if st, err := procState(pid); err != nil || st == "Z" {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	t.up = false
}
