package protocol

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// ProcInfo reads what identifies a live process: its kernel start time
// (clock ticks since boot, /proc/<pid>/stat field 22), its executable, and
// whether it is a zombie.
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
	exe, _ := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
	return Proc{Start: start, Exe: strings.TrimSuffix(exe, " (deleted)"), Zombie: fields[0] == "Z"}, nil
}
