package protocol

import "golang.org/x/sys/unix"

// szomb is p_stat of a zombie (sys/proc.h SZOMB); pWexit is the p_flag bit
// set as a process starts to exit, before its files are closed (P_WEXIT).
const (
	szomb  = 5
	pWexit = 0x00002000
)

// ProcInfo reads what identifies a live process: its kernel start time in
// microseconds since the epoch (kern.proc.pid) and whether it is exiting (a
// zombie, or past the start of exit).
// macOS offers no executable path without cgo, so Exe stays empty and is not
// compared.
func ProcInfo(pid int) (Proc, error) {
	k, err := unix.SysctlKinfoProc("kern.proc.pid", pid)
	if err != nil {
		return Proc{}, err
	}
	if k.Proc.P_pid != int32(pid) {
		return Proc{}, unix.ESRCH
	}
	t := k.Proc.P_starttime
	return Proc{Start: uint64(t.Sec)*1e6 + uint64(t.Usec), Exiting: k.Proc.P_stat == szomb || k.Proc.P_flag&pWexit != 0}, nil
}
