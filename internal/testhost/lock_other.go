//go:build !linux

package testhost

// LockHeld needs open file description locks, which only Linux has; where
// they are missing a test that asks cannot run.
func LockHeld(t interface{ Fatal(...any) }, path string) bool {
	t.Fatal("testhost.LockHeld needs Linux (F_OFD_GETLK) to see this process's own locks")
	return false
}
