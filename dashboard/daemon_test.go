package dashboard_test

import (
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/anthropics/cco/internal/testhost"
	"github.com/anthropics/cco/internal/transcripts"
)

// daemon is a `cco daemon run` of the built cco over a transcript tree.
type daemon struct {
	base  string // http://127.0.0.1:PORT
	port  int
	roots []string
}

// tree writes a transcript tree whose sessions end today, so that today,
// this month and the last 30 days all have usage.
func tree(t testing.TB, size int64) transcripts.Expect {
	t.Helper()
	today := time.Now().UTC().Truncate(24 * time.Hour)
	exp, err := transcripts.Generate(t.TempDir(), transcripts.Spec{
		Seed: 7, Roots: 1, Projects: 5, Bytes: size, Start: today.AddDate(0, 0, -45), Days: 45, Cases: transcripts.Agreeing,
	})
	if err != nil {
		t.Fatal(err)
	}
	return exp
}

// startDaemon runs the daemon with env added to a clean environment and
// waits for its first ingest to end. It is stopped (SIGTERM, by pid) when
// the test ends.
func startDaemon(t testing.TB, roots []string, env ...string) *daemon {
	t.Helper()
	bin := testhost.CCO(t)
	home := t.TempDir()
	port := testhost.FreePort(t)
	cmd := exec.Command(bin, "daemon", "run")
	cmd.Env = append([]string{"HOME=" + home, "CCO_HOME=" + filepath.Join(home, ".cco"), "PATH=" + os.Getenv("PATH"),
		"CLAUDE_CONFIG_DIR=" + strings.Join(roots, ","), "CCO_PORT=" + strconv.Itoa(port)}, env...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
	})
	d := &daemon{base: "http://127.0.0.1:" + strconv.Itoa(port), port: port, roots: roots}
	deadline := time.Now().Add(5 * time.Minute) // a large tree's first ingest
	for {
		var h struct {
			Ledger struct {
				Calls      int64  `json:"calls"`
				Syncing    bool   `json:"syncing"`
				LastIngest string `json:"last_ingest"`
			} `json:"ledger"`
		}
		if err := d.getJSON("/health", &h); err == nil && h.Ledger.Calls > 0 && !h.Ledger.Syncing {
			return d
		}
		if time.Now().After(deadline) {
			t.Fatalf("the daemon did not finish its first ingest")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (d *daemon) getJSON(path string, v any) error {
	resp, err := http.Get(d.base + path)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		return fmt.Errorf("GET %s: %s %s", path, resp.Status, b)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

// firstTranscript is a transcript of the tree, to append to.
func firstTranscript(t testing.TB, root string) string {
	t.Helper()
	var found string
	_ = filepath.WalkDir(filepath.Join(root, "projects"), func(p string, e fs.DirEntry, err error) error {
		if err == nil && found == "" && !e.IsDir() && strings.HasSuffix(p, ".jsonl") {
			found = p
		}
		return err
	})
	if found == "" {
		t.Fatal("the tree has no transcript")
	}
	return found
}

// newCall is an assistant line of a new call at ts.
func newCall(id string, ts time.Time, in, out int64) []byte {
	return fmt.Appendf(nil, `{"type":"assistant","sessionId":"live-%s","requestId":"req-%s","timestamp":%q,"message":{"id":"msg-%s","model":"claude-sonnet-4-6","usage":{"input_tokens":%d,"output_tokens":%d}}}`,
		id, id, ts.UTC().Format(time.RFC3339Nano), id, in, out)
}
