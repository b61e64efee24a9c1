//go:build !linux

package protocol

import "os"

// flockToo does nothing where flock and record locks are one kind of lock
// (the BSDs, macOS): the record lock is all there is.
func flockToo(*os.File) error { return nil }
