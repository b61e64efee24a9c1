//go:build faults

// Package faults injects faults under a real cco binary: CCO_HOME on a full,
// a read-only and a foreign filesystem, config.toml replaced under a running
// daemon then SIGHUP, cco killed at random points while it writes files,
// and the log directory removed under a running daemon; and, in
// files_test.go, hostile state: another user's CCO_HOME with links planted
// to root-only files, a CCO_HOME others may write to, planted links, loose
// modes, concurrent config sets, and a daemon on an address other machines
// can reach. Each must end with a clear error and nothing lost. Root is
// needed (mounts, setpriv, unshare): without it the tests skip, except under
// CI=true, where they fail. FAULTS_ROUNDS bounds the repeated cases.
//
//	make faults
package faults

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	_ "github.com/anthropics/cco/internal/golden" // its -update flag: `go test ./... -update` works from the root

	"github.com/anthropics/cco/internal/testhost"
	"github.com/anthropics/cco/internal/tooltest"
)

func needRoot(t *testing.T) string {
	t.Helper()
	if os.Geteuid() != 0 {
		tooltest.Missing(t, "fault injection needs root (mounts, setpriv)")
	}
	bin := os.Getenv("CCO_BIN")
	if bin == "" {
		t.Fatal("CCO_BIN is not set: run `make faults`, which builds ./cco and passes it")
	}
	return bin
}

// mountTmpfs mounts a tmpfs of size bytes on a new directory and unmounts
// it when the test ends.
func mountTmpfs(t *testing.T, size int) string {
	t.Helper()
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, fmt.Sprintf("size=%d,mode=0755", size)); err != nil {
		t.Fatalf("mount tmpfs: %v", err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, 0); err != nil {
			t.Errorf("umount %s: %v (detaching)", dir, err)
			_ = syscall.Unmount(dir, syscall.MNT_DETACH)
		}
	})
	return dir
}

