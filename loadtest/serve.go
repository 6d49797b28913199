package loadtest

import (
	"errors"
	"fmt"
	"os"
	"os/signal"
	"sync"
	"syscall"

	"herald/fanout"
	"herald/internal/child"
	"herald/internal/testtier"
	"herald/node"
)

// MaybeServe turns the process into the embedded server when it was started
// with ServeFlag, or into a load-test worker with WorkerFlag, and never
// returns in those cases. Mains (and test mains) that
// want the embedded mode call it first.
func MaybeServe() {
	if len(os.Args) < 2 {
		return
	}
	var err error
	switch os.Args[1] {
	case ServeFlag:
		err = serve(os.Args[2:])
	case WorkerFlag:
		err = runWorker(os.Stdin, os.Stdout)
	default:
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
	os.Exit(0)
}

// serve runs `herald serve` (node.ServeCommand) with args, adding the
// unlimited tier and stopping when SIGTERM comes or the parent goes; it
// announces its addresses on stdout in the lines StartServer reads. One
// argument is the embedded server's own: --remove-on-exit DIR removes the
// run's temporary directory once the server has stopped.
func serve(args []string) error {
	var removeOnExit string
	rest := make([]string, 0, len(args)+2)
	rest = append(rest, "--log-level", "warn") // a line per publish would flood a load test
	for i := 0; i < len(args); i++ {
		if args[i] == "--remove-on-exit" && i+1 < len(args) {
			removeOnExit = args[i+1]
			i++
			continue
		}
		rest = append(rest, args[i])
	}
	// The parent reads the server's stdout; once it is gone, the line
	// herald serve prints on stopping would end the process with SIGPIPE
	// before it removes its directory.
	signal.Ignore(syscall.SIGPIPE)
	stop := make(chan struct{})
	var once sync.Once
	child.ExitWithParent(func() { once.Do(func() { close(stop) }) }) // the load test is gone
	cmd := node.ServeCommand(node.ServeOptions{Tiers: []fanout.TierPolicy{testtier.Unlimited}, Stop: stop})
	cmd.SetArgs(rest)
	cmd.SilenceUsage = true
	err := cmd.Execute()
	if removeOnExit != "" {
		err = errors.Join(err, os.RemoveAll(removeOnExit))
	}
	return err
}
