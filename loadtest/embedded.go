package loadtest

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// ServeFlag is the hidden first argument with which the load-test binary
// runs as the embedded server (see cmd/herald-loadtest).
const ServeFlag = "__herald-serve"

// ServerProcess is a Herald server running in a child process started from
// this binary (whose main must call MaybeServe).
type ServerProcess struct {
	cmd *exec.Cmd
	// removeDir is the temporary directory to delete on Stop, if any.
	removeDir string
	target    Target
}

// Target returns the addresses and admin token of the running server.
func (e *ServerProcess) Target() Target { return e.target }

// startEmbedded runs a server process with a temporary data directory.
func startEmbedded() (*ServerProcess, error) {
	dir, err := os.MkdirTemp("", "herald-loadtest-")
	if err != nil {
		return nil, err
	}
	e, err := StartServer(filepath.Join(dir, "data"))
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	e.removeDir = dir
	return e, nil
}

// StartServer runs this executable as a server on dataDir and free loopback
// ports, and waits until it is serving.
func StartServer(dataDir string) (*ServerProcess, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	raw := make([]byte, 16)
	_, _ = rand.Read(raw)
	token := hex.EncodeToString(raw)
	cmd := exec.Command(self, ServeFlag, "--data-dir", dataDir,
		"--client-listen", "127.0.0.1:0", "--publisher-listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0",
		"--admin-token", token)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	e := &ServerProcess{cmd: cmd, target: Target{AdminToken: token}}
	ready := make(chan error, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			line := sc.Text()
			fields := strings.Fields(line)
			switch {
			case strings.HasPrefix(line, "herald: clients") && len(fields) == 3:
				e.target.ClientAddr = strings.TrimPrefix(fields[2], "tcp://")
			case strings.HasPrefix(line, "herald: publishers") && len(fields) == 3:
				e.target.PublisherAddr = strings.TrimPrefix(fields[2], "tcp://")
			case strings.HasPrefix(line, "herald: admin") && len(fields) >= 3:
				e.target.AdminURL = fields[2]
			case strings.HasPrefix(line, "herald: serving"):
				ready <- nil
				_, _ = io.Copy(io.Discard, out)
				return
			}
		}
		ready <- fmt.Errorf("loadtest: embedded server exited before serving: %v", sc.Err())
	}()
	select {
	case err := <-ready:
		if err != nil {
			e.Stop()
			return nil, err
		}
	case <-time.After(60 * time.Second):
		e.Stop()
		return nil, fmt.Errorf("loadtest: embedded server did not start within 60s")
	}
	return e, nil
}

// usage returns the server's CPU seconds so far and its resident memory.
func (e *ServerProcess) usage() (cpu time.Duration, rssBytes int64) {
	pid := e.cmd.Process.Pid
	if stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); err == nil {
		// Fields after the command name, which is in parentheses.
		if i := strings.LastIndexByte(string(stat), ')'); i > 0 {
			f := strings.Fields(string(stat)[i+1:])
			if len(f) > 13 {
				utime, _ := strconv.ParseInt(f[11], 10, 64)
				stime, _ := strconv.ParseInt(f[12], 10, 64)
				cpu = time.Duration(utime+stime) * time.Second / clockTicks
			}
		}
	}
	if status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid)); err == nil {
		for _, line := range strings.Split(string(status), "\n") {
			if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
				kb, _ := strconv.ParseInt(f[1], 10, 64)
				rssBytes = kb << 10
			}
		}
	}
	return cpu, rssBytes
}

// clockTicks is USER_HZ, which Linux fixes at 100 for /proc.
const clockTicks = 100

// Kill ends the server with SIGKILL, as a crash would, and reaps it.
func (e *ServerProcess) Kill() {
	_ = e.cmd.Process.Kill()
	_ = e.cmd.Wait()
}

// Stop ends the server with SIGTERM (SIGKILL after 15 s).
func (e *ServerProcess) Stop() {
	_ = e.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = e.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		_ = e.cmd.Process.Kill()
		<-done
	}
	if e.removeDir != "" {
		os.RemoveAll(e.removeDir)
	}
}
