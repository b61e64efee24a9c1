//go:build !linux

package lifecycle

import "errors"

// Stats is not implemented where there is no /proc (macOS): status leaves
// memory and CPU time out.
func Stats(pid int) (ProcStats, error) {
	return ProcStats{}, errors.New("process statistics need Linux's /proc")
}
