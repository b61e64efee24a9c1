// Package identity is how the service managers know the daemon: the systemd
// unit's name, the launchd job's label, and where a per-user install puts
// the service file. The managers (package service), the renderer and the
// CLI all take these from here.
package identity

import "path/filepath"

const (
	// UnitName is the systemd user unit.
	UnitName = "cco-daemon.service"
	// LaunchdLabel is the launchd job's label.
	LaunchdLabel = "com.anthropic.cco.daemon"
)

// FileName is the name of goos's service file: the unit on Linux, the
// plist (LaunchdLabel + ".plist") on macOS.
func FileName(goos string) string {
	if goos == "darwin" {
		return LaunchdLabel + ".plist"
	}
	return UnitName
}

// Path is where a per-user install keeps the service file of goos:
// $XDG_CONFIG_HOME/systemd/user/cco-daemon.service (an empty or relative
// XDG_CONFIG_HOME, which the XDG specification says to ignore, means
// userHome/.config) or userHome/Library/LaunchAgents/<label>.plist. The
// service managers look there, and install writes there.
func Path(goos, userHome, xdgConfigHome string) string {
	if goos == "darwin" {
		return filepath.Join(userHome, "Library", "LaunchAgents", FileName(goos))
	}
	configHome := xdgConfigHome
	if !filepath.IsAbs(configHome) {
		configHome = filepath.Join(userHome, ".config")
	}
	return filepath.Join(configHome, "systemd", "user", FileName(goos))
}

// DropInPath is where install puts the sandbox drop-in of the unit at
// unitPath: cco-daemon.service.d/sandbox.conf beside it.
func DropInPath(unitPath string) string {
	return filepath.Join(unitPath+".d", "sandbox.conf")
}

// HealthDropInPath is where install puts the drop-in that makes a unit from
// a package follow the user's health_checks and health_check_interval:
// cco-daemon.service.d/health.conf beside cco's own unit path, in the
// user's unit directory, which systemd reads drop-ins from whichever
// directory the unit itself is in.
func HealthDropInPath(unitPath string) string {
	return filepath.Join(unitPath+".d", "health.conf")
}
