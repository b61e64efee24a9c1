package resident

import (
	"bufio"
	"os"
	"strconv"
	"strings"
	"testing"

	_ "github.com/anthropics/cco/internal/golden" // its -update flag: `go test ./... -update` works from the root
)

// exeResidentKB sums the resident memory of this process's read-only
// mappings of its executable (code and constants: what Trim gives back).
func exeResidentKB(t *testing.T) int {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	kb, ours := 0, false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		switch {
		case len(fields) >= 5 && strings.Contains(fields[0], "-") && len(fields[1]) == 4:
			ours = len(fields) >= 6 && fields[5] == exe && fields[1][1] == '-'
		case ours && len(fields) == 3 && fields[0] == "Rss:":
			n, err := strconv.Atoi(fields[1])
			if err != nil {
				t.Fatal(err)
			}
			kb += n
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return kb
}

// Trim gives back the executable's resident pages: what the test touches
// again to look (its own code, the runtime's, the testing package's) is
// mapped back a page at a time, which in this small binary is some of them.
func TestTrimGivesBackTheExecutable(t *testing.T) {
	before := exeResidentKB(t)
	Trim()
	after := exeResidentKB(t)
	t.Logf("executable resident: %d KiB before Trim, %d KiB after", before, after)
	if after > before*3/4 {
		t.Errorf("the executable has %d KiB resident after Trim, %d KiB before: want at most three quarters", after, before)
	}
}
