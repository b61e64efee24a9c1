package lifecycle

import "time"

// ProcStats is what status shows of a running process, as ps and systemctl
// status do.
type ProcStats struct {
	RSS uint64        // resident memory, bytes
	CPU time.Duration // user + system time since it started
}
