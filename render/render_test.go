package render

import (
	"errors"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/anthropics/cco/config"
	"github.com/anthropics/cco/internal/golden"
	"github.com/anthropics/cco/internal/testhost"
	"github.com/anthropics/cco/service/identity"
)

// Hostile paths, as a user with an odd home directory has them: spaces,
// quotes, XML's & < >, systemd's % and $, backslashes, non-ASCII letters.
// systemd refuses to run a program whose path has a quote or a backslash
// (TestUnrepresentable), so the unit's is milder than the plist's.
const (
	hostileHome      = `/home/Zoë O'Brien & <co> "q" 100% $HOME ${USER} a\b`
	hostileUnitExec  = `/opt/My Apps & <Tools> 50% $PATH ${HOME}/ünï/bin/cco`
	hostilePlistExec = `/opt/My Apps & <Tools> "x" 'y' 50% $PATH/ünï\bin/cco`
)

// A case is one golden render: a target and the files it gives.
type renderCase struct {
	name   string
	target Target
	path   string // the plist's PATH
}

func renderCases() []renderCase {
	cfg := config.Defaults()
	off := cfg
	off.HealthChecks, off.AutoStart, off.HealthCheckInterval = false, false, 45
	noSandbox := cfg
	noSandbox.Sandbox = false
	elsewhere := cfg
	elsewhere.DatabaseURL = "sqlite:///var/lib/cco db/analytics.db"
	user := func(os, exe, home string, c config.DaemonConfig) Target {
		return Target{OS: os, Exec: exe, CCOHome: home + "/.cco", UserHome: home, Config: c}
	}
	return []renderCase{
		{"linux-user", user("linux", "/home/alice/.local/bin/cco", "/home/alice", cfg), ""},
		{"linux-user-health-checks-off", user("linux", "/usr/local/bin/cco", "/home/alice", off), ""},
		{"linux-user-sandbox-off", user("linux", "/usr/local/bin/cco", "/home/alice", noSandbox), ""},
		{"linux-user-database-elsewhere", user("linux", "/usr/local/bin/cco", "/home/alice", elsewhere), ""},
		{"linux-packager", Target{OS: "linux", Packager: true, Exec: "/usr/bin/cco", Config: cfg}, ""},
		{"linux-hostile", user("linux", hostileUnitExec, hostileHome, cfg), ""},
		{"darwin-user", user("darwin", "/opt/homebrew/bin/cco", "/Users/alice", cfg),
			"/opt/homebrew/bin:/usr/local/bin:/Users/alice/.local/bin:/usr/bin:/bin:/usr/sbin:/sbin"},
		{"darwin-user-auto-start-off", user("darwin", "/Users/alice/.local/bin/cco", "/Users/alice", off),
			"/Users/alice/.local/bin:/opt/homebrew/bin:/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin"},
		{"darwin-packager", Target{OS: "darwin", Packager: true, Exec: "/usr/bin/cco", Config: cfg},
			"/usr/bin:/opt/homebrew/bin:/usr/local/bin:/bin:/usr/sbin:/sbin"},
		{"darwin-hostile", user("darwin", hostilePlistExec, hostileHome, cfg),
			`/opt/My Apps & <Tools> "x" 'y' 50% $PATH/ünï\bin:/opt/homebrew/bin:/usr/local/bin:` + hostileHome + "/.local/bin:/usr/bin:/bin:/usr/sbin:/sbin"},
		{"darwin-colon", user("darwin", "/Users/alice/a:b/cco", "/Users/alice", cfg),
			"/opt/homebrew/bin:/usr/local/bin:/Users/alice/.local/bin:/usr/bin:/bin:/usr/sbin:/sbin"},
	}
}

// files renders what a case installs: the service file, for a packager
// config.toml too, and for a user's sandboxed unit the sandbox drop-in.
func (c renderCase) files(t *testing.T) []File {
	t.Helper()
	if c.target.Packager {
		files, err := PackagerFiles(c.target)
		if err != nil {
			t.Fatal(err)
		}
		return files
	}
	f, err := ServiceFile(c.target)
	if err != nil {
		t.Fatal(err)
	}
	if c.target.OS != "linux" || !c.target.Config.Sandbox {
		return []File{f}
	}
	d, err := SandboxDropIn(c.target)
	if err != nil {
		t.Fatal(err)
	}
	return []File{f, d}
}

func TestTemplatesParse(t *testing.T) {
	tmpl, err := serviceTemplates.Parse()
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"cco-daemon.service.tmpl", "com.anthropic.cco.daemon.plist.tmpl"} {
		if tmpl.Lookup(name) == nil {
			t.Errorf("template %s is not defined", name)
		}
	}
}

