// Package lru is a map bounded by the sizes of its values: once they pass
// its budget, the least recently used entries leave. It is meant for a few
// hundred large entries (eviction scans them), and is safe for concurrent
// use.
package lru

import "sync"

// Cache maps keys to values with sizes, within a byte budget.
type Cache[K comparable, V any] struct {
	mu      sync.Mutex
	budget  int64
	bytes   int64
	tick    uint64
	entries map[K]*entry[V]
}

type entry[V any] struct {
	value V
	size  int64
	used  uint64
}

// New returns a cache of budget bytes; with none it keeps nothing.
func New[K comparable, V any](budget int64) *Cache[K, V] {
	return &Cache[K, V]{budget: budget, entries: map[K]*entry[V]{}}
}

// Budget returns the cache's budget.
func (c *Cache[K, V]) Budget() int64 { return c.budget }

// Get returns the value under k, marking it used.
func (c *Cache[K, V]) Get(k K) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[k]
	if !ok {
		var zero V
		return zero, false
	}
	c.tick++
	e.used = c.tick
	return e.value, true
}

// Put stores v under k, replacing what was there, and evicts the least
// recently used entries while over budget. A value larger than the whole
// budget is not kept (and what was under k is gone).
func (c *Cache[K, V]) Put(k K, v V, size int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.delete(k)
	if size > c.budget {
		return
	}
	c.tick++
	c.entries[k] = &entry[V]{value: v, size: size, used: c.tick}
	c.bytes += size
	for c.bytes > c.budget {
		var oldest K
		var at uint64
		for key, e := range c.entries {
			if at == 0 || e.used < at {
				oldest, at = key, e.used
			}
		}
		c.delete(oldest)
	}
}

// Delete removes k.
func (c *Cache[K, V]) Delete(k K) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.delete(k)
}

// Bytes returns the sizes of the values held and how many there are.
func (c *Cache[K, V]) Bytes() (int64, int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.bytes, len(c.entries)
}

func (c *Cache[K, V]) delete(k K) {
	if e, ok := c.entries[k]; ok {
		c.bytes -= e.size
		delete(c.entries, k)
	}
}
