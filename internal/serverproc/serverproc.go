// Package serverproc runs Herald servers in child processes, for the
// end-to-end tests that need a real process (crashes, memory, tricklers),
// the load test's embedded server and the benchmarks. The child is the
// same executable, whose main (or TestMain) calls MaybeServe first; it
// runs `herald serve` (node.ServeCommand) with the unlimited tier of
// package testtier added.
package serverproc

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"herald/fanout"
	"herald/internal/child"
	"herald/internal/testtier"
	"herald/node"
)

// Flag is the hidden first argument with which a binary whose main calls
// MaybeServe runs as a Herald server.
const Flag = "__herald-serve"

// MaybeServe turns the process into a server when it was started with
// Flag, and never returns in that case.
func MaybeServe() { child.Run(Flag, "error", serve) }

// Addrs are where a server process listens, and its admin token.
type Addrs struct {
	ClientAddr, PublisherAddr, AdminURL, AdminToken string
}

// Process is a Herald server running in a child process.
type Process struct {
	proc *child.Process
	// TempDir is the temporary directory removed on Stop, if any.
	TempDir string
	addrs   Addrs
}

// Addrs returns the addresses and admin token of the running server.
func (p *Process) Addrs() Addrs { return p.addrs }

// Pid returns the server's process id.
func (p *Process) Pid() int { return p.proc.Pid() }

// Proc is the server's process, for measurements.
func (p *Process) Proc() *child.Process { return p.proc }

// Usage returns the server's CPU time so far and its resident memory.
func (p *Process) Usage() (time.Duration, int64) { return p.proc.Usage() }

// Kill ends the server with SIGKILL, as a crash would, and reaps it.
func (p *Process) Kill() { p.proc.Kill() }

// Stop ends the server with SIGTERM and removes its temporary directory.
func (p *Process) Stop() {
	p.proc.Stop()
	if p.TempDir != "" {
		os.RemoveAll(p.TempDir)
	}
}

// StartTemp runs a server process with a temporary data directory, which
// the server removes when it stops, so that it goes even if this process
// dies first.
func StartTemp() (*Process, error) {
	dir, err := os.MkdirTemp("", "herald-loadtest-")
	if err != nil {
		return nil, err
	}
	p, err := StartWith(filepath.Join(dir, "data"), []string{"--remove-on-exit", dir})
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	p.TempDir = dir
	return p, nil
}

// Start runs this executable as a server on dataDir (in memory when
// dataDir is empty) and free loopback ports, under wrapper (say taskset -c
// 0) if given, and waits until it is serving.
func Start(dataDir string, wrapper ...string) (*Process, error) {
	return StartWith(dataDir, nil, wrapper...)
}

// StartWith is Start with extra flags of herald serve (tests that tune its
// limits: --heartbeat, --frame-timeout, …).
func StartWith(dataDir string, flags []string, wrapper ...string) (*Process, error) {
	raw := make([]byte, 16)
	_, _ = rand.Read(raw)
	token := hex.EncodeToString(raw)
	store := []string{"--data-dir", dataDir}
	if dataDir == "" {
		store = []string{"--in-memory"}
	}
	args := append([]string{Flag}, store...)
	args = append(args, "--client-listen", "127.0.0.1:0", "--publisher-listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0",
		"--admin-token", token)
	args = append(args, flags...)
	proc, err := child.Start(wrapper, args...)
	if err != nil {
		return nil, err
	}
	a := proc.Announced
	return &Process{proc: proc, addrs: Addrs{
		ClientAddr:    strings.TrimPrefix(a["clients"], "tcp://"),
		PublisherAddr: strings.TrimPrefix(a["publishers"], "tcp://"),
		AdminURL:      a["admin"],
		AdminToken:    token,
	}}, nil
}

// serve runs `herald serve` (node.ServeCommand) with args, adding the
// unlimited tier and stopping when SIGTERM comes or the parent goes; it
// announces its addresses on stdout in the lines Start reads. One
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
