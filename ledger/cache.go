package ledger

import (
	"container/list"
	"sync"
	"time"
)

// cache holds encoded report answers within a byte budget: an entry weighs
// its encoded size; the least recently used go first, and entries older
// than the lifetime are not served. Ingest invalidates everything.
type cache struct {
	mu      sync.Mutex
	budget  int64
	ttl     time.Duration
	now     func() time.Time
	gen     uint64 // bumped by invalidate; a put computed before it is dropped
	order   *list.List
	entries map[string]*list.Element
	st      CacheStats
}

type cacheEntry struct {
	key string
	val []byte
	at  time.Time
}

func newCache(budget int64, ttl time.Duration, now func() time.Time) *cache {
	return &cache{budget: budget, ttl: ttl, now: now, order: list.New(), entries: map[string]*list.Element{}}
}

// get returns the entry for key and the generation to hand to put when
// there is none.
func (c *cache) get(key string) ([]byte, uint64, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.entries[key]; ok {
		e := el.Value.(*cacheEntry)
		if c.ttl <= 0 || c.now().Sub(e.at) < c.ttl {
			c.order.MoveToFront(el)
			c.st.Hits++
			return e.val, c.gen, true
		}
		c.remove(el)
		c.st.Evictions++
	}
	c.st.Misses++
	return nil, c.gen, false
}

// put stores val under key unless the cache was invalidated since gen was
// read, or val alone exceeds the budget.
func (c *cache) put(key string, val []byte, gen uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	size := int64(len(val))
	if gen != c.gen || size > c.budget {
		return
	}
	if el, ok := c.entries[key]; ok {
		c.remove(el)
	}
	c.entries[key] = c.order.PushFront(&cacheEntry{key: key, val: val, at: c.now()})
	c.st.Bytes += size
	c.st.Entries++
	for c.st.Bytes > c.budget {
		c.remove(c.order.Back())
		c.st.Evictions++
	}
}

func (c *cache) remove(el *list.Element) {
	e := c.order.Remove(el).(*cacheEntry)
	delete(c.entries, e.key)
	c.st.Bytes -= int64(len(e.val))
	c.st.Entries--
}

// setLimits changes the budget and the lifetime of the entries: entries
// over the new budget go at once, least recently used first; the lifetime
// applies to the entries already held too.
func (c *cache) setLimits(budget int64, ttl time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.budget, c.ttl = budget, ttl
	for c.st.Bytes > max(c.budget, 0) && c.order.Len() > 0 {
		c.remove(c.order.Back())
		c.st.Evictions++
	}
}

// invalidate drops every entry: the ledger changed.
func (c *cache) invalidate() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	c.order.Init()
	clear(c.entries)
	c.st.Bytes, c.st.Entries = 0, 0
}

func (c *cache) stats() CacheStats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.st
}
