package store

import "context"

func (s *sqliteStore) Totals(ctx context.Context, from, to int64) ([]Bucket, error) {
	models, err := s.models(ctx)
	if err != nil {
		return nil, err
	}
	rows, err := s.r.QueryContext(ctx, `SELECT model_id, sum(input), sum(output), sum(c5), sum(c1), sum(cr),
		sum(x_input), sum(x_output), sum(x_c5), sum(x_c1), sum(x_cr), sum(cost), min(first_ts), sum(calls)
		FROM agg WHERE bucket >= ? AND bucket < ? AND calls > 0 GROUP BY model_id`, from, to)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Bucket
	for rows.Next() {
		var b Bucket
		var mid int64
		t, x := &b.Tokens, &b.Above
		if err := rows.Scan(&mid, &t.Input, &t.Output, &t.Cache5m, &t.Cache1h, &t.CacheRead,
			&x.Input, &x.Output, &x.Cache5m, &x.Cache1h, &x.CacheRead, &b.Cost, &b.FirstTS, &b.Calls); err != nil {
			return nil, err
		}
		b.Model = models[mid]
		out = append(out, b)
	}
	return out, rows.Err()
}
