// Command herald-bench measures Herald beside the raw-socket floor and
// prints Markdown tables for docs/BENCHMARKS.md.
//
//	go run ./cmd/herald-bench burst --clients 1000,5000,10000,18000
//	go run ./cmd/herald-bench sustained --clients 10000 --rates 10,15,20
//	go run ./cmd/herald-bench storm --clients 18000 --broadcasts 100
//	go run ./cmd/herald-bench cluster --clients 18000 --edges 3
//	go run ./cmd/herald-bench websocket --clients 1000,10000
//
// With --pin (the default where taskset exists and there are two or more
// CPUs) the server and the floor run on CPU 0 and the clients on CPU 1.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"herald/bench"
	"herald/internal/natsproc"
	"herald/internal/serverproc"
)

// pinnedEnv marks a process already re-executed under taskset.
const pinnedEnv = "HERALD_BENCH_PINNED"

func main() {
	serverproc.MaybeServe()
	natsproc.MaybeServe()
	bench.MaybeFloor()
	bench.MaybePublisher()
	bench.MaybeLive()
	if err := newRoot().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}

// options are the flags both subcommands share.
type options struct {
	clients string
	payload int
	pin     bool
	// server, if set, runs the server in place of this binary (see --server).
	server string
}

func newRoot() *cobra.Command {
	o := &options{}
	_, tasksetErr := exec.LookPath("taskset")
	// Once re-executed under taskset -c 1, NumCPU counts only that CPU; the
	// environment carries the decision across.
	alreadyPinned := os.Getenv(pinnedEnv) != ""
	canPin := alreadyPinned || tasksetErr == nil && runtime.NumCPU() >= 2
	root := &cobra.Command{
		Use:           "herald-bench",
		Short:         "Herald beside the raw-socket floor",
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(*cobra.Command, []string) error {
			if o.pin && !canPin {
				return fmt.Errorf("--pin needs taskset and two CPUs")
			}
			if o.pin && !alreadyPinned {
				// Run the clients (this process) on CPU 1; the server and
				// the floor get CPU 0 (wrapper below).
				self, err := os.Executable()
				if err != nil {
					return err
				}
				taskset, _ := exec.LookPath("taskset")
				args := append([]string{"taskset", "-c", "1", self}, os.Args[1:]...)
				return syscall.Exec(taskset, args, append(os.Environ(), pinnedEnv+"=1"))
			}
			return nil
		},
	}
	f := root.PersistentFlags()
	f.StringVar(&o.clients, "clients", "1000,5000,10000,18000", "comma-separated client counts")
	f.IntVar(&o.payload, "payload", 256, "payload bytes")
	f.BoolVar(&o.pin, "pin", canPin, "server/floor on CPU 0, clients on CPU 1 (taskset)")
	f.StringVar(&o.server, "server", "", "run Herald from this herald-bench binary (an older build, to compare in one run) instead of this one")
	root.AddCommand(newBurst(o), newSustained(o), newStorm(o), newCluster(o), newWebSocket(o), newAnalytics(o))
	return root
}

func (o *options) wrapper() []string {
	if o.pin {
		return []string{"taskset", "-c", "0"}
	}
	return nil
}

// serverWrapper is wrapper for Herald's process: with --server, a shell
// that runs that binary with the arguments meant for this one.
func (o *options) serverWrapper() []string {
	if o.server == "" {
		return o.wrapper()
	}
	return append(o.wrapper(), "sh", "-c", `shift; exec "$0" "$@"`, o.server)
}

func (o *options) clientCounts() ([]int, error) {
	return positives("--clients", o.clients, strconv.Atoi)
}

// positives parses a comma-separated list of positive numbers.
func positives[T int | float64](flag, list string, parse func(string) (T, error)) ([]T, error) {
	var out []T
	for _, field := range strings.Split(list, ",") {
		v, err := parse(strings.TrimSpace(field))
		if err != nil || v <= 0 {
			return nil, fmt.Errorf("%s: %q is not a positive number", flag, field)
		}
		out = append(out, v)
	}
	return out, nil
}

