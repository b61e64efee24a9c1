//go:build faults

package faults

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/anthropics/cco/config"
	"github.com/anthropics/cco/internal/testhost"
	"github.com/anthropics/cco/internal/tooltest"
)

// rounds is how many rounds a repeated case runs: FAULTS_ROUNDS, or def.
// CI runs a bounded suite with a small FAULTS_ROUNDS.
func rounds(t *testing.T, def int) int {
	if s := os.Getenv("FAULTS_ROUNDS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			t.Fatalf("FAULTS_ROUNDS=%q: want a positive number", s)
		}
		return n
	}
	return def
}

// asNobody runs argv as the unprivileged user nobody.
func asNobody(t *testing.T, argv ...string) {
	t.Helper()
	tooltest.Need(t, "setpriv", "util-linux")
	cmd := exec.Command("setpriv", append([]string{"--reuid=65534", "--regid=65534", "--clear-groups", "--"}, argv...)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("as nobody: %v: %v\n%s", argv, err, out)
	}
}

// enterable lets nobody reach dir: it and every directory above it up to
// the temporary directory get mode 0755 (t.TempDir makes them 0700).
func enterable(t *testing.T, dir string) {
	t.Helper()
	for d := dir; d != filepath.Dir(d) && d != os.TempDir(); d = filepath.Dir(d) {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
}

// rootOnly makes, in a directory only root may enter, one file per name
// with known content and mode 0640; check reports any that changed.
func rootOnly(t *testing.T, names ...string) (files map[string]string, check func()) {
	t.Helper()
	dir := t.TempDir() // 0700, root's
	files = map[string]string{}
	for _, n := range names {
		p := filepath.Join(dir, n)
		if err := os.WriteFile(p, []byte("root's "+n+"\n"), 0o640); err != nil {
			t.Fatal(err)
		}
		files[n] = p
	}
	return files, func() {
		t.Helper()
		for n, p := range files {
			fi, err := os.Lstat(p)
			if err != nil {
				t.Errorf("root's file %s: %v", p, err)
				continue
			}
			if b, _ := os.ReadFile(p); string(b) != "root's "+n+"\n" || fi.Mode() != 0o640 {
				t.Errorf("root's file %s was written or chmod-ed through a planted link: mode %v, %q", p, fi.Mode(), b)
			}
		}
	}
}

// homeFiles are the files cco keeps in CCO_HOME.
func homeFiles(p config.Paths) []string {
	return []string{p.Config(), p.ConfigLockFile(), p.PIDFile(), p.LockFile(), p.StartLockFile(), p.LogFile()}
}

// TestRootInAnotherUsersHome: root, run by sudo keeping the user's HOME,
// in a CCO_HOME of that user (here nobody) where the user planted links to
// root-only files. Every command refuses, naming the directory and its
// owner, and no root-only file is written, locked or chmod-ed.
func TestRootInAnotherUsersHome(t *testing.T) {
	bin := needRoot(t)
	userHome := t.TempDir()
	enterable(t, userHome)
	if err := os.Chown(userHome, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	p := config.Paths{Home: filepath.Join(userHome, ".cco")}
	asNobody(t, "mkdir", "-m", "700", p.Home)
	targets, check := rootOnly(t, "config.lock", "daemon.pid", "daemon.lock", "daemon.start.lock", "daemon.log")
	for name, target := range targets {
		asNobody(t, "ln", "-s", target, filepath.Join(p.Home, name))
	}
	port := testhost.FreePort(t)
	asNobody(t, "sh", "-c", fmt.Sprintf("echo 'port = %d' > %s", port, p.Config()))
	c := newCCO(t, bin, p.Home)
	c.env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + userHome} // CCO_HOME from HOME, as sudo leaves it
	for _, args := range [][]string{
		{"daemon", "start"},
		{"daemon", "config", "set", "log_level", "debug"},
		{"daemon", "config", "unset", "port"},
		{"daemon", "config", "show"},
		{"daemon", "status"},
		{"daemon", "stop"},
		{"daemon", "restart"},
		{"daemon", "logs"},
		{"daemon", "run"},
	} {
		out, code := c.run(args...)
		if code == 0 || !strings.Contains(out, "refusing CCO_HOME "+p.Home) || !strings.Contains(out, "nobody (uid 65534)") {
			t.Errorf("cco %s as root in nobody's CCO_HOME: exit %d, want a refusal naming %s and its owner:\n%s", strings.Join(args, " "), code, p.Home, out)
		}
	}
	check()
	if _, err := get(port, "/health"); err == nil {
		t.Errorf("something serves on %d", port)
	}
	noneLeft(t, p.Home)

	// A user who has no CCO_HOME yet: root does not make one in their HOME.
	if err := os.RemoveAll(p.Home); err != nil {
		t.Fatal(err)
	}
	out, code := c.run("daemon", "config", "set", "port", strconv.Itoa(port))
	if code == 0 || !strings.Contains(out, userHome) || !strings.Contains(out, "nobody (uid 65534)") {
		t.Errorf("config set as root with nobody's HOME: exit %d, want a refusal naming %s and its owner:\n%s", code, userHome, out)
	}
	if _, err := os.Lstat(p.Home); !os.IsNotExist(err) {
		t.Errorf("root made %s in nobody's HOME: %v", p.Home, err)
	}
}

// TestHomeWritableByOthers: a CCO_HOME that others may write to (here
// 0777, where nobody planted links to root-only files) is refused by every
// command, with a message saying why and how to fix it; nothing is written
// through the links and the directory keeps its mode.
func TestHomeWritableByOthers(t *testing.T) {
	bin := needRoot(t)
	parent := t.TempDir()
	home, _, _, port := newHome(t, parent)
	enterable(t, parent)
	if err := os.Chmod(home, 0o777); err != nil {
		t.Fatal(err)
	}
	targets, check := rootOnly(t, "daemon.log", "daemon.lock", "config.lock")
	for name, target := range targets {
		asNobody(t, "ln", "-s", target, filepath.Join(home, name))
	}
	c := newCCO(t, bin, home)
	for _, args := range [][]string{
		{"daemon", "start"}, {"daemon", "config", "set", "log_level", "debug"}, {"daemon", "status"}, {"daemon", "stop"},
	} {
		out, code := c.run(args...)
		if code == 0 || !strings.Contains(out, "writable by group or others") || !strings.Contains(out, "chmod 700 "+home) {
			t.Errorf("cco %s in a CCO_HOME of mode 0777: exit %d, want a refusal saying why and how to fix it:\n%s", strings.Join(args, " "), code, out)
		}
	}
	check()
	if fi, _ := os.Stat(home); fi.Mode().Perm() != 0o777 {
		t.Errorf("a refused CCO_HOME's mode was changed to %v", fi.Mode().Perm())
	}
	if _, err := get(port, "/health"); err == nil {
		t.Errorf("something serves on %d", port)
	}
	noneLeft(t, home)
}

// TestPlantedLinksRefused: in the user's own CCO_HOME, a symbolic link
// where cco keeps a file (left by whoever could write there before) is
// refused with a message naming it; its target is neither written nor
// locked nor chmod-ed. config.toml is the exception: a link there is the
// user's dotfiles, and is changed through (see cli's config_files.txtar).
func TestPlantedLinksRefused(t *testing.T) {
	bin := needRoot(t)
	p := config.Paths{Home: filepath.Join(t.TempDir(), "home")}
	port := testhost.FreePort(t)
	cases := []struct {
		file string
		args []string
	}{
		{p.ConfigLockFile(), []string{"daemon", "config", "set", "log_level", "debug"}},
		{p.LogFile(), []string{"daemon", "start"}},
		{p.LockFile(), []string{"daemon", "start"}},
		{p.StartLockFile(), []string{"daemon", "start"}},
	}
	for _, tc := range cases {
		t.Run(filepath.Base(tc.file), func(t *testing.T) {
			if err := os.RemoveAll(p.Home); err != nil {
				t.Fatal(err)
			}
			if err := os.Mkdir(p.Home, 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p.Config(), []byte(fmt.Sprintf("port = %d\n", port)), 0o600); err != nil {
				t.Fatal(err)
			}
			targets, check := rootOnly(t, "target")
			if err := os.Symlink(targets["target"], tc.file); err != nil {
				t.Fatal(err)
			}
			c := newCCO(t, bin, p.Home)
			out, code := c.run(tc.args...)
			if code == 0 || !strings.Contains(out, tc.file+" is a symbolic link") {
				t.Errorf("cco %s with %s a planted link: exit %d, want a refusal naming it:\n%s", strings.Join(tc.args, " "), tc.file, code, out)
			}
			check()
			c.run("daemon", "stop")
			noneLeft(t, p.Home)
		})
	}
}

// TestModesTightened: whatever modes CCO_HOME and its files had, once cco
// has written them the directory is 0700 and every file 0600.
func TestModesTightened(t *testing.T) {
	bin := needRoot(t)
	p := config.Paths{Home: filepath.Join(t.TempDir(), "home")}
	if err := os.Mkdir(p.Home, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p.Home, 0o755); err != nil {
		t.Fatal(err)
	}
	port := testhost.FreePort(t)
	db := filepath.Join(p.Home, "analytics.db") // database_url's default
	for _, f := range append(homeFiles(p), db) {
		if f == p.PIDFile() {
			continue // a state file of no daemon would be stale
		}
		text := ""
		if f == p.Config() {
			text = fmt.Sprintf("port = %d\n", port)
		}
		if err := os.WriteFile(f, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(f, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	c := newCCO(t, bin, p.Home)
	if out, code := c.run("daemon", "config", "set", "log_level", "debug"); code != 0 {
		t.Fatalf("config set: %d %s", code, out)
	}
	if out, code := c.run("daemon", "start"); code != 0 {
		t.Fatalf("start: %d %s", code, out)
	}
	// The daemon opens its ledger (analytics.db) once it serves.
	testhost.Eventually(t, "the ledger to open analytics.db", func() bool {
		return strings.Contains(string(mustRead(t, p.LogFile())), "ledger: reading transcripts")
	})
	modes := func() {
		t.Helper()
		if fi, _ := os.Stat(p.Home); fi.Mode().Perm() != 0o700 {
			t.Errorf("CCO_HOME: mode %v, want 0700", fi.Mode().Perm())
		}
		ents, _ := os.ReadDir(p.Home)
		for _, e := range ents {
			if fi, _ := e.Info(); fi.Mode().Perm() != 0o600 {
				t.Errorf("%s: mode %v, want 0600", e.Name(), fi.Mode().Perm())
			}
		}
	}
	modes()
	if out, code := c.run("daemon", "stop"); code != 0 {
		t.Errorf("stop: %d %s", code, out)
	}
	modes()
	noneLeft(t, p.Home)
}

// TestConcurrentConfigSets: six cco processes setting six different keys
// at once leave all six, round after round.
func TestConcurrentConfigSets(t *testing.T) {
	bin := needRoot(t)
	home := filepath.Join(t.TempDir(), "home")
	cfg := filepath.Join(home, "config.toml")
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + home, "CCO_HOME=" + home}
	sets := [][2]string{{"port", "4001"}, {"log_level", "debug"}, {"cache_ttl", "61"},
		{"log_max_files", "7"}, {"health_check_interval", "11"}, {"auto_start", "false"}}
	want := regexp.MustCompile(`(?s)^# round \d+\n`)
	n := rounds(t, 200)
	for round := 0; round < n; round++ {
		if err := os.MkdirAll(home, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(cfg, []byte(fmt.Sprintf("# round %d\n", round)), 0o600); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		for _, s := range sets {
			wg.Add(1)
			go func() {
				defer wg.Done()
				out, code, err := testhost.Run(30*time.Second, env, bin, "daemon", "config", "set", s[0], s[1])
				if err != nil || code != 0 {
					t.Errorf("round %d: set %s %s: exit %d %v: %s", round, s[0], s[1], code, err, out)
				}
			}()
		}
		wg.Wait()
		text := string(mustRead(t, cfg))
		if !want.MatchString(text) {
			t.Fatalf("round %d: the comment before the round is gone:\n%s", round, text)
		}
		for _, s := range sets {
			v := s[1]
			if s[0] == "log_level" {
				v = strconv.Quote(v)
			}
			if !strings.Contains(text, "\n"+s[0]+" = "+v+"\n") {
				t.Fatalf("round %d: %s = %s was lost by six concurrent sets:\n%s", round, s[0], s[1], text)
			}
		}
	}
	t.Logf("%d rounds of six concurrent sets: nothing lost", n)
}

// TestExposedAddress: a daemon on an address other machines can reach is
// warned of at start (stderr), in its log and in status (text and JSON);
// one on loopback is not. It runs in a network namespace of its own, so
// that nothing is reachable from outside this test.
func TestExposedAddress(t *testing.T) {
	bin := needRoot(t)
	tooltest.Need(t, "unshare", "util-linux")
	tooltest.Need(t, "ip", "iproute2")
	for _, tc := range []struct {
		host string
		warn bool
	}{{"0.0.0.0", true}, {"::", true}, {"127.0.0.1", false}, {"::1", false}, {"localhost", false}} {
		t.Run(tc.host, func(t *testing.T) {
			home, _, _, port := newHome(t, t.TempDir())
			script := fmt.Sprintf(`ip link set lo up
cco=%[1]s
$cco daemon config set host %[2]s >/dev/null
echo "== start"; $cco daemon start 2>&1
echo "== status"; $cco daemon status 2>&1
echo "== json"; $cco daemon status --json 2>&1
echo "== stop"; $cco daemon stop 2>&1
`, bin, tc.host)
			cmd := exec.Command("unshare", "--net", "--", "sh", "-c", script)
			// Go's resolver reports every lookup on stderr (the daemon's goes
			// to its log): only a name the user gave may be looked up.
			cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + home, "CCO_HOME=" + home, "GODEBUG=netdns=go+2"}
			out, err := cmd.CombinedOutput()
			t.Logf("%s", out)
			if err != nil {
				t.Fatalf("in a private network namespace: %v", err)
			}
			parts := map[string]string{}
			for _, p := range strings.Split(string(out), "== ")[1:] {
				name, body, _ := strings.Cut(p, "\n")
				parts[name] = body
			}
			log := string(mustRead(t, filepath.Join(home, "daemon.log")))
			looked := strings.Contains(string(out), "go package net") || strings.Contains(log, "go package net")
			if name := net.ParseIP(tc.host) == nil; looked != name {
				t.Errorf("host %s: name lookups %v, want %v (only for a name)", tc.host, looked, name)
			}
			addr := fmt.Sprintf("%s:%d", tc.host, port)
			if strings.Contains(tc.host, ":") {
				addr = fmt.Sprintf("[%s]:%d", tc.host, port)
			}
			warning := "listens on " + addr + ", which other machines can reach"
			if got := strings.Contains(parts["start"], "cco: warning: the daemon "+warning); got != tc.warn {
				t.Errorf("start on %s: warning %v, want %v", tc.host, got, tc.warn)
			}
			if got := strings.Contains(parts["status"], "  warning: the daemon "+warning); got != tc.warn {
				t.Errorf("status on %s: warning %v, want %v", tc.host, got, tc.warn)
			}
			var st struct {
				State   string `json:"state"`
				Exposed bool   `json:"exposed"`
			}
			if err := json.Unmarshal([]byte(parts["json"]), &st); err != nil || st.State != "running" || st.Exposed != tc.warn {
				t.Errorf("status --json on %s: %+v %v, want running and exposed %v", tc.host, st, err, tc.warn)
			}
			if got := strings.Contains(log, "level=WARN") && strings.Contains(log, warning); got != tc.warn {
				t.Errorf("daemon.log on %s: warning %v, want %v:\n%s", tc.host, got, tc.warn, log)
			}
			noneLeft(t, home)
		})
	}
}
