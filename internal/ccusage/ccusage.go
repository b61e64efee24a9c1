// Package ccusage runs the real ccusage (npm ccusage 20.0.24), the peer the
// usage ledger is checked and measured against, the way VALIDATORS.md says:
// `ccusage claude <report> --json --offline --timezone UTC`, with
// CLAUDE_CONFIG_DIR naming the transcript roots and an empty HOME, so that
// nothing of the machine's own logs leaks in. It also compares two JSON
// reports the way the ledger must match ccusage.
package ccusage

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/anthropics/cco/internal/tooltest"
)

// Version is the ccusage release the ledger is compared with. 20.0.26 has
// no Linux binary published.
const Version = "20.0.24"

// Install says how to get ccusage.
const Install = "npm install ccusage@" + Version + " in a directory of its own, then CCUSAGE_BIN=<dir>/node_modules/.bin/ccusage"

// Find returns the ccusage executable: $CCUSAGE_BIN when set, else
// ccusage on PATH.
func Find() (string, error) {
	if bin := os.Getenv("CCUSAGE_BIN"); bin != "" {
		if _, err := os.Stat(bin); err != nil {
			return "", fmt.Errorf("CCUSAGE_BIN=%s: %w (%s)", bin, err, Install)
		}
		return bin, nil
	}
	bin, err := exec.LookPath("ccusage")
	if err != nil {
		return "", fmt.Errorf("ccusage is not installed: no CCUSAGE_BIN and none on PATH (%s)", Install)
	}
	return bin, nil
}

// Need returns the ccusage executable, or ends the test the way
// tooltest.Missing does: a failure in CI, which must run every check, a
// skip elsewhere.
func Need(t testing.TB) string {
	t.Helper()
	bin, err := Find()
	if err != nil {
		tooltest.Missing(t, "%v", err)
	}
	return bin
}

// Command is `ccusage claude <report> --json --offline --timezone UTC
// [extra…]` reading roots (a --timezone in extra wins: the last one counts), with home as HOME (it must be an empty
// directory: ccusage's other reports read other tools' logs from there).
func Command(ctx context.Context, bin, home string, roots []string, report string, extra ...string) *exec.Cmd {
	args := append([]string{"claude", report, "--json", "--offline", "--timezone", "UTC"}, extra...)
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = home // no ccusage config of a working directory is found either
	cmd.Env = []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + home,
		"CLAUDE_CONFIG_DIR=" + strings.Join(roots, ","),
		"TZ=UTC",
		"LANG=C.UTF-8",
		"NO_COLOR=1",
	}
	return cmd
}

// Run runs Command and returns its standard output, or an error carrying
// what it printed on standard error.
func Run(ctx context.Context, bin, home string, roots []string, report string, extra ...string) ([]byte, error) {
	if ents, err := os.ReadDir(home); err != nil || len(ents) > 0 {
		return nil, fmt.Errorf("ccusage: HOME %s must be an existing empty directory", home)
	}
	for _, r := range roots {
		if strings.Contains(r, ",") {
			return nil, fmt.Errorf("ccusage: the root %s holds a comma, which CLAUDE_CONFIG_DIR cannot carry: use a path without one", r)
		}
	}
	cmd := Command(ctx, bin, home, roots, report, extra...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return nil, fmt.Errorf("ccusage claude %s: %v: %s", report, err, strings.TrimSpace(stderr.String()))
		}
		return nil, fmt.Errorf("ccusage claude %s: %w", report, err)
	}
	return stdout.Bytes(), nil
}
