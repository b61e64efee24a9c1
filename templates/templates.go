// Package templates embeds the text templates cco renders: the systemd
// unit, the launchd plist, config.toml and the generated documentation.
package templates

import "embed"

// FS holds every *.tmpl file of this directory.
//
//go:embed *.tmpl
var FS embed.FS
