// Package testutil holds the helpers shared by Herald's tests.
package testutil

import (
	"testing"
	"time"
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
