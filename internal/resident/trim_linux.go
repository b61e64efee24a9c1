package resident

import (
	"bufio"
	"bytes"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Trim gives back the pages of cco's code and read-only data that only
// start-up touched. The supervisor and the daemon are the same binary as
// every other cco command: the package initialisers of the whole program,
// start-up's own work and the kernel's fault-around leave most of the
// executable resident, of which a process's loop uses a small part. A
// private file mapping that is not writable and holds no copied-on-write
// page (smaps Anonymous: 0) is identical to the file, so dropping it
// (MADV_DONTNEED) loses nothing: what the loop touches again is mapped
// back from the page cache. Nothing is trimmed when smaps cannot be read.
func Trim() {
	exe, err := os.Executable()
	if err != nil {
		return
	}
	data, err := os.ReadFile("/proc/self/smaps")
	if err != nil {
		return
	}
	type mapping struct {
		start, end uint64
		exe        bool // a mapping of the executable
		ok         bool // read-only, of the executable, no anonymous page
	}
	var maps []mapping
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		switch {
		case len(f) >= 6 && strings.Contains(f[0], "-") && len(f[1]) == 4:
			lo, hi, _ := strings.Cut(f[0], "-")
			start, err1 := strconv.ParseUint(lo, 16, 64)
			end, err2 := strconv.ParseUint(hi, 16, 64)
			ro := f[1][1] == '-' && f[1][3] == 'p'
			parsed := err1 == nil && err2 == nil
			maps = append(maps, mapping{start, end, parsed && f[5] == exe, parsed && ro && f[5] == exe})
		case len(f) == 3 && f[0] == "Anonymous:" && f[1] != "0" && len(maps) > 0:
			maps[len(maps)-1].ok = false
		}
	}
	// The raw calls: the ranges are not Go memory, so no slice of them.
	for _, m := range maps {
		if m.exe {
			// Map back one page per fault, not the 64 KiB around it.
			unix.Syscall(unix.SYS_MADVISE, uintptr(m.start), uintptr(m.end-m.start), unix.MADV_RANDOM)
		}
		if m.ok {
			unix.Syscall(unix.SYS_MADVISE, uintptr(m.start), uintptr(m.end-m.start), unix.MADV_DONTNEED)
		}
	}
}
