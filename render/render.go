// Package render turns data into the bytes of the service files: the
// systemd user unit and the launchd plist, escaped for each format. It
// writes nothing; the caller decides where the bytes go.
package render

import (
	"errors"
	"text/template"

	"github.com/anthropics/cco/templates"
)

// serviceTemplates are the templates this package renders, with the
// escaping of each format.
var serviceTemplates = templates.NewSet(template.FuncMap{
	"xmlText":     xmlText,
	"unitCommand": unitCommand,
	"unitEnv":     unitEnv,
	"unitArg":     unitArg,
	"unitPath":    unitPath,
}, "cco-daemon.service.tmpl", "cco-daemon-sandbox.conf.tmpl", "cco-daemon-health.conf.tmpl", "com.anthropic.cco.daemon.plist.tmpl")

// Render executes the named template (its file name, such as
// "cco-daemon.service.tmpl") with data. A value the format cannot carry is
// returned as the *UnrepresentableError itself.
func Render(name string, data any) ([]byte, error) {
	out, err := serviceTemplates.Execute(name, data)
	var bad *UnrepresentableError
	if errors.As(err, &bad) {
		return nil, bad
	}
	return out, err
}
