package ledger

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"time"
)

// freshWait bounds how long a query waits for pending ingest.
const freshWait = time.Second

// Handler serves GET /api/usage/daily|monthly|session?since=&until=&timezone=&project=
// with the JSON documents of Daily, Monthly and Sessions. A query first
// lets pending ingest finish (at most a second); an answer given before it
// did carries the header X-CCO-Partial: 1. Bad parameters get 400 and
// {"error": "..."}.
func (l *Ledger) Handler() http.Handler {
	return http.HandlerFunc(l.serve)
}

func httpError(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": msg})
}

func (l *Ledger) serve(w http.ResponseWriter, r *http.Request) {
	kind := strings.TrimPrefix(r.URL.Path, "/api/usage/")
	if kind != "daily" && kind != "monthly" && kind != "session" {
		httpError(w, http.StatusNotFound, "no such report: "+r.URL.Path+" (daily, monthly or session under /api/usage/)")
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		httpError(w, http.StatusMethodNotAllowed, "use GET")
		return
	}
	v := r.URL.Query()
	q := Query{Since: v.Get("since"), Until: v.Get("until"), Project: v.Get("project")}
	tz := v.Get("timezone")
	if tz != "" {
		loc, err := time.LoadLocation(tz)
		if err != nil || tz == "Local" {
			httpError(w, http.StatusBadRequest, "timezone "+tz+" is not an IANA time zone name (e.g. Europe/Berlin, UTC)")
			return
		}
		q.Location = loc
	}
	if _, _, _, err := q.days(); err != nil {
		httpError(w, http.StatusBadRequest, err.Error())
		return
	}
	partial := !l.fresh.wait(r.Context(), freshWait)
	body, err := l.answer(r.Context(), kind, tz, q)
	if err != nil {
		httpError(w, http.StatusInternalServerError, err.Error())
		return
	}
	w.Header().Set("Content-Type", "application/json")
	if partial {
		w.Header().Set("X-CCO-Partial", "1")
	}
	_, _ = w.Write(body)
}

// answer returns the encoded report, from the cache when it holds it.
func (l *Ledger) answer(ctx context.Context, kind, tz string, q Query) ([]byte, error) {
	key := kind + "\x00" + q.Since + "\x00" + q.Until + "\x00" + tz + "\x00" + q.Project
	b, gen, ok := l.cache.get(key) // gen: an ingest while computing drops the result
	if ok {
		return b, nil
	}
	rep, err := l.Report(ctx, kind, q)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := json.NewEncoder(&buf).Encode(rep); err != nil {
		return nil, err
	}
	l.cache.put(key, buf.Bytes(), gen)
	return buf.Bytes(), nil
}
