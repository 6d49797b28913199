package loadtest

import (
	"fmt"
	"os"

	"herald/internal/natsproc"
	"herald/internal/serverproc"
)

// MaybeServe turns the process into the embedded server when it was started
// with serverproc.Flag (or NATS, natsproc.Flag), or into a load-test worker with WorkerFlag, and
// never returns in those cases. Mains (and test mains) that
// want the embedded mode call it first.
func MaybeServe() {
	if len(os.Args) < 2 {
		return
	}
	serverproc.MaybeServe()
	natsproc.MaybeServe()
	if os.Args[1] != WorkerFlag {
		return
	}
	if err := runWorker(os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
	os.Exit(0)
}
