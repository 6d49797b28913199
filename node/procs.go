package node

import (
	"os"
	"runtime"
)

// atLeastTwoProcs gives the Go scheduler two Ps on a machine (or a CPU
// set) of one CPU, unless GOMAXPROCS is set. Each event loop waits for its
// sockets in epoll_wait, a system call that keeps its P; with one P, a
// goroutine woken meanwhile (the publishers' loop with a PUBLISH, the
// writer after its fsync, a loop with a broadcast to write) waits for the
// runtime to take the P back from that call, or, when a loop is busy
// writing (a reconnect storm), for the loop to be preempted, up to 10 ms.
// With two, the kernel shares the one CPU between two threads and a woken
// goroutine runs at once. docs/BENCHMARKS.md ("The reconnect storm at
// 0.8× its floor") has the figures.
func atLeastTwoProcs() {
	if os.Getenv("GOMAXPROCS") == "" && runtime.GOMAXPROCS(0) < 2 {
		runtime.GOMAXPROCS(2)
	}
}
