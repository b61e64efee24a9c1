// Package version tells which cco this is.
package version

import "runtime/debug"

// Version is set at link time by the Makefile (-X); builds without it fall
// back to the module version Go recorded, then to "dev".
var Version = ""

// String returns the version of this binary.
func String() string {
	if Version != "" {
		return Version
	}
	if info, ok := debug.ReadBuildInfo(); ok && info.Main.Version != "" && info.Main.Version != "(devel)" {
		return info.Main.Version
	}
	return "dev"
}
