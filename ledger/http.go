package ledger

import "net/http"

// Handler serves GET /api/usage/daily|monthly|session.
func (l *Ledger) Handler() http.Handler {
	return http.NotFoundHandler()
}
