package server

import (
	"testing"
	"time"
)

// TestRateLimit: a burst passes up to the limit, the rest are counted and
// reported with the next line let through once tokens refill.
func TestRateLimit(t *testing.T) {
	r := rateLimit{perSecond: 3}
	now := time.Unix(1000, 0)
	passed := 0
	for range 10 {
		if ok, _ := r.allow(now); ok {
			passed++
		}
	}
	if passed != 3 {
		t.Fatalf("%d of a burst of 10 passed, want 3", passed)
	}
	ok, suppressed := r.allow(now.Add(time.Second))
	if !ok || suppressed != 7 {
		t.Fatalf("after a second: %v, %d suppressed reported, want 7", ok, suppressed)
	}
}
