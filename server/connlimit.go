package server

import "sync"

// connCounts counts authenticated connections per user (client listener)
// and per account (publisher listener), to refuse one past the configured
// limit. Shards keep HELLOs on different loops from contending.
type connCounts struct {
	shards [64]struct {
		mu     sync.Mutex
		counts map[connKey]int
	}
}

type connKey struct {
	role role
	id   uint32
}

// acquire counts a connection for key unless key already has limit.
func (c *connCounts) acquire(key connKey, limit int) bool {
	sh := &c.shards[key.id%uint32(len(c.shards))]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if sh.counts == nil {
		sh.counts = make(map[connKey]int)
	}
	if sh.counts[key] >= limit {
		return false
	}
	sh.counts[key]++
	return true
}

// release uncounts a connection acquire counted.
func (c *connCounts) release(key connKey) {
	sh := &c.shards[key.id%uint32(len(c.shards))]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if sh.counts[key]--; sh.counts[key] <= 0 {
		delete(sh.counts, key)
	}
}
