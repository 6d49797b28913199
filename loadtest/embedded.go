package loadtest

import (
	"crypto/rand"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"time"

	"herald/internal/child"
)

// ServeFlag is the hidden first argument with which a binary whose main
// calls MaybeServe runs as a Herald server.
const ServeFlag = "__herald-serve"

// ServerProcess is a Herald server running in a child process started from
// this binary (whose main must call MaybeServe).
type ServerProcess struct {
	proc *child.Process
	// removeDir is the temporary directory to delete on Stop, if any.
	removeDir string
	target    Target
}

// Target returns the addresses and admin token of the running server.
func (e *ServerProcess) Target() Target { return e.target }

// Pid returns the server's process id.
func (e *ServerProcess) Pid() int { return e.proc.Pid() }

// startEmbedded runs a server process with a temporary data directory.
func startEmbedded() (*ServerProcess, error) {
	dir, err := os.MkdirTemp("", "herald-loadtest-")
	if err != nil {
		return nil, err
	}
	// The server removes the directory itself when it stops, so that it
	// goes even if this process dies first.
	e, err := StartServerWith(filepath.Join(dir, "data"), []string{"--remove-on-exit", dir})
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	e.removeDir = dir
	return e, nil
}

// StartServer runs this executable as a server on dataDir (in memory when
// dataDir is empty) and free loopback ports, under wrapper (say taskset -c
// 0) if given, and waits until it is serving.
func StartServer(dataDir string, wrapper ...string) (*ServerProcess, error) {
	return StartServerWith(dataDir, nil, wrapper...)
}

// StartServerWith is StartServer with extra flags for the server (tests
// that tune its limits: --heartbeat, --frame-timeout, …; see serve).
func StartServerWith(dataDir string, flags []string, wrapper ...string) (*ServerProcess, error) {
	raw := make([]byte, 16)
	_, _ = rand.Read(raw)
	token := hex.EncodeToString(raw)
	store := []string{"--data-dir", dataDir}
	if dataDir == "" {
		store = []string{"--in-memory"}
	}
	args := append([]string{ServeFlag}, store...)
	args = append(args, "--client-listen", "127.0.0.1:0", "--publisher-listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0",
		"--admin-token", token)
	args = append(args, flags...)
	proc, err := child.Start(wrapper, args...)
	if err != nil {
		return nil, err
	}
	a := proc.Announced
	return &ServerProcess{proc: proc, target: Target{
		ClientAddr:    strings.TrimPrefix(a["clients"], "tcp://"),
		PublisherAddr: strings.TrimPrefix(a["publishers"], "tcp://"),
		AdminURL:      a["admin"],
		AdminToken:    token,
	}}, nil
}

// Proc is the server's process, for measurements.
func (e *ServerProcess) Proc() *child.Process { return e.proc }

// usage returns the server's CPU time so far and its resident memory.
func (e *ServerProcess) usage() (time.Duration, int64) { return e.proc.Usage() }

// Kill ends the server with SIGKILL, as a crash would, and reaps it.
func (e *ServerProcess) Kill() { e.proc.Kill() }

// Stop ends the server with SIGTERM and removes its temporary directory.
func (e *ServerProcess) Stop() {
	e.proc.Stop()
	if e.removeDir != "" {
		os.RemoveAll(e.removeDir)
	}
}