// TestGolden compares every template × platform × mode with its golden
// file and has each file's real consumer read it back.
func TestGolden(t *testing.T) {
	for _, c := range renderCases() {
		t.Run(c.name, func(t *testing.T) {
			for _, f := range c.files(t) {
				if f.Mode != 0o644 {
					t.Errorf("%s: mode %v, want 0644", f.Path, f.Mode)
				}
				golden.Check(t, filepath.Join(c.name, filepath.Base(f.Path)), f.Data)
				switch filepath.Base(f.Path) {
				case identity.UnitName:
					checkUnit(t, c.target, f.Data)
				case "sandbox.conf":
					checkDropIn(t, c.target, f.Data)
				case identity.LaunchdLabel + ".plist":
					checkPlist(t, c.target, c.path, f.Data)
				case "config.toml":
					checkDefaultConfig(t, f.Data)
				default:
					t.Errorf("unexpected file %s", f.Path)
				}
			}
		})
	}
}

// checkUnit reads the unit back and verifies it with systemd. verify needs
// ExecStart's file to exist, so the unit it checks runs a real file at the
// target's path under a temporary directory; that is the only difference
// from the golden unit.
func checkUnit(t *testing.T, target Target, unit []byte) {
	t.Helper()
	e := unitEntries(t, unit)
	want := map[string][]string{
		"Unit.Description":                 {"CCO daemon, the local background server of CCO"},
		"Unit.Documentation":               {"man:cco-daemon(1)"},
		"Unit.StartLimitIntervalSec":       {"300"},
		"Unit.StartLimitBurst":             {"5"},
		"Service.Restart":                  {"on-failure"},
		"Service.RestartPreventExitStatus": {"78"},
		"Service.RestartSec":               {"10"},
		"Service.TimeoutStopSec":           {"15"},
		"Service.ExecReload":               {"/bin/kill -HUP $MAINPID"},
		"Service.StandardOutput":           {"journal"},
		"Service.StandardError":            {"journal"},
		"Install.WantedBy":                 {"default.target"},
		"Service.ExecStart":                e["Service.ExecStart"],
		"Service.Environment":              e["Service.Environment"],
		"Service.Type":                     {"exec"},
	}
	if target.Config.Sandbox {
		for k, v := range map[string]string{
			"NoNewPrivileges": "yes", "UMask": "0077", "KeyringMode": "private", "LockPersonality": "yes",
			"MemoryDenyWriteExecute": "yes", "RestrictRealtime": "yes", "RestrictSUIDSGID": "yes",
			"RestrictNamespaces": "yes", "RestrictAddressFamilies": "AF_UNIX AF_INET AF_INET6",
			"SystemCallArchitectures": "native", "SystemCallErrorNumber": "EPERM",
		} {
			want["Service."+k] = []string{v}
		}
		want["Service.SystemCallFilter"] = []string{"@system-service", "~@privileged @resources"}
	}
	if target.Config.HealthChecks {
		want["Service.Type"] = []string{"notify"}
		want["Service.NotifyAccess"] = []string{"main"}
		want["Service.WatchdogSec"] = []string{strconv.FormatInt(2*target.Config.HealthCheckInterval, 10)}
	}
	if !reflect.DeepEqual(e, want) {
		t.Errorf("unit entries:\n got %q\nwant %q", e, want)
	}
	if len(e["Service.ExecStart"]) != 1 || len(e["Service.Environment"]) != 1 {
		t.Fatalf("want one ExecStart= and one Environment=, got %q", e)
	}
	path, argv := execStart(t, e["Service.ExecStart"][0])
	if want := []string{target.Exec, "daemon", "run"}; path != target.Exec || !reflect.DeepEqual(argv, want) {
		t.Errorf("ExecStart= runs %q with argv %q, want %q", path, argv, want)
	}
	if !filepath.IsAbs(path) {
		t.Errorf("ExecStart= runs %q, not an absolute path", path)
	}
	home := target.CCOHome
	if target.Packager {
		home = "%h/.cco"
	}
	if env := unitWords(t, e["Service.Environment"][0], -1); !reflect.DeepEqual(env, []string{"CCO_HOME=" + home}) {
		t.Errorf("Environment= sets %q, want CCO_HOME=%s", env, home)
	}

	root := t.TempDir()
	real := target
	real.Exec = filepath.Join(root, target.Exec)
	testhost.WriteExecutable(t, real.Exec)
	f, err := ServiceFile(real)
	if err != nil {
		t.Fatal(err)
	}
	verifyUnit(t, f.Data, nil)
}

