package protocol

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// Signal sends sig to pid only if pid is still the live process p
// described (same kernel start time); otherwise it returns unix.ESRCH. On
// Linux the process is pinned by a pidfd before it is checked, so the
// signal reaches the process checked even if pid is reused in between;
// elsewhere the check and kill(2) are a moment apart.
func Signal(pid int, p Proc, sig syscall.Signal) error {
	pin, err := pinProcess(pid)
	if err != nil {
		return err
	}
	defer pin.release()
	if !Running(pid, p) {
		return unix.ESRCH
	}
	return pin.send(sig)
}
