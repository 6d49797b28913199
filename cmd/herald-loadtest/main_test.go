package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"herald/internal/testutil"
	"herald/loadtest"
)

// TestMain lets this test binary be the command (HERALD_LOADTEST_MAIN=1),
// its embedded server and its workers.
func TestMain(m *testing.M) {
	loadtest.MaybeServe()
	if os.Getenv("HERALD_LOADTEST_MAIN") == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// run is a load test started as its own process, its output read as it
// comes: the embedded server's and the workers' pids and the temporary
// directory are taken from it.
type run struct {
	cmd   *exec.Cmd
	lines chan string
	out   strings.Builder
	pids  []int
	dir   string
}

func startRun(t *testing.T, args ...string) *run {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "HERALD_LOADTEST_MAIN=1")
	pipe, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout = io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	r := &run{cmd: cmd, lines: make(chan string, 1024)}
	go func() {
		sc := bufio.NewScanner(pipe)
		for sc.Scan() {
			r.lines <- sc.Text()
		}
		close(r.lines)
	}()
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	return r
}

var (
	serverLine = regexp.MustCompile(`^embedded server: pid (\d+), data in (\S+)`)
	workerLine = regexp.MustCompile(`^worker: pid (\d+),`)
)

// waitFor reads lines until one matches ready, noting pids and the
// directory on the way.
func (r *run) waitFor(t *testing.T, ready *regexp.Regexp) {
	t.Helper()
	timeout := time.After(2 * time.Minute)
	for {
		select {
		case line, ok := <-r.lines:
			if !ok {
				t.Fatalf("the run ended before %q:\n%s", ready, r.out.String())
			}
			r.out.WriteString(line + "\n")
			if m := serverLine.FindStringSubmatch(line); m != nil {
				pid, _ := strconv.Atoi(m[1])
				r.pids, r.dir = append(r.pids, pid), m[2]
			}
			if m := workerLine.FindStringSubmatch(line); m != nil {
				pid, _ := strconv.Atoi(m[1])
				r.pids = append(r.pids, pid)
			}
			if ready.MatchString(line) {
				return
			}
		case <-timeout:
			t.Fatalf("no %q within 2 minutes:\n%s", ready, r.out.String())
		}
	}
}

// gone reports whether pid has exited (a zombie nobody reaped counts).
func gone(pid int) bool {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	i := strings.LastIndexByte(string(stat), ')')
	return i > 0 && strings.HasPrefix(string(stat)[i+1:], " Z")
}

// TestSignalsStopEverything: SIGTERM or SIGINT in the middle of a run
// across three processes stops the run promptly, and by the time the
// command has exited its embedded server and workers have exited and its
// temporary directory is gone. SIGKILL gives it no chance to clean up:
// then the children notice and end by themselves, removing the directory.
func TestSignalsStopEverything(t *testing.T) {
	if testing.Short() {
		t.Skip("process test skipped in -short mode")
	}
	underway := regexp.MustCompile(`^broadcast 3/`)
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT, syscall.SIGKILL} {
		t.Run(sig.String(), func(t *testing.T) {
			r := startRun(t, "--clients", "90", "--clients-per-process", "30", "--broadcasts", "1000000", "--no-progress")
			r.waitFor(t, underway)
			if len(r.pids) != 3 || r.dir == "" {
				t.Fatalf("expected a server and two workers, saw pids %v, dir %q:\n%s", r.pids, r.dir, r.out.String())
			}
			signalled := time.Now()
			if err := r.cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			for range r.lines { // drain until the command exits
			}
			err := r.cmd.Wait()
			var exit *exec.ExitError
			if !errors.As(err, &exit) {
				t.Fatalf("the run exited with %v after %v", err, sig)
			}
			took := time.Since(signalled)
			if sig == syscall.SIGKILL {
				testutil.WaitFor(t, 30*time.Second, "the children to end by themselves", func() bool {
					for _, pid := range r.pids {
						if !gone(pid) {
							return false
						}
					}
					_, err := os.Stat(r.dir)
					return errors.Is(err, os.ErrNotExist)
				})
				return
			}
			t.Logf("%v: the run exited %v after the signal", sig, took.Round(time.Millisecond))
			if took > 20*time.Second {
				t.Errorf("the run took %v to stop", took)
			}
			for _, pid := range r.pids {
				if !gone(pid) {
					t.Errorf("process %d outlived the run", pid)
				}
			}
			if _, err := os.Stat(r.dir); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("%s outlived the run: %v", r.dir, err)
			}
		})
	}
}

// TestZeroClientsIsRefused: --clients 0 is an error, not a panic.
func TestZeroClientsIsRefused(t *testing.T) {
	r := startRun(t, "--clients", "0", "--no-progress")
	for line := range r.lines {
		r.out.WriteString(line + "\n")
	}
	if err := r.cmd.Wait(); err == nil || !strings.Contains(r.out.String(), "--clients must be at least 1") || strings.Contains(r.out.String(), "panic") {
		t.Fatalf("--clients 0: %v\n%s", err, r.out.String())
	}
}
