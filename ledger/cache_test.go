package ledger

import (
	"testing"
	"time"
)

func TestCacheBudgetInBytes(t *testing.T) {
	c := newCache(10, 0, time.Now)
	_, gen, _ := c.get("a")
	c.put("a", []byte("12345"), gen)
	c.put("b", []byte("1234"), gen)
	if _, _, ok := c.get("a"); !ok { // a is now the most recently used
		t.Fatal("a missing")
	}
	c.put("c", []byte("123"), gen) // 12 bytes > 10: b, the least recently used, goes
	if _, _, ok := c.get("b"); ok {
		t.Error("b survived the budget")
	}
	if _, _, ok := c.get("a"); !ok {
		t.Error("a was evicted instead of b")
	}
	c.put("big", []byte("12345678901"), gen) // larger than the budget: not kept
	if _, _, ok := c.get("big"); ok {
		t.Error("an entry larger than the budget was kept")
	}
	st := c.stats()
	if st.Bytes != 8 || st.Entries != 2 || st.Evictions != 1 || st.Hits != 2 || st.Misses != 3 {
		t.Errorf("stats %+v", st)
	}
}

func TestCacheLifetime(t *testing.T) {
	now := time.Unix(1000, 0)
	c := newCache(100, time.Minute, func() time.Time { return now })
	c.put("a", []byte("x"), 0)
	now = now.Add(59 * time.Second)
	if _, _, ok := c.get("a"); !ok {
		t.Fatal("expired early")
	}
	now = now.Add(2 * time.Second)
	if _, _, ok := c.get("a"); ok {
		t.Fatal("served after its lifetime")
	}
	if st := c.stats(); st.Entries != 0 || st.Bytes != 0 || st.Evictions != 1 {
		t.Errorf("stats %+v", st)
	}
}

// An answer computed before an invalidation is not kept after it.
func TestCacheInvalidation(t *testing.T) {
	c := newCache(100, 0, time.Now)
	_, gen, _ := c.get("a")
	c.put("a", []byte("old"), gen)
	_, gen, _ = c.get("b") // computing b…
	c.invalidate()         // …while ingest commits
	c.put("b", []byte("stale"), gen)
	if _, _, ok := c.get("a"); ok {
		t.Error("a survived the invalidation")
	}
	if _, _, ok := c.get("b"); ok {
		t.Error("b, computed before the invalidation, was kept")
	}
	if st := c.stats(); st.Bytes != 0 || st.Entries != 0 {
		t.Errorf("stats %+v", st)
	}
}

func TestCacheDisabled(t *testing.T) {
	c := newCache(0, 0, time.Now)
	c.put("a", []byte("x"), 0)
	if _, _, ok := c.get("a"); ok {
		t.Error("a cache of 0 bytes kept an entry")
	}
}

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