func newBurst(o *options) *cobra.Command {
	var broadcasts int
	var inMemory bool
	var cpuprofile string
	cmd := &cobra.Command{
		Use:   "burst",
		Short: "Completion time of one broadcast at a time (ack → last client)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			counts, err := o.clientCounts()
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			burstHeader(out, "Herald", "floor")
			var floors []string
			for _, n := range counts {
				cfg := bench.BurstConfig{Clients: n, Broadcasts: broadcasts, Payload: o.payload, Wrapper: o.wrapper(), InMemory: inMemory}
				var profile *os.File
				if cpuprofile != "" {
					if profile, err = os.Create(filepath.Join(cpuprofile, fmt.Sprintf("herald-burst-%d.pprof", n))); err != nil {
						return err
					}
					cfg.Profile = profile
				}
				r, err := bench.RunBurst(cmd.Context(), cfg, cmd.ErrOrStderr())
				if profile != nil {
					err = errors.Join(err, profile.Close())
				}
				if err != nil {
					return err
				}
				burstRow(out, n, r.Herald, r.Floor)
				floors = append(floors, fmt.Sprintf("%d clients: floor p50 %v with one writer, %v with a pool of writers", n, round(r.FloorLoop.P(0.5)), round(r.FloorPool.P(0.5))))
			}
			fmt.Fprintln(out, "\nThe floor is the faster of:")
			for _, f := range floors {
				fmt.Fprintln(out, "- "+f)
			}
			return nil
		},
	}
	cmd.Flags().IntVar(&broadcasts, "broadcasts", 20, "measured bursts per side and count (after 2 warm-up bursts)")
	cmd.Flags().BoolVar(&inMemory, "in-memory", false, "run Herald on an in-memory store (no fsync), to separate storage from delivery")
	cmd.Flags().StringVar(&cpuprofile, "cpuprofile", "", "a directory to write a CPU profile of the Herald server for each client count to (herald-burst-<clients>.pprof), over the first 5 s of its measured bursts")
	return cmd
}

func newWebSocket(o *options) *cobra.Command {
	return pairedBursts(o, "websocket", "Bursts to the same clients over TCP and over WebSocket, in one run", "WebSocket", "TCP",
		func(ctx context.Context, cfg bench.BurstConfig, progress io.Writer) (bench.Side, bench.Side, error) {
			r, err := bench.RunWebSocketBurst(ctx, cfg, progress)
			if err != nil {
				return bench.Side{}, bench.Side{}, err
			}
			return r.WS, r.TCP, nil
		})
}

func newAnalytics(o *options) *cobra.Command {
	return pairedBursts(o, "analytics", "Bursts to acknowledging clients with Herald's analytics on and off, in one run", "on", "off",
		func(ctx context.Context, cfg bench.BurstConfig, progress io.Writer) (bench.Side, bench.Side, error) {
			r, err := bench.RunAnalyticsBurst(ctx, cfg, progress)
			if err != nil {
				return bench.Side{}, bench.Side{}, err
			}
			return r.On, r.Off, nil
		})
}

// pairedBursts is a command that runs bursts on two Herald sides (run
// answers them: the side measured, then its baseline) for each client
// count, printing a burst table.
func pairedBursts(o *options, use, short, side, baseline string, run func(context.Context, bench.BurstConfig, io.Writer) (bench.Side, bench.Side, error)) *cobra.Command {
	var broadcasts int
	cmd := &cobra.Command{
		Use:   use,
		Short: short,
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			counts, err := o.clientCounts()
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			burstHeader(out, side, baseline)
			for _, n := range counts {
				a, b, err := run(cmd.Context(), bench.BurstConfig{Clients: n, Broadcasts: broadcasts, Payload: o.payload, Wrapper: o.wrapper()}, cmd.ErrOrStderr())
				if err != nil {
					return err
				}
				burstRow(out, n, a, b)
			}
			return nil
		},
	}
	cmd.Flags().IntVar(&broadcasts, "broadcasts", 20, "measured bursts per side and count (after 2 warm-up bursts)")
	return cmd
}