// checkDropIn reads the sandbox drop-in back, checks the paths it leaves
// writable, and verifies it with systemd together with its unit.
func checkDropIn(t *testing.T, target Target, dropIn []byte) {
	t.Helper()
	e := unitEntries(t, dropIn)
	rw := []string{target.CCOHome}
	if target.Config.DatabaseURL == "sqlite:///var/lib/cco db/analytics.db" {
		rw = append(rw, "/var/lib/cco db")
	}
	want := map[string][]string{
		"Service.ReadWritePaths":        e["Service.ReadWritePaths"],
		"Service.ExecStartPre":          e["Service.ExecStartPre"],
		"Service.CapabilityBoundingSet": {""},
		"Service.ProtectSystem":         {"strict"}, "Service.ProtectHome": {"read-only"},
		"Service.ProtectProc": {"invisible"}, "Service.ProcSubset": {"pid"},
	}
	for _, k := range []string{"PrivateUsers", "PrivateTmp", "PrivateDevices", "PrivateMounts", "ProtectKernelTunables",
		"ProtectKernelModules", "ProtectKernelLogs", "ProtectControlGroups", "ProtectClock", "ProtectHostname"} {
		want["Service."+k] = []string{"yes"}
	}
	if !reflect.DeepEqual(e, want) {
		t.Errorf("drop-in entries:\n got %q\nwant %q", e, want)
	}
	if got := unitWords(t, e["Service.ReadWritePaths"][0], -1); !reflect.DeepEqual(got, rw) {
		t.Errorf("ReadWritePaths= %q, want %q", got, rw)
	}
	var made []string
	for _, pre := range e["Service.ExecStartPre"] {
		path, argv := execStart(t, strings.TrimPrefix(pre, "+"))
		if !strings.HasPrefix(pre, "+") || path != "/bin/mkdir" || len(argv) != 5 || argv[1] != "-p" || argv[2] != "-m" || argv[3] != "0700" {
			t.Errorf("ExecStartPre=%s: want +/bin/mkdir -p -m 0700 DIR, run outside the sandbox", pre)
			continue
		}
		made = append(made, argv[4])
	}
	if !reflect.DeepEqual(made, rw) {
		t.Errorf("ExecStartPre= creates %q, want %q", made, rw)
	}
	real := target
	real.Exec = filepath.Join(t.TempDir(), target.Exec)
	testhost.WriteExecutable(t, real.Exec)
	unit, err := ServiceFile(real)
	if err != nil {
		t.Fatal(err)
	}
	verifyUnit(t, unit.Data, dropIn)
}

// checkPlist validates the plist against the DTD and reads every value
// back with plistlib.
func checkPlist(t *testing.T, target Target, path string, plist []byte) {
	t.Helper()
	validatePlist(t, plist)
	env := map[string]any{"PATH": path}
	want := map[string]any{
		"Label":                  identity.LaunchdLabel,
		"ProgramArguments":       []any{target.Exec, "daemon", "run"},
		"RunAtLoad":              target.Config.AutoStart,
		"ThrottleInterval":       float64(10),
		"ExitTimeOut":            float64(20),
		"ProcessType":            "Interactive",
		"LimitLoadToSessionType": []any{"Aqua", "Background"},
		"EnvironmentVariables":   env,
	}
	if target.Config.AutoStart {
		want["KeepAlive"] = map[string]any{"SuccessfulExit": false}
	}
	if !target.Packager {
		want["WorkingDirectory"] = target.CCOHome
		want["StandardOutPath"] = target.CCOHome + "/launchd.log"
		want["StandardErrorPath"] = target.CCOHome + "/launchd.log"
		env["CCO_HOME"] = target.CCOHome
	}
	if got := readPlist(t, plist); !reflect.DeepEqual(got, want) {
		t.Errorf("plistlib reads:\n %q\nwant\n %q", got, want)
	}
}

// checkDefaultConfig loads the packager's config.toml back: it sets no key,
// so every key takes its default.
func checkDefaultConfig(t *testing.T, data []byte) {
	t.Helper()
	f, err := config.Parse("config.toml", data)
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Values) != 0 || f.Config() != config.Defaults() {
		t.Errorf("the default config.toml sets %v", f.Values)
	}
}

