// Package child runs a helper process (a server under test, the benchmark
// floor) from the current executable, reads the addresses it announces on
// stdout, measures its CPU and memory, and stops or kills it.
//
// A child announces itself with lines "NAME: KEY VALUE…" and then a line
// "NAME: serving…" (herald serve's own output is such); Start returns each
// KEY with the first word of its VALUE.
//
// A child's standard input is a pipe its parent holds open for as long as
// it wants the child: it reaches EOF when the parent stops the child or
// dies in any way (a panic, SIGKILL), and a child calls ExitWithParent to
// end then, so that no child outlives the process that started it.
package child

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Process is a running child.
type Process struct {
	cmd *exec.Cmd
	// in is the child's standard input; closing it tells the child to end.
	in io.WriteCloser
	// Announced maps each announced key to its value.
	Announced map[string]string
}

// Start runs wrapper... self args... and waits up to a minute for the child
// to announce that it is serving. wrapper may be empty, or a command such as
// taskset -c 0.
func Start(wrapper []string, args ...string) (*Process, error) {
	p, _, out, err := start(wrapper, args)
	if err != nil {
		return nil, err
	}
	ready := make(chan error, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			line := sc.Text()
			_, rest, _ := strings.Cut(line, ": ")
			if strings.HasPrefix(rest, "serving") {
				ready <- nil
				_, _ = io.Copy(io.Discard, out)
				return
			}
			if fields := strings.Fields(rest); len(fields) >= 2 {
				p.Announced[fields[0]] = fields[1]
			}
		}
		ready <- errors.New("exited before serving")
	}()
	select {
	case err = <-ready:
	case <-time.After(time.Minute):
		err = errors.New("did not start within a minute")
	}
	if err != nil {
		p.Kill()
		return nil, fmt.Errorf("child %v: %w", args, err)
	}
	return p, nil
}

// StartPiped runs self args... with its standard input and output as
// pipes, for a child that speaks a line protocol, and returns at once.
// Closing in is the child's signal to end.
func StartPiped(args ...string) (p *Process, in io.WriteCloser, out io.ReadCloser, err error) {
	return start(nil, args)
}

// start runs wrapper... self args... with stdin and stdout piped, stderr
// shared.
func start(wrapper []string, args []string) (*Process, io.WriteCloser, io.ReadCloser, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, nil, nil, err
	}
	argv := append(append(append([]string(nil), wrapper...), self), args...)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, nil, nil, err
	}
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, nil, nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, nil, nil, err
	}
	return &Process{cmd: cmd, in: in, Announced: map[string]string{}}, in, out, nil
}

// Wait waits for the child to exit by itself and returns how it ended.
func (p *Process) Wait() error { return p.cmd.Wait() }

// Announce prints the lines Start reads; a child calls it once it serves.
func Announce(name string, pairs ...string) {
	for i := 0; i+1 < len(pairs); i += 2 {
		fmt.Printf("%s: %s %s\n", name, pairs[i], pairs[i+1])
	}
	fmt.Printf("%s: serving\n", name)
}

// Pid returns the child's process id.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Usage returns the child's CPU time so far and its resident memory.
func (p *Process) Usage() (cpu time.Duration, rssBytes int64) { return Usage(p.Pid()) }

// Kill ends the child with SIGKILL, as a crash would, and reaps it.
func (p *Process) Kill() {
	_ = p.cmd.Process.Kill()
	_ = p.cmd.Wait()
	_ = p.in.Close()
}

// Stop ends the child with SIGTERM, and SIGKILL after 15 s.
func (p *Process) Stop() {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	_ = p.in.Close()
	done := make(chan struct{})
	go func() { _ = p.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		_ = p.cmd.Process.Kill()
		<-done
	}
}

// clockTicks is USER_HZ, which Linux fixes at 100 for /proc.
const clockTicks = 100

// Usage reads a process's CPU time (user + system) and RSS from /proc;
// zeros when they cannot be read.
func Usage(pid int) (cpu time.Duration, rssBytes int64) {
	if stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); err == nil {
		// The fields after the command name, which is in parentheses.
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

// Run makes this process the child that flag names when it was started
// with flag as its first argument: it runs serve with the arguments after
// it and exits, with status 1 and the error on standard error (after
// name) if serve fails. Started any other way, Run returns at once.
func Run(flag, name string, serve func(args []string) error) {
	if len(os.Args) < 2 || os.Args[1] != flag {
		return
	}
	if err := serve(os.Args[2:]); err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
		os.Exit(1)
	}
	os.Exit(0)
}

// ExitWithParent calls stop once standard input reaches EOF: the parent
// that started this child has stopped it or died. A child calls it once,
// at start.
func ExitWithParent(stop func()) {
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		stop()
	}()
}
