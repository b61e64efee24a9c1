package protocol

import (
	"os"
	"strings"
)

// Proc is what identifies one process beyond its pid.
type Proc struct {
	Start uint64 // kernel start time; see State.ProcStart
	// Exe is the executable's path as the kernel tells it now, without
	// the " (deleted)" Linux adds once the file is replaced or removed; ""
	// where the platform does not tell.
	Exe string
	// ExeID names the executable's file itself, "<device>:<inode>", which a
	// replaced, removed or moved binary keeps; "" where the platform does
	// not tell.
	ExeID string
	// Exiting says the process is ending or has ended and awaits its
	// reaping (a zombie): it holds no lock, or will not for long. The
	// kernel drops a killed daemon's lock before its pid shows as a
	// zombie, so a zombie test alone would see a daemon that holds
	// nothing but still runs.
	Exiting bool
}

// Alive reports whether pid is a running process (not exiting, not a
// zombie).
func Alive(pid int) bool {
	p, err := ProcInfo(pid)
	return err == nil && !p.Exiting
}

// Self is what identifies this process, for the state file.
func Self() (Proc, error) { return ProcInfo(os.Getpid()) }

// Running reports whether pid is still the live process that p described:
// not exiting, and the same start time.
func Running(pid int, p Proc) bool {
	now, err := ProcInfo(pid)
	return err == nil && !now.Exiting && now.Start == p.Start
}

// Describes reports whether the live process p, found at s.PID, is the
// process s was written by: the same kernel start time (with the pid, one
// process whatever pid reuse does) and the same executable — the same file
// where both tell it (a binary replaced or moved in place is still the
// file the daemon runs), else the same path.
func (s *State) Describes(p Proc) bool {
	if p.Exiting || p.Start != s.ProcStart {
		return false
	}
	switch {
	case s.ExecutableID != "" && p.ExeID != "":
		return s.ExecutableID == p.ExeID
	case s.Executable != "" && p.Exe != "":
		return strings.TrimSuffix(s.Executable, deletedSuffix) == p.Exe
	}
	return true
}

// deletedSuffix is what Linux appends to /proc/<pid>/exe once the file is
// gone from its path.
const deletedSuffix = " (deleted)"