// TestUnrepresentable: a value a format cannot carry is refused with an
// error that names it, on every platform and in every field.
func TestUnrepresentable(t *testing.T) {
	for _, bad := range []string{"/home/a\nb", "/home/a\rb", "/home/a\tb", "/home/a\x00b", "/home/a\x7fb", "/home/a\u0085b", "/home/a\xffb", "/home/a\uffffb"} {
		for _, os := range []string{"linux", "darwin"} {
			targets := map[string]Target{
				"Exec":    {OS: os, Exec: bad + "/cco", CCOHome: "/home/a/.cco", UserHome: "/home/a"},
				"CCOHome": {OS: os, Exec: "/usr/bin/cco", CCOHome: bad, UserHome: "/home/a"},
			}
			for field, target := range targets {
				_, err := ServiceFile(target)
				var u *UnrepresentableError
				if !errors.As(err, &u) || !strings.Contains(err.Error(), strconv.Quote(u.Value)) || !strings.Contains(u.Value, bad) {
					t.Errorf("%s %s=%q: got %v, want an error naming the value", os, field, bad, err)
				}
			}
		}
	}
	for _, exe := range []string{`/opt/a"b/cco`, `/opt/O'Brien/cco`, `/opt/a\b/cco`} {
		_, err := ServiceFile(Target{OS: "linux", Exec: exe, CCOHome: "/h/.cco", UserHome: "/h"})
		if err == nil || !strings.Contains(err.Error(), strconv.Quote(exe)) || !strings.Contains(err.Error(), "systemd refuses") {
			t.Errorf("unit ExecStart=%q: got %v, want a refusal naming the path", exe, err)
		}
	}
}

func TestRelativePathsRefused(t *testing.T) {
	for _, target := range []Target{
		{OS: "linux", Exec: "bin/cco", CCOHome: "/h/.cco", UserHome: "/h"},
		{OS: "darwin", Exec: "/usr/bin/cco", CCOHome: ".cco", UserHome: "/h"},
		{OS: "darwin", Exec: "/usr/bin/cco", CCOHome: "/h/.cco", UserHome: "h"},
		{OS: "linux", Packager: true, Exec: "cco"},
	} {
		if _, err := ServiceFile(target); err == nil || !strings.Contains(err.Error(), "must be an absolute path") {
			t.Errorf("%+v: got %v, want an error about a relative path", target, err)
		}
	}
	if _, err := ServiceFile(Target{OS: "windows", Exec: "/cco"}); err == nil || !strings.Contains(err.Error(), `unknown OS "windows"`) {
		t.Errorf("windows: got %v", err)
	}
}

func TestServiceFilePaths(t *testing.T) {
	base := Target{Exec: "/usr/bin/cco", CCOHome: "/h/.cco", UserHome: "/h"}
	for _, c := range []struct {
		os, xdg  string
		packager bool
		want     string
	}{
		{"linux", "", false, "/h/.config/systemd/user/cco-daemon.service"},
		{"linux", "/x/config", false, "/x/config/systemd/user/cco-daemon.service"},
		{"linux", "relative", false, "/h/.config/systemd/user/cco-daemon.service"},
		{"darwin", "", false, "/h/Library/LaunchAgents/com.anthropic.cco.daemon.plist"},
		{"linux", "", true, "cco-daemon.service"},
		{"darwin", "", true, "com.anthropic.cco.daemon.plist"},
	} {
		target := base
		target.OS, target.XDGConfigHome, target.Packager = c.os, c.xdg, c.packager
		f, err := ServiceFile(target)
		if err != nil || f.Path != c.want {
			t.Errorf("%+v: path %q, %v; want %q", c, f.Path, err, c.want)
		}
	}
}

// TestPackagerDeterministic: a packager render does not depend on whose
// home or configuration it is made from.
func TestPackagerDeterministic(t *testing.T) {
	for _, os := range []string{"linux", "darwin"} {
		a, errA := PackagerFiles(Target{OS: os, Exec: "/usr/bin/cco", CCOHome: "/home/a/.cco", UserHome: "/home/a", Config: config.Defaults()})
		b, errB := PackagerFiles(Target{OS: os, Exec: "/usr/bin/cco", Config: config.Defaults()})
		if errA != nil || errB != nil || !reflect.DeepEqual(a, b) {
			t.Errorf("%s: packager files depend on the home directory (%v, %v)", os, errA, errB)
		}
		for _, f := range a {
			if strings.Contains(string(f.Data), "/home/a") {
				t.Errorf("%s: %s names a home directory", os, f.Path)
			}
		}
	}
}

func BenchmarkRender(b *testing.B) {
	for _, c := range renderCases() {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := ServiceFile(c.target); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