// burstHeader and burstRow print a burst table: a side measured beside a
// baseline, with the ratios of the first to the second.
func burstHeader(out io.Writer, side, baseline string) {
	fmt.Fprintf(out, "| clients | %[1]s p50 | %[1]s p99 | %[2]s p50 | %[2]s p99 | ratio p50 | ratio p99 | %[1]s CPU/delivery | %[2]s CPU/delivery | %[1]s RSS/conn | %[2]s RSS/conn |\n", side, baseline)
	fmt.Fprintln(out, "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
}

func burstRow(out io.Writer, n int, side, baseline bench.Side) {
	fmt.Fprintf(out, "| %d | %v | %v | %v | %v | %.2f | %.2f | %v | %v | %.0f B | %.0f B |\n", n,
		round(side.P(0.5)), round(side.P(0.99)), round(baseline.P(0.5)), round(baseline.P(0.99)),
		ratio(side.P(0.5), baseline.P(0.5)), ratio(side.P(0.99), baseline.P(0.99)),
		side.CPUPerDelivery(n), baseline.CPUPerDelivery(n), side.RSSPerConn, baseline.RSSPerConn)
}

func newSustained(o *options) *cobra.Command {
	var (
		rates      string
		duration   time.Duration
		analytics  bool
		cpuprofile string
		trace      string
		traceFor   time.Duration
	)
	cmd := &cobra.Command{
		Use:   "sustained",
		Short: "Deliveries per second and lag at fixed broadcast rates",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			counts, err := o.clientCounts()
			if err != nil {
				return err
			}
			rateList, err := positives("--rates", rates, func(s string) (float64, error) { return strconv.ParseFloat(s, 64) })
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			fmt.Fprintln(out, "| clients | offered deliveries/s | Herald deliveries/s | Herald lag p50 / p99 | Herald lag growth | Herald PUBLISH_ACK p50 / p99 / max | Herald commit p99 ≤ | Herald server-side ACK p99 ≤ | floor deliveries/s | floor lag p50 / p99 | floor lag growth | Herald CPU/delivery | floor CPU/delivery | clients CPU/delivery (Herald, floor) | cores busy (Herald run) | cores stolen (Herald run) | cores busy (floor run) | floor deliveries/s, one writer / pool |")
			fmt.Fprintln(out, "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
			for _, n := range counts {
				for _, rate := range rateList {
					cfg := bench.SustainedConfig{Clients: n, Rate: rate, Duration: duration, Payload: o.payload, Wrapper: o.wrapper(), Analytics: analytics}
					var profile *os.File
					if cpuprofile != "" {
						if profile, err = os.Create(filepath.Join(cpuprofile, fmt.Sprintf("herald-sustained-%d-%g.pprof", n, rate))); err != nil {
							return err
						}
						cfg.Profile = profile
					}
					var traceFile *os.File
					if trace != "" {
						if traceFile, err = os.Create(filepath.Join(trace, fmt.Sprintf("herald-sustained-%d-%g.trace", n, rate))); err != nil {
							return err
						}
						cfg.Trace, cfg.TraceFor = traceFile, traceFor
					}
					r, err := bench.RunSustained(cmd.Context(), cfg, cmd.ErrOrStderr())
					if profile != nil {
						err = errors.Join(err, profile.Close())
					}
					if traceFile != nil {
						err = errors.Join(err, traceFile.Close())
					}
					if err != nil {
						return err
					}
					h, f := r.Herald, r.Floor
					deliveries := len(h.Lag) * n
					perDelivery := func(d time.Duration) time.Duration { return d / time.Duration(max(deliveries, 1)) }
					floors := "–"
					if !analytics {
						pool := ""
						if r.Pool {
							pool = " (pool the floor)"
						}
						floors = fmt.Sprintf("%.0f / %.0f%s", r.FloorLoop.DeliveryRate(n), r.FloorPool.DeliveryRate(n), pool)
					}
					fmt.Fprintf(out, "| %d | %.0f | %.0f | %v / %v | %v | %v / %v / %v | %v | %v | %.0f | %v / %v | %v | %v | %v | %v, %v | %s | %s | %s | %s |\n", n, rate*float64(n),
						h.DeliveryRate(n), round(h.P(0.5)), round(h.P(0.99)), round(h.LagGrowth()),
						round(h.AckP(0.5)), round(h.AckP(0.99)), round(h.AckP(1)), h.CommitP99, round(h.ServerAckP99),
						f.DeliveryRate(n), round(f.P(0.5)), round(f.P(0.99)), round(f.LagGrowth()),
						perDelivery(h.CPU), perDelivery(f.CPU), perDelivery(h.ClientCPU), perDelivery(f.ClientCPU),
						percents(h.CoreBusy), percents(h.CoreSteal), percents(f.CoreBusy), floors)
				}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&rates, "rates", "10,15,20", "comma-separated broadcast rates per second")
	cmd.Flags().DurationVar(&duration, "duration", 5*time.Second, "how long each rate is offered")
	cmd.Flags().StringVar(&cpuprofile, "cpuprofile", "", "a directory to write a CPU profile of the Herald server for each run to (herald-sustained-<clients>-<rate>.pprof), taken over the time broadcasts are offered")
	cmd.Flags().StringVar(&trace, "trace", "", "a directory to write an execution trace of the Herald server for each run to (herald-sustained-<clients>-<rate>.trace), from when broadcasts start (go tool trace)")
	cmd.Flags().DurationVar(&traceFor, "trace-for", time.Second, "how long --trace traces (whole seconds)")
	cmd.Flags().BoolVar(&analytics, "analytics", false, "compare Herald with its analytics on (the Herald columns) and off (the floor columns), clients acknowledging each read")
	return cmd
}

func percents(fs []float64) string {
	parts := make([]string, len(fs))
	for i, f := range fs {
		parts[i] = fmt.Sprintf("%.0f%%", 100*f)
	}
	return strings.Join(parts, " ")
}

func round(d time.Duration) time.Duration { return d.Round(10 * time.Microsecond) }

// cpuPer is CPU time per client, to a tenth of a microsecond.
func cpuPer(cpu time.Duration, clients int) time.Duration {
	return (cpu / time.Duration(clients)).Round(100 * time.Nanosecond)
}

func ratio(a, b time.Duration) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

func newStorm(o *options) *cobra.Command {
	var cfg bench.StormConfig
	cmd := &cobra.Command{
		Use:   "storm",
		Short: "Reconnect storm: offline clients resume missed broadcasts at once, beside the floor, and live latency meanwhile",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			counts, err := o.clientCounts()
			if err != nil {
				return err
			}
			cfg.Payload, cfg.Wrapper, cfg.ServerWrapper = o.payload, o.wrapper(), o.serverWrapper()
			out := cmd.OutOrStdout()
			fmt.Fprintln(out, "| clients × missed | Herald clients/s | floor clients/s | ratio | page floor clients/s | ratio to the page floor | Herald per client p50 / p99 | floor per client p50 / p99 | page floor per client p50 / p99 | Herald CPU/client | floor CPU/client | page floor CPU/client | live p50 / p99 quiet | live p50 / p99 in storm | ratio p50 / p99 | of which to PUBLISH_ACK, p50 quiet / in storm |")
			fmt.Fprintln(out, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
			for _, n := range counts {
				c := cfg
				c.Clients = n
				r, err := bench.RunStorm(cmd.Context(), c, cmd.ErrOrStderr())
				if err != nil {
					return err
				}
				h, f, pf := r.Herald, r.Floor, r.PageFloor
				q50, q99 := bench.Quantile(r.Quiet, 0.5), bench.Quantile(r.Quiet, 0.99)
				s50, s99 := bench.Quantile(r.InStorm, 0.5), bench.Quantile(r.InStorm, 0.99)
				perClient := func(s bench.StormSide) string {
					return fmt.Sprintf("%v / %v", round(bench.Quantile(s.PerClient, 0.5)), round(bench.Quantile(s.PerClient, 0.99)))
				}
				fmt.Fprintf(out, "| %d × %d | %.0f | %.0f | %.2f | %.0f | %.2f | %s | %s | %s | %v | %v | %v | %v / %v | %v / %v | %.2f / %.2f | %v / %v |\n",
					n, r.Config.Broadcasts, h.Rate(), f.Rate(), h.Rate()/f.Rate(), pf.Rate(), h.Rate()/pf.Rate(),
					perClient(h), perClient(f), perClient(pf),
					cpuPer(h.CPU, n), cpuPer(f.CPU, n), cpuPer(pf.CPU, n),
					round(q50), round(q99), round(s50), round(s99), ratio(s50, q50), ratio(s99, q99),
					round(bench.Quantile(r.QuietAck, 0.5)), round(bench.Quantile(r.InStormAck, 0.5)))
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.IntVar(&cfg.Broadcasts, "broadcasts", 100, "broadcasts each reconnecting client missed")
	f.IntVar(&cfg.Online, "online", 500, "clients online throughout, receiving a live broadcast every --live-every")
	f.DurationVar(&cfg.LiveEvery, "live-every", 20*time.Millisecond, "interval of the live broadcasts")
	f.IntVar(&cfg.Dialers, "dialers", 200, "clients connecting at a time")
	return cmd
}

func newCluster(o *options) *cobra.Command {
	var broadcasts, edges, followers int
	var inMemory bool
	cmd := &cobra.Command{
		Use:   "cluster",
		Short: "Burst completion of a cluster (NATS, a core, --edges edges) beside one whole server",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			counts, err := o.clientCounts()
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			fmt.Fprintln(out, "| clients | edges | one server: send → last client p50 / p99 | cluster: send → last client p50 / p99 | ratio p50 | one server: ack → last p50 | cluster: ack → last p50 | one server CPU/delivery | cluster CPU/delivery | NATS msgs in / out per broadcast | NATS bytes in / out per broadcast |")
			fmt.Fprintln(out, "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
			for _, n := range counts {
				r, err := bench.RunClusterBurst(cmd.Context(), bench.ClusterConfig{
					BurstConfig: bench.BurstConfig{Clients: n, Broadcasts: broadcasts, Payload: o.payload, Wrapper: o.wrapper(), InMemory: inMemory},
					Edges:       edges,
					Followers:   followers,
				}, cmd.ErrOrStderr())
				if err != nil {
					return err
				}
				a, c, b := r.AllInOne, r.Cluster, r.Bus
				e2e := func(s bench.Side, q float64) time.Duration { return bench.Quantile(s.EndToEnd, q) }
				fmt.Fprintf(out, "| %d | %d | %v / %v | %v / %v | %.2f | %v | %v | %v | %v | %d / %d | %d / %d |\n", n, edges,
					round(e2e(a, 0.5)), round(e2e(a, 0.99)), round(e2e(c, 0.5)), round(e2e(c, 0.99)), ratio(e2e(c, 0.5), e2e(a, 0.5)),
					round(a.P(0.5)), round(c.P(0.5)), a.CPUPerDelivery(n), c.CPUPerDelivery(n), b.InMsgs, b.OutMsgs, b.InBytes, b.OutBytes)
			}
			return nil
		},
	}
	cmd.Flags().IntVar(&broadcasts, "broadcasts", 20, "measured bursts per side and count (after 2 warm-up bursts)")
	cmd.Flags().IntVar(&edges, "edges", 3, "edge processes in the cluster")
	cmd.Flags().IntVar(&followers, "followers", 0, "users following the account (default: the clients); the clients are users 1..clients")
	cmd.Flags().BoolVar(&inMemory, "in-memory", false, "run the stores in memory (no fsync)")
	return cmd
}
