// Command burst measures broadcast completion time for Herald and for the
// raw-socket floor, side by side, and prints a Markdown table.
//
//	go run ./bench/cmd/burst --clients 1000,5000,10000,18000
//
// With --pin (the default where taskset exists and there are two or more
// CPUs) the server and the floor run on CPU 0 and the clients on CPU 1.
package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"herald/bench"
	"herald/loadtest"
)

// pinnedEnv marks a process already re-executed under taskset.
const pinnedEnv = "HERALD_BENCH_PINNED"

func main() {
	loadtest.MaybeServe()
	bench.MaybeFloor()
	if err := newRoot().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}

func newRoot() *cobra.Command {
	var (
		clients    string
		broadcasts int
		payload    int
		pin        bool
	)
	_, tasksetErr := exec.LookPath("taskset")
	canPin := tasksetErr == nil && runtime.NumCPU() >= 2
	cmd := &cobra.Command{
		Use:           "burst",
		Short:         "Herald against the raw-socket floor: burst completion time",
		Args:          cobra.NoArgs,
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if pin && !canPin {
				return fmt.Errorf("--pin needs taskset and two CPUs")
			}
			if pin && os.Getenv(pinnedEnv) == "" {
				// Run the clients (this process) on CPU 1; the server and
				// the floor get CPU 0 below.
				self, err := os.Executable()
				if err != nil {
					return err
				}
				taskset, _ := exec.LookPath("taskset")
				args := append([]string{"taskset", "-c", "1", self}, os.Args[1:]...)
				return syscall.Exec(taskset, args, append(os.Environ(), pinnedEnv+"=1"))
			}
			var wrapper []string
			if pin {
				wrapper = []string{"taskset", "-c", "0"}
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "| clients | Herald p50 | Herald p99 | floor p50 | floor p99 | ratio p50 | ratio p99 | Herald CPU/delivery | floor CPU/delivery | Herald RSS/conn | floor RSS/conn |\n")
			fmt.Fprintf(out, "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
			for _, field := range strings.Split(clients, ",") {
				n, err := strconv.Atoi(strings.TrimSpace(field))
				if err != nil || n <= 0 {
					return fmt.Errorf("--clients: %q is not a positive number", field)
				}
				r, err := bench.RunBurst(context.Background(), bench.BurstConfig{Clients: n, Broadcasts: broadcasts, Payload: payload, Wrapper: wrapper}, cmd.ErrOrStderr())
				if err != nil {
					return err
				}
				h, f := r.Herald, r.Floor
				fmt.Fprintf(out, "| %d | %v | %v | %v | %v | %.2f | %.2f | %v | %v | %.0f B | %.0f B |\n", n,
					round(h.P(0.5)), round(h.P(0.99)), round(f.P(0.5)), round(f.P(0.99)),
					ratio(h.P(0.5), f.P(0.5)), ratio(h.P(0.99), f.P(0.99)),
					h.CPUPerDelivery(n), f.CPUPerDelivery(n), h.RSSPerConn, f.RSSPerConn)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&clients, "clients", "1000,5000,10000,18000", "comma-separated client counts")
	f.IntVar(&broadcasts, "broadcasts", 20, "measured bursts per side and count (after 2 warm-up bursts)")
	f.IntVar(&payload, "payload", 256, "payload bytes")
	f.BoolVar(&pin, "pin", canPin, "server/floor on CPU 0, clients on CPU 1 (taskset)")
	return cmd
}

func round(d time.Duration) time.Duration { return d.Round(10 * time.Microsecond) }

func ratio(a, b time.Duration) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}
