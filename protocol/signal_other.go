//go:build !linux

package protocol

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// pinned is a process by pid: this platform has no pidfd.
type pinned struct{ pid int }

func pinProcess(pid int) (pinned, error) { return pinned{pid: pid}, nil }

func (p pinned) send(sig syscall.Signal) error { return unix.Kill(p.pid, sig) }

func (p pinned) release() {}
