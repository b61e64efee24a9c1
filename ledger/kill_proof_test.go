package ledger_test

import (
	"context"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/anthropics/cco/internal/transcripts"
	"github.com/anthropics/cco/ledger"
)

// ingestChildEnv carries {home, roots} to the test binary re-executed as
// an ingest process.
const ingestChildEnv = "LEDGER_PROOF_INGEST_CHILD"

type ingestJob struct {
	Home  string
	Roots []string
}

// TestIngestChild is not a test of its own: it is the process that
// TestKill9DuringIngest starts and kills. It opens the ledger and syncs once.
func TestIngestChild(t *testing.T) {
	raw := os.Getenv(ingestChildEnv)
	if raw == "" {
		t.Skip("runs only as the child process of TestKill9DuringIngest")
	}
	var job ingestJob
	if err := json.Unmarshal([]byte(raw), &job); err != nil {
		t.Fatal(err)
	}
	l, err := ledger.Open(context.Background(), "sqlite://analytics.db", job.Home, ledger.Options{Roots: job.Roots})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
}

// ingestChild starts the test binary as an ingest process for job.
func ingestChild(t *testing.T, job ingestJob) *exec.Cmd {
	t.Helper()
	raw, err := json.Marshal(job)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestIngestChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), ingestChildEnv+"="+string(raw))
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	})
	return cmd
}

// TestKill9DuringIngest kills the ingest with SIGKILL at random moments
// of the first sync of a large tree, several times, then syncs cleanly:
// the reports equal those of one uninterrupted ingest, to the call.
func TestKill9DuringIngest(t *testing.T) {
	if testing.Short() {
		t.Skip("a large tree and many processes")
	}
	exp, err := transcripts.Generate(t.TempDir(), transcripts.Spec{Seed: 31, Roots: 2, Projects: 6, Bytes: 64 << 20, Cases: transcripts.All})
	if err != nil {
		t.Fatal(err)
	}
	// The uninterrupted ingest, in a child like the others, timed to know
	// when to kill.
	clean := ingestJob{Home: t.TempDir(), Roots: exp.Roots}
	start := time.Now()
	cmd := ingestChild(t, clean)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("the uninterrupted ingest: %v\n%s", err, cmd.Stdout)
	}
	took := time.Since(start)

	seed := uint64(time.Now().UnixNano())
	t.Logf("uninterrupted ingest %v; kill moments drawn with seed %d", took, seed)
	rng := rand.New(rand.NewPCG(seed, 1))
	job := ingestJob{Home: t.TempDir(), Roots: exp.Roots}
	// Each restart resumes where the last committed, so kills come within
	// the first third of an uninterrupted run: most rounds interrupt, and
	// the remaining work shrinks until a round finishes.
	kills := 0
	for round := 0; round < 30 && kills < 10; round++ {
		limit := took / 3
		if round == 0 {
			limit = 30 * time.Millisecond // while the database is created
		}
		at := time.Duration(rng.Int64N(int64(limit)))
		cmd := ingestChild(t, job)
		time.Sleep(at) // the random moment of the kill, not a wait for a state
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil && !errors.Is(err, os.ErrProcessDone) {
			t.Fatal(err)
		}
		err := cmd.Wait()
		var ee *exec.ExitError
		switch {
		case errors.As(err, &ee) && ee.Sys().(syscall.WaitStatus).Signal() == syscall.SIGKILL:
			kills++
		case err != nil:
			t.Fatalf("round %d: the ingest failed by itself after a kill: %v\n%s", round, err, cmd.Stdout)
		default:
			t.Logf("round %d: the ingest finished before the kill at %v", round, at)
			round = 30 // nothing left to interrupt
		}
	}
	if kills < 3 {
		t.Fatalf("only %d ingests were killed before they finished: nothing was tested", kills)
	}
	t.Logf("%d ingests killed", kills)

	l := openLedgerAt(t, job.Home, exp.Roots)
	syncLedger(t, l)
	c := openLedgerAt(t, clean.Home, exp.Roots)
	for _, kind := range reports {
		sameJSON(t, kind+" after the kills", reportJSON(t, c, kind, ledger.Query{}), reportJSON(t, l, kind, ledger.Query{}))
	}
	if got, want := l.State(), c.State(); got.Calls != want.Calls || got.Files != want.Files || got.Malformed != want.Malformed {
		t.Errorf("after the kills: %d calls, %d files, %d malformed lines; uninterrupted: %d, %d, %d",
			got.Calls, got.Files, got.Malformed, want.Calls, want.Files, want.Malformed)
	}
	if got := dailyTotals(t, l); got.in != exp.Tokens.Input || got.out != exp.Tokens.Output || got.total != exp.Tokens.Total() {
		t.Errorf("after the kills: totals %+v; the tree holds %+v", got, exp.Tokens)
	}
}
