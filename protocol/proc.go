package protocol

import "os"

// Proc is what identifies one process beyond its pid.
type Proc struct {
	Start  uint64 // kernel start time; see State.ProcStart
	Exe    string // executable path, "" where the platform does not tell
	Zombie bool
}

// Alive reports whether pid is a running process (not a zombie).
func Alive(pid int) bool {
	p, err := ProcInfo(pid)
	return err == nil && !p.Zombie
}

// SelfStart is this process's kernel start time, for the state file.
func SelfStart() (uint64, error) {
	p, err := ProcInfo(os.Getpid())
	return p.Start, err
}
