package ledger

import (
	"testing"
	"time"
)

// TestCacheSetLimits: a smaller budget evicts the least recently used
// entries at once; a new lifetime applies to the entries already held; a
// zero budget empties the cache and keeps it empty.
func TestCacheSetLimits(t *testing.T) {
	now := time.Unix(1000, 0)
	c := newCache(300, 0, func() time.Time { return now })
	for _, k := range []string{"a", "b", "c"} {
		_, gen, _ := c.get(k)
		c.put(k, make([]byte, 100), gen)
	}
	c.get("a") // a is now the most recently used; b the least
	c.setLimits(200, 0)
	if st := c.stats(); st.Bytes != 200 || st.Entries != 2 {
		t.Fatalf("after a 200-byte budget: %d bytes in %d entries, want 200 in 2", st.Bytes, st.Entries)
	}
	if _, _, ok := c.get("b"); ok {
		t.Error("b, the least recently used, survived the smaller budget")
	}
	if _, _, ok := c.get("a"); !ok {
		t.Error("a, recently used, was evicted")
	}

	c.setLimits(200, time.Minute)
	now = now.Add(2 * time.Minute)
	if _, _, ok := c.get("c"); ok {
		t.Error("c, older than the new one-minute lifetime, was served")
	}

	c.setLimits(0, 0)
	if st := c.stats(); st.Bytes != 0 || st.Entries != 0 {
		t.Fatalf("after a zero budget: %d bytes in %d entries, want none", st.Bytes, st.Entries)
	}
	_, gen, _ := c.get("d")
	c.put("d", make([]byte, 1), gen)
	if _, _, ok := c.get("d"); ok {
		t.Error("a zero budget stored an entry")
	}
}
