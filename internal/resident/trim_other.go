//go:build !linux

package resident

// Trim does nothing where there is no /proc/self/smaps.
func Trim() {}
