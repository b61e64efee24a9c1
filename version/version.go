// Package version tells which cco this is.
package version

import (
	"runtime"
	"runtime/debug"
)

// Version is set at link time by the Makefile (-X); builds without it fall
// back to the module version Go recorded, then to "dev".
var Version = ""

// Commit is the git commit, set at link time by the Makefile (-X) where Go
// records none itself (a build with -buildvcs=false).
var Commit = ""

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

// Info is what `cco version` prints. Its JSON schema is stable.
type Info struct {
	Version  string `json:"version"`
	Commit   string `json:"commit"`   // "" when the build recorded none
	Modified bool   `json:"modified"` // built from a tree with uncommitted changes
	Go       string `json:"go"`
	Platform string `json:"platform"` // GOOS/GOARCH
}

// Read returns this binary's version, the commit it was built from (as Go
// records it for a build inside a git checkout) and the Go that built it.
func Read() Info {
	i := Info{Version: String(), Commit: Commit, Go: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, s := range info.Settings {
			switch s.Key {
			case "vcs.revision":
				if i.Commit == "" {
					i.Commit = s.Value
				}
			case "vcs.modified":
				i.Modified = s.Value == "true"
			}
		}
	}
	return i
}
