//go:build !linux

package lifecycle

import "errors"

// Stats is not implemented where there is no /proc (macOS): status leaves
// memory, CPU time and connections out.
func Stats(pid, port int) (ProcStats, error) {
	return ProcStats{Connections: -1}, errors.New("process statistics need Linux's /proc")
}
