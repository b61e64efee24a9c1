package daemon

import (
	"net/http"

	"github.com/anthropics/cco/dashboard"
)

// mountDashboard adds the usage dashboard and the guarded /api/usage/
// reports to mux, and returns its guard for the daemon's other routes; the
// event streams it serves end when the server shuts down.
func (d *daemon) mountDashboard(mux *http.ServeMux) func(http.Handler) http.Handler {
	dash := dashboard.New(dashboard.Options{
		Host: d.state.Host, Port: d.state.Port, Setting: d.cfg.Dashboard,
		Ledger: d.usage.ledger, Usage: d.usage.handler(),
	})
	dash.Register(mux)
	d.srv.RegisterOnShutdown(dash.Close)
	return dash.Guard
}
