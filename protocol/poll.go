package protocol

import (
	"context"
	"time"
)

// The backoff of Poll: the first look again after pollFirst, each next one
// a quarter as late again, at most pollMax apart. A daemon exits within
// milliseconds of SIGTERM, so the looks of the first ten milliseconds come
// at most 2 ms apart, and what is waited for is seen within a fraction of
// the wait; a slow one costs a probe every pollMax.
const (
	pollFirst = 250 * time.Microsecond
	pollMax   = 5 * time.Millisecond
)

// Poll calls cond until it reports true or an error, or ctx is done (then
// it returns ctx's error).
func Poll(ctx context.Context, cond func() (bool, error)) error {
	d := pollFirst
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		ok, err := cond()
		if err != nil || ok {
			return err
		}
		t.Reset(d)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
		d = min(d*5/4, pollMax)
	}
}