// fill writes into dir until the filesystem is full.
func fill(t *testing.T, dir string) {
	t.Helper()
	f, err := os.Create(filepath.Join(dir, "filler"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 4096)
	for {
		if _, err := f.Write(buf); err != nil {
			if !strings.Contains(err.Error(), "no space") {
				t.Fatalf("filling: %v", err)
			}
			break
		}
	}
	// Top up the last partial block too.
	for _, n := range []int{512, 64, 1} {
		for {
			if _, err := f.Write(buf[:n]); err != nil {
				break
			}
		}
	}
}

type cco struct {
	t    *testing.T
	bin  string
	home string
	env  []string
	pre  []string // a command prefix, such as setpriv … --
}

func newCCO(t *testing.T, bin, home string) *cco {
	c := &cco{t: t, bin: bin, home: home,
		env: []string{"PATH=" + os.Getenv("PATH"), "HOME=" + home, "CCO_HOME=" + home}}
	t.Cleanup(func() { endOurs(t, home) })
	return c
}

func (c *cco) run(args ...string) (string, int) {
	c.t.Helper()
	argv := append(append(append([]string(nil), c.pre...), c.bin), args...)
	out, code, err := testhost.Run(30*time.Second, c.env, argv...)
	if errors.Is(err, testhost.ErrHung) {
		c.t.Errorf("cco %v hung for 30 s", args)
	} else if err != nil {
		c.t.Fatalf("cco %v: %v", args, err)
	}
	if bytes.Contains(out, []byte("panic:")) {
		c.t.Errorf("cco %v panicked:\n%s", args, out)
	}
	c.t.Logf("$ cco %s  → exit %d\n%s", strings.Join(args, " "), code, strings.TrimSpace(string(out)))
	return string(out), code
}

// endOurs ends, by pid, every process this test started for home.
func endOurs(t *testing.T, home string) {
	for _, pid := range testhost.Of(home) {
		t.Logf("ending pid %d left for %s", pid, home)
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
}

// noneLeft fails the test if home's processes do not go within 3 s.
func noneLeft(t *testing.T, home string) {
	t.Helper()
	if left := testhost.Left(home, 3*time.Second); len(left) > 0 {
		t.Errorf("processes left for %s: %v", home, left)
	}
}

func daemonPID(t *testing.T, home string) int {
	t.Helper()
	pid, err := testhost.DaemonPID(home)
	if err != nil {
		t.Fatal(err)
	}
	return pid
}

func get(port int, path string) (int, error) {
	c := &http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get(fmt.Sprintf("http://127.0.0.1:%d%s", port, path))
	if err != nil {
		return 0, err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}

func mustRead(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func clearError(t *testing.T, what, out string, code int, words ...string) {
	t.Helper()
	if code == 0 {
		t.Errorf("%s: exit 0, want an error", what)
		return
	}
	low := strings.ToLower(out)
	for _, w := range words {
		if strings.Contains(low, w) {
			return
		}
	}
	t.Errorf("%s: exit %d but the message does not say why (want one of %q):\n%s", what, code, words, out)
}

// newHome makes a CCO_HOME under parent whose config.toml sets a free
// port; it returns the home, the config file, its text and the port.
func newHome(t *testing.T, parent string) (home, cfg, text string, port int) {
	t.Helper()
	home = filepath.Join(parent, "home")
	if err := os.Mkdir(home, 0o700); err != nil {
		t.Fatal(err)
	}
	port = testhost.FreePort(t)
	text = fmt.Sprintf("port = %d\n", port)
	cfg = filepath.Join(home, "config.toml")
	if err := os.WriteFile(cfg, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return home, cfg, text, port
}

// TestFullFilesystem: CCO_HOME on a full tmpfs.
func TestFullFilesystem(t *testing.T) {
	bin := needRoot(t)
	mnt := mountTmpfs(t, 256<<10)
	home, cfg, old, port := newHome(t, mnt)
	c := newCCO(t, bin, home)

	// A daemon that runs when the disk fills keeps serving and stops cleanly.
	if out, code := c.run("daemon", "start"); code != 0 {
		t.Fatalf("start before the disk filled: %d %s", code, out)
	}
	fill(t, mnt)
	for i := 0; i < 20; i++ {
		if code, err := get(port, "/health"); err != nil || code != 200 {
			t.Fatalf("/health on a full disk: %d %v", code, err)
		}
	}
	if _, code := c.run("daemon", "status"); code != 0 {
		t.Errorf("status on a full disk: exit %d, want 0 (running)", code)
	}
	if out, code := c.run("daemon", "stop"); code != 0 {
		t.Errorf("stop on a full disk: exit %d: %s", code, out)
	}
	noneLeft(t, home)

	fill(t, mnt) // stop freed the state file's block
	out, code := c.run("daemon", "config", "set", "log_level", "debug")
	clearError(t, "config set on a full disk", out, code, "no space")
	if got := mustRead(t, cfg); string(got) != old {
		t.Errorf("config.toml changed by a failed set: %q", got)
	}
	fill(t, mnt)
	out, code = c.run("daemon", "start")
	clearError(t, "start on a full disk", out, code, "no space")
	noneLeft(t, home)
	if _, err := get(port, "/health"); err == nil {
		t.Errorf("something serves on %d after a failed start", port)
	}
	ents, _ := os.ReadDir(home)
	for _, e := range ents {
		// The ledger's database is the first (successful) start's.
		if !map[string]bool{"config.toml": true, "config.lock": true, "daemon.log": true, "daemon.lock": true, "daemon.start.lock": true,
			"analytics.db": true, "analytics.db-wal": true, "analytics.db-shm": true,
			"supervisor.lock": true, "daemon.history": true, "daemon.history.lock": true}[e.Name()] {
			t.Errorf("left in CCO_HOME after the failures: %s", e.Name())
		}
	}
}

// TestReadOnlyFilesystem: CCO_HOME on a read-only mount.
func TestReadOnlyFilesystem(t *testing.T) {
	bin := needRoot(t)
	mnt := mountTmpfs(t, 1<<20)
	home, cfg, old, port := newHome(t, mnt)
	if err := syscall.Mount("", mnt, "", syscall.MS_REMOUNT|syscall.MS_RDONLY, ""); err != nil {
		t.Fatalf("remount ro: %v", err)
	}
	c := newCCO(t, bin, home)
	out, code := c.run("daemon", "config", "set", "port", strconv.Itoa(port+1))
	clearError(t, "config set on a read-only CCO_HOME", out, code, "read-only")
	if got := mustRead(t, cfg); string(got) != old {
		t.Errorf("config.toml changed: %q", got)
	}
	out, code = c.run("daemon", "start")
	clearError(t, "start on a read-only CCO_HOME", out, code, "read-only")
	noneLeft(t, home)
	if _, code := c.run("daemon", "status"); code != 3 {
		t.Errorf("status on a read-only CCO_HOME: exit %d, want 3 (not running)", code)
	}
	if out, code := c.run("daemon", "config", "show"); code != 0 {
		t.Errorf("config show on a read-only CCO_HOME: %d %s", code, out)
	}
}

// TestNotOwned: CCO_HOME belongs to root (0700) and cco runs as nobody.
func TestNotOwned(t *testing.T) {
	bin := needRoot(t)
	// A copy of cco that nobody may execute, in a directory nobody may enter.
	pub, err := os.MkdirTemp("", "cco-faults-bin-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(pub) })
	if err := os.Chmod(pub, 0o755); err != nil {
		t.Fatal(err)
	}
	nbin := filepath.Join(pub, "cco")
	if err := os.WriteFile(nbin, mustRead(t, bin), 0o755); err != nil {
		t.Fatal(err)
	}
	home, cfg, old, port := newHome(t, pub)
	c := newCCO(t, nbin, home)
	c.pre = []string{"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--"}
	for _, args := range [][]string{
		{"daemon", "config", "set", "port", strconv.Itoa(port + 1)},
		{"daemon", "config", "show"},
		{"daemon", "start"},
		{"daemon", "logs"},
	} {
		out, code := c.run(args...)
		clearError(t, strings.Join(args, " ")+" as nobody in root's CCO_HOME", out, code, "permission denied", "not owned", "owned by")
	}
	if got := mustRead(t, cfg); string(got) != old {
		t.Errorf("config.toml changed: %q", got)
	}
	noneLeft(t, home)
	if _, err := get(port, "/health"); err == nil {
		t.Errorf("something serves on %d", port)
	}
}

// TestReplaceConfigThenSIGHUP: config.toml replaced under a running daemon,
// then SIGHUP: a valid file applies, an invalid one is refused with a logged
// reason and the daemon keeps running.
func TestReplaceConfigThenSIGHUP(t *testing.T) {
	bin := needRoot(t)
	home := t.TempDir()
	port := testhost.FreePort(t)
	cfg := filepath.Join(home, "config.toml")
	write := func(s string) {
		tmp := cfg + ".new"
		if err := os.WriteFile(tmp, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, cfg); err != nil {
			t.Fatal(err)
		}
	}
	write(fmt.Sprintf("port = %d\nlog_level = \"info\"\n", port))
	c := newCCO(t, bin, home)
	if out, code := c.run("daemon", "start"); code != 0 {
		t.Fatalf("start: %d %s", code, out)
	}
	pid := daemonPID(t, home)
	logf := filepath.Join(home, "daemon.log")
	waitLog := func(re string) bool {
		deadline := time.Now().Add(3 * time.Second)
		for time.Now().Before(deadline) {
			if regexp.MustCompile(re).Match(mustRead(t, logf)) {
				return true
			}
			time.Sleep(10 * time.Millisecond)
		}
		return false
	}

	write(fmt.Sprintf("port = %d\nlog_level = \"debug\"\n", port))
	if err := syscall.Kill(pid, syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	if !waitLog(`msg=reloaded log_level=debug`) {
		t.Errorf("no reload logged after SIGHUP:\n%s", mustRead(t, logf))
	}
	if code, err := get(port, "/after-reload"); err != nil || code != 404 {
		t.Errorf("request after reload: %d %v", code, err)
	}
	if !waitLog(`level=DEBUG msg=request method=GET path=/after-reload`) {
		t.Errorf("debug level not in force after reload:\n%s", mustRead(t, logf))
	}

	write("port = \"not a number\"\nbogus_key = 1\n")
	if err := syscall.Kill(pid, syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	if !waitLog(`level=ERROR msg="reload failed`) {
		t.Errorf("a bad config.toml on SIGHUP left no clear error in the log:\n%s", mustRead(t, logf))
	}
	if code, err := get(port, "/health"); err != nil || code != 200 {
		t.Errorf("/health after a refused reload: %d %v", code, err)
	}
	if !testhost.Ours(pid, home) {
		t.Errorf("the daemon died on a bad reload")
	}
	write(fmt.Sprintf("port = %d\n", port))
	if out, code := c.run("daemon", "stop"); code != 0 {
		t.Errorf("stop: %d %s", code, out)
	}
	noneLeft(t, home)
}

// killAtRandom runs cco args and SIGKILLs it after a random delay up to
// max; it reports whether cco finished by itself first.
func killAtRandom(t *testing.T, rng *rand.Rand, env []string, max time.Duration, bin string, args ...string) bool {
	cmd := exec.Command(bin, args...)
	cmd.Env = env
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		return err == nil
	case <-time.After(time.Duration(rng.Int64N(int64(max)))):
		_ = cmd.Process.Signal(syscall.SIGKILL)
		err := <-done
		return err == nil
	}
}

// TestKillDuringConfigSet: config.toml is always the old or the new file.
func TestKillDuringConfigSet(t *testing.T) {
	bin := needRoot(t)
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
	old := "# my settings\nport = 4000\nlog_level = \"warn\"\n"
	// What a completed set writes.
	ref := t.TempDir()
	if err := os.WriteFile(filepath.Join(ref, "config.toml"), []byte(old), 0o600); err != nil {
		t.Fatal(err)
	}
	cref := newCCO(t, bin, ref)
	if out, code := cref.run("daemon", "config", "set", "port", "4001"); code != 0 {
		t.Fatalf("reference set: %d %s", code, out)
	}
	want := string(mustRead(t, filepath.Join(ref, "config.toml")))

	home := t.TempDir()
	cfg := filepath.Join(home, "config.toml")
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + home, "CCO_HOME=" + home}
	var olds, news, finished int
	n := rounds(t, 300)
	for i := 0; i < n; i++ {
		if err := os.WriteFile(cfg, []byte(old), 0o600); err != nil {
			t.Fatal(err)
		}
		if killAtRandom(t, rng, env, 4*time.Millisecond, bin, "daemon", "config", "set", "port", "4001") {
			finished++
		}
		switch got := string(mustRead(t, cfg)); got {
		case old:
			olds++
		case want:
			news++
		default:
			t.Fatalf("run %d: config.toml is neither the old nor the new file:\n%q", i, got)
		}
	}
	litter := 0
	ents, _ := os.ReadDir(home)
	for _, e := range ents {
		if e.Name() != "config.toml" && e.Name() != "config.lock" { // the lock file stays, for the next set
			litter++
		}
	}
	t.Logf("%d runs killed at random: %d old, %d new (%d finished before the kill); %d temporary files left behind", n, olds, news, finished, litter)
}

// TestKillDuringRender: every rendered file is the old or the new version.
func TestKillDuringRender(t *testing.T) {
	bin := needRoot(t)
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 2))
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=/nonexistent", "CCO_HOME=/nonexistent/.cco"}
	render := func(dir, exe string) map[string]string {
		cmd := exec.Command(bin, "daemon", "render", "--os", "linux", "--output", dir, "--exec", exe)
		cmd.Env = env
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("render: %v %s", err, out)
		}
		files := map[string]string{}
		ents, _ := os.ReadDir(dir)
		for _, e := range ents {
			files[e.Name()] = string(mustRead(t, filepath.Join(dir, e.Name())))
		}
		return files
	}
	oldV := render(t.TempDir(), "/opt/old/bin/cco")
	newV := render(t.TempDir(), "/opt/new/bin/cco")
	if len(oldV) == 0 {
		t.Fatal("render wrote nothing")
	}
	changed := 0
	for name := range oldV {
		if oldV[name] != newV[name] {
			changed++
		}
	}
	if changed == 0 {
		t.Fatal("old and new renders are identical: the test would prove nothing")
	}
	out := t.TempDir()
	var mixed int
	n := rounds(t, 200)
	for i := 0; i < n; i++ {
		_ = os.RemoveAll(out)
		for name, data := range oldV {
			if err := os.MkdirAll(out, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(out, name), []byte(data), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		killAtRandom(t, rng, env, 4*time.Millisecond, bin, "daemon", "render", "--os", "linux", "--output", out, "--exec", "/opt/new/bin/cco")
		for name := range oldV {
			got := string(mustRead(t, filepath.Join(out, name)))
			if got != oldV[name] && got != newV[name] {
				mixed++
				t.Errorf("run %d: %s is neither the old nor the new version:\n%q", i, name, got)
			}
		}
	}
	t.Logf("%d renders killed at random: %d files mixed", n, mixed)
}

// TestLogDirRemoved: CCO_HOME (the log's directory) removed under a running
// daemon. The daemon keeps serving; status answers clearly; after SIGHUP the
// log is written again; stop still ends it.
func TestLogDirRemoved(t *testing.T) {
	bin := needRoot(t)
	home := filepath.Join(t.TempDir(), "cco")
	if err := os.Mkdir(home, 0o700); err != nil {
		t.Fatal(err)
	}
	port := testhost.FreePort(t)
	if err := os.WriteFile(filepath.Join(home, "config.toml"), []byte(fmt.Sprintf("port = %d\nlog_level = \"debug\"\n", port)), 0o600); err != nil {
		t.Fatal(err)
	}
	c := newCCO(t, bin, home)
	if out, code := c.run("daemon", "start"); code != 0 {
		t.Fatalf("start: %d %s", code, out)
	}
	pid := daemonPID(t, home)
	t.Cleanup(func() {
		if testhost.Ours(pid, home) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	})
	// The daemon may still be making files in it (its ledger opens once
	// it serves), as it may under a user's rm -rf: removed when it holds
	// still.
	testhost.Eventually(t, "CCO_HOME removed", func() bool { return os.RemoveAll(home) == nil })
	if code, err := get(port, "/while-removed"); err != nil || code != 404 {
		t.Fatalf("the daemon stopped serving when its log directory went: %d %v", code, err)
	}
	// The daemon restores its lock, state file and log within a few
	// HomeCheckIntervals (1 s); from then on every command finds it again.
	var out string
	code := 3
	for deadline := time.Now().Add(5 * time.Second); code != 0 && time.Now().Before(deadline); {
		time.Sleep(100 * time.Millisecond)
		out, code = c.run("daemon", "status")
	}
	if code != 0 || !strings.Contains(out, fmt.Sprintf("pid %d", pid)) {
		t.Errorf("status, 5 s after the directory was removed under the daemon (pid %d): exit %d\n%s", pid, code, out)
	}
	// config.toml went with the directory: put it back, as a user would,
	// and reload it.
	if err := os.WriteFile(filepath.Join(home, "config.toml"), []byte(fmt.Sprintf("port = %d\nlog_level = \"debug\"\n", port)), 0o600); err != nil {
		t.Fatal(err)
	}
	_ = syscall.Kill(pid, syscall.SIGHUP)
	// From the reload on, the daemon logs to daemon.log again: a request's
	// line lands there. The reload takes a moment: ask until it does.
	testhost.Eventually(t, "after SIGHUP, a request's line in the new daemon.log (else lines are lost until a restart)", func() bool {
		if code, err := get(port, "/after-hup"); err != nil || code != 404 {
			t.Fatalf("request after SIGHUP: %d %v", code, err)
		}
		b, _ := os.ReadFile(filepath.Join(home, "daemon.log"))
		return bytes.Contains(b, []byte("path=/after-hup"))
	})
	out, code = c.run("daemon", "stop")
	if slices.Contains(testhost.Left(home, 2*time.Second), pid) {
		t.Errorf("`cco daemon stop` (exit %d: %s) left the daemon (pid %d) running once its directory was removed", code, strings.TrimSpace(out), pid)
		_ = syscall.Kill(pid, syscall.SIGTERM)
	}
	noneLeft(t, home)
}
