//go:build !linux

package lifecycle

import "time"

// watch returns a channel that receives when something in dir may have
// changed: here, every interval.
func watch(dir string, interval time.Duration) (<-chan struct{}, func()) {
	return poll(interval)
}
