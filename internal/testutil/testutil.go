// Package testutil holds the helpers shared by Herald's tests.
package testutil

import (
	"bytes"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"herald/client"
)

// WaitFor polls cond every millisecond until it holds, failing the test
// after timeout.
func WaitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(time.Millisecond)
	}
}

// Clock is a settable clock, safe for concurrent use; Now starts at start.
type Clock struct{ nanos atomic.Int64 }

// NewClock returns a clock reading start.
func NewClock(start time.Time) *Clock {
	c := &Clock{}
	c.nanos.Store(start.UnixNano())
	return c
}

// Now reads the clock.
func (c *Clock) Now() time.Time { return time.Unix(0, c.nanos.Load()) }

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) { c.nanos.Add(int64(d)) }

// SyncBuffer is a bytes.Buffer that goroutines may write to at once (a log
// handler's output).
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (w *SyncBuffer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

// String returns what was written so far.
func (w *SyncBuffer) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}

// Message is a broadcast with this payload and nothing else set.
func Message(payload string) client.Message { return client.Message{Payload: []byte(payload)} }
