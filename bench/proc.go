package main

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// freePort asks the kernel for a free loopback port.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// waitPort dials 127.0.0.1:port every millisecond until it accepts.
func waitPort(port int, limit time.Duration) error {
	addr := "127.0.0.1:" + strconv.Itoa(port)
	deadline := time.Now().Add(limit)
	for {
		c, err := net.DialTimeout("tcp", addr, 50*time.Millisecond)
		if err == nil {
			c.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("port %d did not accept within %s: %v", port, limit, err)
		}
		time.Sleep(time.Millisecond)
	}
}

// waitClosed waits until nothing accepts on 127.0.0.1:port any more.
func waitClosed(port int, limit time.Duration) error {
	addr := "127.0.0.1:" + strconv.Itoa(port)
	deadline := time.Now().Add(limit)
	for {
		c, err := net.DialTimeout("tcp", addr, 50*time.Millisecond)
		if err != nil {
			return nil
		}
		c.Close()
		if time.Now().After(deadline) {
			return fmt.Errorf("port %d still accepts after %s", port, limit)
		}
		time.Sleep(time.Millisecond)
	}
}

// runner runs commands with a fixed environment.
type runner struct {
	env []string
	dir string
}

// run runs name args and returns its combined output; a non-zero exit is an
// error that carries the output.
func (r runner) run(name string, args ...string) ([]byte, error) {
	cmd := exec.Command(name, args...)
	cmd.Env = r.env
	cmd.Dir = r.dir
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	err := cmd.Run()
	if err != nil {
		return out.Bytes(), fmt.Errorf("%s %s: %v: %s", name, strings.Join(args, " "), err, strings.TrimSpace(out.String()))
	}
	return out.Bytes(), nil
}

// baseEnv is a small, explicit environment for every command we time.
func baseEnv(extra ...string) []string {
	env := []string{"PATH=" + os.Getenv("PATH"), "LANG=C.UTF-8"}
	return append(env, extra...)
}

// pidsWithEnv lists the processes whose environment holds kv (such as
// CCO_HOME=/tmp/x): how the harness finds the daemon each peer started.
func pidsWithEnv(kv string) []int {
	ents, _ := os.ReadDir("/proc")
	var pids []int
	needle := []byte(kv + "\x00")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "environ"))
		if err != nil {
			continue
		}
		if bytes.HasPrefix(b, needle) || bytes.Contains(b, append([]byte{0}, needle...)) {
			if st, _ := procState(pid); st == "Z" {
				continue
			}
			pids = append(pids, pid)
		}
	}
	return pids
}

// procState is the one-letter state of pid from /proc/pid/stat.
func procState(pid int) (string, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return "", err
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 || i+2 >= len(b) {
		return "", fmt.Errorf("bad stat")
	}
	return string(b[i+2]), nil
}

// rssKB reads VmRSS of pid in kB.
func rssKB(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "VmRSS:") {
			f := strings.Fields(l)
			if len(f) >= 2 {
				return strconv.ParseInt(f[1], 10, 64)
			}
		}
	}
	return 0, fmt.Errorf("no VmRSS for pid %d", pid)
}

// endPIDs ends the given processes (started by this harness, found by their
// environment): SIGTERM, then SIGKILL after a second.
func endPIDs(pids []int) {
	for _, p := range pids {
		_ = syscall.Kill(p, syscall.SIGTERM)
	}
	deadline := time.Now().Add(time.Second)
	for _, p := range pids {
		for time.Now().Before(deadline) {
			if st, err := procState(p); err != nil || st == "Z" {
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
		if st, err := procState(p); err == nil && st != "Z" {
			_ = syscall.Kill(p, syscall.SIGKILL)
		}
	}
}
