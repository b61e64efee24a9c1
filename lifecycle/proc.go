package lifecycle

import "os"

// proc is what identifies one process beyond its pid.
type proc struct {
	Start  uint64 // kernel start time; see State.ProcStart
	Exe    string // executable path, "" where the platform does not tell
	Zombie bool
}

// alive reports whether pid is a running process (not a zombie).
func alive(pid int) bool {
	p, err := procInfo(pid)
	return err == nil && !p.Zombie
}

// SelfStart is this process's kernel start time, for the state file.
func SelfStart() (uint64, error) {
	p, err := procInfo(os.Getpid())
	return p.Start, err
}
