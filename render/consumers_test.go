package render

import (
	"github.com/anthropics/cco/config"
	"github.com/anthropics/cco/internal/tooltest"
	"github.com/anthropics/cco/service/identity"

	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// verifyUnit runs `systemd-analyze verify --user` on a unit, with its
// sandbox drop-in when dropIn is not nil, strictly: its exit code misses
// unknown keys and bad values, so stderr must be empty.
func verifyUnit(t *testing.T, unit, dropIn []byte) {
	t.Helper()
	cmd := analyze(t, unit, dropIn, "verify", "--user", "--man=no")
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	if err := cmd.Run(); err != nil || stderr.Len() > 0 {
		t.Errorf("systemd-analyze verify --user: %v\n%s\nunit:\n%s\ndrop-in:\n%s", err, stderr.Bytes(), unit, dropIn)
	}
}

// analyze is systemd-analyze with args, the unit's path last, in a
// directory of its own that holds the unit and, when dropIn is not nil, its
// sandbox drop-in (systemd-analyze reads drop-ins beside a unit it is given).
func analyze(t *testing.T, unit, dropIn []byte, args ...string) *exec.Cmd {
	t.Helper()
	tool := tooltest.Need(t, "systemd-analyze", "systemd")
	dir := t.TempDir()
	runtimeDir := filepath.Join(dir, "run")
	if err := os.Mkdir(runtimeDir, 0o700); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, identity.UnitName)
	if err := os.WriteFile(path, unit, 0o644); err != nil {
		t.Fatal(err)
	}
	if dropIn != nil {
		dropInPath := identity.DropInPath(path)
		if err := os.Mkdir(filepath.Dir(dropInPath), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dropInPath, dropIn, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command(tool, append(args, path)...)
	cmd.Env = append(os.Environ(), "XDG_RUNTIME_DIR="+runtimeDir, "HOME="+dir)
	return cmd
}

// exposure is `systemd-analyze security`'s overall exposure of a unit
// (0 best, 10 worst), with its drop-in when dropIn is not nil.
func exposure(t *testing.T, unit, dropIn []byte) float64 {
	t.Helper()
	cmd := analyze(t, unit, dropIn, "security", "--offline=yes", "--user", "--no-pager")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("systemd-analyze security: %v\n%s", err, out)
	}
	m := regexp.MustCompile(`Overall exposure level for \S+: ([0-9.]+)`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("systemd-analyze security printed no overall exposure:\n%s", out)
	}
	v, err := strconv.ParseFloat(string(m[1]), 64)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// readPlist parses a plist with python3's plistlib, which is strict (a key
// without a value, an unknown element, bad XML all fail), and returns it
// as JSON values.
func readPlist(t *testing.T, plist []byte) map[string]any {
	t.Helper()
	python := tooltest.Need(t, "python3", "python3")
	cmd := exec.Command(python, "-c", `import json, plistlib, sys; json.dump(plistlib.loads(sys.stdin.buffer.read()), sys.stdout)`)
	cmd.Stdin = bytes.NewReader(plist)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("plistlib: %v\n%s\nplist:\n%s", err, stderr.Bytes(), plist)
	}
	var v map[string]any
	if err := json.Unmarshal(out, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

// validatePlist checks a plist against the plist DTD with xmllint, offline:
// a catalog maps Apple's public identifier to testdata/plist-1.0.dtd.
func validatePlist(t *testing.T, plist []byte) {
	t.Helper()
	xmllint := tooltest.Need(t, "xmllint", "libxml2-utils")
	dtd, err := filepath.Abs(filepath.Join("testdata", "plist-1.0.dtd"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dtd); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	catalog := filepath.Join(dir, "catalog.xml")
	err = os.WriteFile(catalog, []byte(`<?xml version="1.0"?>
<catalog xmlns="urn:oasis:names:tc:entity:xmlns:xml:catalog">
  <public publicId="-//Apple//DTD PLIST 1.0//EN" uri="file://`+filepath.ToSlash(dtd)+`"/>
</catalog>
`), 0o644)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, identity.LaunchdLabel+".plist")
	if err := os.WriteFile(path, plist, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(xmllint, "--noout", "--nonet", "--valid", path)
	cmd.Env = append(os.Environ(), "XML_CATALOG_FILES="+catalog)
	if out, err := cmd.CombinedOutput(); err != nil || len(out) > 0 {
		t.Errorf("xmllint --valid: %v\n%s\nplist:\n%s", err, out, plist)
	}
}

// unitEntries reads a unit file independently of the renderer: key=value
// lines by section, comments and blank lines skipped.
func unitEntries(t *testing.T, unit []byte) map[string][]string {
	t.Helper()
	entries := map[string][]string{}
	section := ""
	for _, line := range strings.Split(string(unit), "\n") {
		switch {
		case line == "" || line[0] == '#' || line[0] == ';':
		case line[0] == '[':
			section = strings.Trim(line, "[]")
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok {
				t.Fatalf("unit line %q is neither a section, a comment nor key=value", line)
			}
			entries[section+"."+k] = append(entries[section+"."+k], v)
		}
	}
	return entries
}

// unitWords splits a unit value into words as systemd does: double or
// single quotes group, C escapes are undone, %% is %, and from the word
// numbered dollarsFrom on (ExecStart= arguments; -1: none) $$ is $ and a
// lone $ is an error. %h is kept as written; any other lone % is an error.
func unitWords(t *testing.T, value string, dollarsFrom int) []string {
	t.Helper()
	var words []string
	var w strings.Builder
	inWord := false
	var quote byte
	for i := 0; i < len(value); i++ {
		c := value[i]
		switch {
		case quote == 0 && (c == ' ' || c == '\t'):
			if inWord {
				words = append(words, w.String())
				w.Reset()
				inWord = false
			}
			continue
		case quote == 0 && (c == '"' || c == '\''):
			quote = c
		case quote != 0 && c == quote:
			quote = 0
		case c == '\\':
			i++
			if i == len(value) {
				t.Fatalf("unit value %q ends in a backslash", value)
			}
			switch value[i] {
			case '\\', '"', '\'':
				w.WriteByte(value[i])
			default:
				t.Fatalf("unit value %q: escape \\%c is not one cco writes", value, value[i])
			}
		case c == '%':
			i++
			switch {
			case i < len(value) && value[i] == '%':
				w.WriteByte('%')
			case i < len(value) && value[i] == 'h':
				w.WriteString("%h") // the one specifier cco writes on purpose
			default:
				t.Fatalf("unit value %q: a lone %% would be read as a specifier", value)
			}
		case dollarsFrom >= 0 && len(words) >= dollarsFrom && c == '$':
			i++
			if i == len(value) || value[i] != '$' {
				t.Fatalf("unit value %q: a lone $ would expand a variable", value)
			}
			w.WriteByte('$')
		default:
			w.WriteByte(c)
		}
		inWord = true
	}
	if quote != 0 {
		t.Fatalf("unit value %q: unterminated quote", value)
	}
	if inWord {
		words = append(words, w.String())
	}
	return words
}

// execStart reads ExecStart= back: the path systemd executes and the argv
// it passes. With the @ prefix the path is the first word, taken without
// variable expansion, and argv follows; otherwise the path is argv[0].
func execStart(t *testing.T, value string) (path string, argv []string) {
	t.Helper()
	if rest, ok := strings.CutPrefix(value, "@"); ok {
		words := unitWords(t, rest, 1)
		return words[0], words[1:]
	}
	words := unitWords(t, value, 0)
	return words[0], words
}

// TestSandboxExposure scores the unit with systemd-analyze security, which
// scores a user unit as if root ran it: with the sandbox drop-in it must
// reach maxExposureSandboxed. The unit alone carries only what an
// unprivileged manager enforces without user namespaces; the rest of the
// score (the capability bounding set, which an unprivileged manager cannot
// drop: the unit fails with 218/CAPABILITIES; User=, 216/GROUP; the mount
// protections, which it silently ignores) is out of its reach, so
// maxExposureUnit is the best it measured, kept from getting worse.
func TestSandboxExposure(t *testing.T) {
	const maxExposureSandboxed, maxExposureUnit = 2.0, 6.2
	target := Target{OS: "linux", Exec: "/bin/true", CCOHome: "/home/alice/.cco", UserHome: "/home/alice", Config: config.Defaults()}
	unit, err := ServiceFile(target)
	if err != nil {
		t.Fatal(err)
	}
	dropIn, err := SandboxDropIn(target)
	if err != nil {
		t.Fatal(err)
	}
	sandboxed, alone := exposure(t, unit.Data, dropIn.Data), exposure(t, unit.Data, nil)
	t.Logf("systemd-analyze security: %.1f with the drop-in, %.1f without", sandboxed, alone)
	if sandboxed > maxExposureSandboxed {
		t.Errorf("exposure with the sandbox drop-in %.1f, want at most %.1f", sandboxed, maxExposureSandboxed)
	}
	if alone > maxExposureUnit {
		t.Errorf("exposure of the unit alone %.1f, want at most %.1f", alone, maxExposureUnit)
	}
	target.Config.Sandbox = false
	off, err := ServiceFile(target)
	if err != nil {
		t.Fatal(err)
	}
	if e := exposure(t, off.Data, nil); e <= alone {
		t.Errorf("exposure with sandbox = false %.1f, not above the sandboxed unit's %.1f", e, alone)
	}
}
