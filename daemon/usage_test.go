package daemon

import (
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/anthropics/cco/config"
	"github.com/anthropics/cco/internal/testhost"
)

// The ledger opens only once start says so (after the daemon said it
// serves), and close needs no start; a daemon gives back its start-up pages
// once, after the ledger opened.
func TestUsageOpensOnStart(t *testing.T) {
	cfg := config.Defaults()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	usageIn := func(home string) *usage {
		getenv := func(k string) string { return map[string]string{"HOME": home}[k] }
		return newUsage(config.Paths{Home: home}, cfg, getenv, logger)
	}
	idle, busy := t.TempDir(), t.TempDir()
	unstarted := usageIn(idle)
	idleDaemon := &daemon{usage: unstarted}

	u := usageIn(busy)
	d := &daemon{usage: u}
	u.start()
	u.start() // once
	testhost.Eventually(t, "the started ledger to open", u.settled)
	if u.err != nil {
		t.Fatal(u.err)
	}
	if _, err := os.Stat(filepath.Join(busy, "analytics.db")); err != nil {
		t.Fatalf("no database once the ledger opened: %v", err)
	}
	d.trimAfterStart()
	if !d.trimmed {
		t.Error("the daemon did not trim once the ledger opened")
	}
	if err := u.close(); err != nil {
		t.Fatal(err)
	}

	// Meanwhile, the ledger never started did nothing.
	idleDaemon.trimAfterStart()
	if unstarted.settled() || idleDaemon.trimmed {
		t.Error("a ledger never started settled, or its daemon trimmed")
	}
	if _, err := os.Stat(filepath.Join(idle, "analytics.db")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a ledger never started made its database: %v", err)
	}
	if err := unstarted.close(); err != nil {
		t.Fatal(err)
	}
}
