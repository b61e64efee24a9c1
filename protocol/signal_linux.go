package protocol

import (
	"errors"
	"syscall"

	"golang.org/x/sys/unix"
)

// pinned is a process held by a pidfd, or by pid alone where the kernel
// has no pidfd (before Linux 5.3).
type pinned struct {
	pid, fd int
}

func pinProcess(pid int) (pinned, error) {
	fd, err := unix.PidfdOpen(pid, 0)
	if errors.Is(err, unix.ENOSYS) || errors.Is(err, unix.EPERM) {
		return pinned{pid: pid, fd: -1}, nil
	}
	if err != nil {
		return pinned{}, err
	}
	return pinned{pid: pid, fd: fd}, nil
}

func (p pinned) send(sig syscall.Signal) error {
	if p.fd < 0 {
		return unix.Kill(p.pid, sig)
	}
	return unix.PidfdSendSignal(p.fd, sig, nil, 0)
}

func (p pinned) release() {
	if p.fd >= 0 {
		unix.Close(p.fd)
	}
}
