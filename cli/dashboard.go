package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"runtime"
	"strings"
	"time"

	"github.com/alecthomas/kingpin/v2"

	"github.com/anthropics/cco/dashboard"
	"github.com/anthropics/cco/lifecycle"
)

// openWait is how long cco waits for the system's opener: long enough to
// hear that it failed, short of waiting for a browser it ran in the
// foreground (xdg-open does that when no browser is running).
const openWait = 3 * time.Second

// `cco dashboard` rather than `cco usage --open`: usage's subcommands are
// reports with report flags; opening the page takes none of them.
func configureDashboardCmd(app *kingpin.Application, e *Env) {
	c := &dashboardCmd{env: e}
	cmd := app.Command("dashboard", "Open the usage dashboard of the running daemon in the default browser and print its address.").Action(action(e, c.run))
	cmd.Flag("no-open", "Print the address only.").BoolVar(&c.noOpen)
}

type dashboardCmd struct {
	env    *Env
	noOpen bool
}

func (c *dashboardCmd) run(ctx context.Context) error {
	paths, err := c.env.Paths()
	if err != nil {
		return err
	}
	in, err := lifecycle.New(paths).Inspect()
	if err != nil {
		return err
	}
	if in.Running == nil || in.Running.State == nil {
		return errors.New("the daemon is not running: start it (`cco daemon start`); it serves the dashboard")
	}
	url := dashboard.URL(in.Running.State.Host, in.Running.State.Port)
	if err := pageServed(ctx, url); err != nil {
		return err
	}
	fmt.Fprintln(c.env.Stdout, url)
	if c.noOpen {
		return nil
	}
	return openURL(ctx, url)
}

// pageServed asks for the page first, so that a dashboard that is off
// says why instead of a browser showing an error.
func pageServed(ctx context.Context, url string) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := localClient.Do(req)
	if err != nil {
		return fmt.Errorf("the daemon does not answer at %s: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return fmt.Errorf("the daemon serves no dashboard at %s (%s): %s", url, resp.Status, strings.TrimSpace(string(body)))
	}
	return nil
}

// openURL hands url to the system's opener, found on PATH (tests put a
// fake one there): open on macOS, xdg-open elsewhere.
func openURL(ctx context.Context, url string) error {
	opener := "xdg-open"
	if runtime.GOOS == "darwin" {
		opener = "open"
	}
	path, err := exec.LookPath(opener)
	if err != nil {
		return fmt.Errorf("cannot open a browser: %s is not installed; open %s yourself", opener, url)
	}
	cmd := exec.Command(path, url) // stdio on /dev/null: a browser it starts holds none of ours
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("cannot open a browser with %s: %w; open %s yourself", opener, err, url)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			return fmt.Errorf("%s %s failed (%w); open the address yourself", opener, url, err)
		}
	case <-time.After(openWait):
		// Still running: it is the browser, or waits for it. Leave it.
	case <-ctx.Done():
	}
	return nil
}

// ingestProgress says how far the daemon's scan of the transcripts is,
// from its /health ("" when it cannot tell).
func ingestProgress(ctx context.Context, base string) string {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/health", nil)
	if err != nil {
		return ""
	}
	resp, err := localClient.Do(req)
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	var h struct {
		Ledger struct {
			Syncing       bool  `json:"syncing"`
			ProgressFiles int64 `json:"progress_files"`
			TotalFiles    int64 `json:"total_files"`
			ProgressBytes int64 `json:"progress_bytes"`
			TotalBytes    int64 `json:"total_bytes"`
		} `json:"ledger"`
	}
	if json.NewDecoder(resp.Body).Decode(&h) != nil || !h.Ledger.Syncing || h.Ledger.TotalFiles == 0 {
		return ""
	}
	l := h.Ledger
	return fmt.Sprintf(" (read %s of %s files, %s of %s)", thousands(l.ProgressFiles), thousands(l.TotalFiles), mib(l.ProgressBytes), mib(l.TotalBytes))
}

func mib(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }
