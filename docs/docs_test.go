package docs

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	_ "github.com/anthropics/cco/internal/golden" // its -update flag: `go test ./... -update` works from the root

	"github.com/alecthomas/kingpin/v2"

	"github.com/anthropics/cco/config"
	"github.com/anthropics/cco/internal/tooltest"
)

func TestRoff(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{".TH looks like a request", `\&.TH looks like a request`},
		{"'sq looks like one too", `\&'sq looks like one too`},
		{`C:\dir\n`, `C:\edir\en`},
		{"Preview (with --dry-run) or -n 5, --os=linux", `Preview (with \-\-dry\-run) or \-n 5, \-\-os=linux`},
		{"a per-user service, 1-65535", "a per-user service, 1-65535"},
		{"rotated — at 1 KiB…", `rotated \[u2014] at 1 KiB\[u2026]`},
		{"one\nparagraph\n\n.two", "one paragraph\n.sp\n\\&.two"},
	} {
		if got := roff(c.in); got != c.want {
			t.Errorf("roff(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

// TestManPagesCarryAnyText renders the pages of a command tree whose help
// texts are what roff gets wrong unescaped, and reads them back from man.
func TestManPagesCarryAnyText(t *testing.T) {
	texts := []string{
		".TH starts with a period",
		"'starts with an apostrophe",
		`a backslash \fB in C:\dir`,
		"an em dash — and --dry-run",
	}
	app := kingpin.New("cco", texts[0])
	daemon := app.Command("daemon", texts[1])
	start := daemon.Command("start", texts[2])
	start.Flag("dry-run", texts[3]).Bool()
	start.Arg("key", texts[0]).String()
	app.Command("usage", texts[3]).Command("daily", texts[2])
	files, err := Generate(app.Model(), config.Keys)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	var all string
	for _, f := range files {
		if !strings.HasPrefix(f.Path, "man/") {
			continue
		}
		page := filepath.Join(dir, filepath.Base(f.Path))
		if err := os.WriteFile(page, f.Data, 0o644); err != nil {
			t.Fatal(err)
		}
		tooltest.Lint(t, page)
		all += strings.Join(strings.Fields(tooltest.ManText(t, page, 1000)), " ")
	}
	for _, text := range texts {
		if !strings.Contains(all, text) {
			t.Errorf("the man pages lost %q", text)
		}
	}
}
