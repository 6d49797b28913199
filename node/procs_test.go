package node

import (
	"bufio"
	"io"
	"os"
	"runtime"
	"strings"
	"testing"
)

// TestAtLeastTwoProcs: one P becomes two, unless GOMAXPROCS says
// otherwise; more are left alone.
func TestAtLeastTwoProcs(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	t.Setenv("GOMAXPROCS", "")
	os.Unsetenv("GOMAXPROCS")
	for _, tc := range []struct{ before, after int }{{1, 2}, {2, 2}, {3, 3}} {
		runtime.GOMAXPROCS(tc.before)
		atLeastTwoProcs()
		if got := runtime.GOMAXPROCS(0); got != tc.after {
			t.Errorf("GOMAXPROCS %d → %d, want %d", tc.before, got, tc.after)
		}
	}
	t.Setenv("GOMAXPROCS", "1")
	runtime.GOMAXPROCS(1)
	atLeastTwoProcs()
	if got := runtime.GOMAXPROCS(0); got != 1 {
		t.Errorf("with GOMAXPROCS=1 set: %d Ps, want 1", got)
	}
}

// TestServeRunsTwoProcsOnOneCPU: `herald serve` in a process of one P is
// serving with two.
func TestServeRunsTwoProcsOnOneCPU(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	t.Setenv("GOMAXPROCS", "")
	os.Unsetenv("GOMAXPROCS")
	runtime.GOMAXPROCS(1)
	stop := make(chan struct{})
	r, w := io.Pipe()
	cmd := ServeCommand(ServeOptions{Stop: stop})
	cmd.SetArgs([]string{"--in-memory", "--client-listen", "127.0.0.1:0", "--publisher-listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0", "--log-level", "error"})
	cmd.SetOut(w)
	cmd.SetErr(io.Discard)
	done := make(chan error, 1)
	go func() {
		done <- cmd.Execute()
		w.Close()
	}()
	lines := bufio.NewScanner(r)
	for lines.Scan() && !strings.Contains(lines.Text(), "serving") {
	}
	if got := runtime.GOMAXPROCS(0); got != 2 {
		t.Errorf("serving with %d Ps, want 2", got)
	}
	close(stop)
	go io.Copy(io.Discard, r)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
