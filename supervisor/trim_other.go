//go:build !linux

package supervisor

// trimResident does nothing where there is no /proc/self/smaps.
func trimResident() {}
