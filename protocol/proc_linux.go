package protocol

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// pfExiting is PF_EXITING (include/linux/sched.h), set as a task starts
// to exit.
const pfExiting = 0x4

// ProcInfo reads what identifies a live process: its kernel start time
// (clock ticks since boot, /proc/<pid>/stat field 22), its executable (the
// path, and the file itself: a stat of /proc/<pid>/exe reaches it even once
// replaced, removed or moved), and whether it is exiting: a zombie (field
// 3), or past the start of exit (PF_EXITING in field 9), which comes before
// the kernel closes its files and so drops its locks.
func ProcInfo(pid int) (Proc, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return Proc{}, err
	}
	// The command name (field 2) may hold spaces and parentheses: fields
	// are counted after its closing parenthesis.
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return Proc{}, fmt.Errorf("/proc/%d/stat: no command field", pid)
	}
	fields := strings.Fields(string(data[i+1:]))
	if len(fields) < 20 {
		return Proc{}, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(fields)+2)
	}
	start, err := strconv.ParseUint(fields[19], 10, 64) // field 22
	if err != nil {
		return Proc{}, fmt.Errorf("/proc/%d/stat: start time: %w", pid, err)
	}
	flags, err := strconv.ParseUint(fields[6], 10, 64) // field 9
	if err != nil {
		return Proc{}, fmt.Errorf("/proc/%d/stat: flags: %w", pid, err)
	}
	p := Proc{Start: start, Exiting: fields[0] == "Z" || flags&pfExiting != 0}
	link := fmt.Sprintf("/proc/%d/exe", pid)
	if exe, err := os.Readlink(link); err == nil {
		p.Exe = strings.TrimSuffix(exe, deletedSuffix)
	}
	if fi, err := os.Stat(link); err == nil {
		if st, ok := fi.Sys().(*syscall.Stat_t); ok {
			p.ExeID = fmt.Sprintf("%d:%d", st.Dev, st.Ino)
		}
	}
	return p, nil
}
