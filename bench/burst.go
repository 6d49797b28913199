package bench

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	"herald/client"
	"herald/loadtest"
	"herald/server/wire"
)

// BurstConfig describes one side-by-side burst measurement.
type BurstConfig struct {
	Clients    int
	Broadcasts int // measured bursts (20)
	Warmup     int // unmeasured bursts first (2)
	Payload    int // bytes (256)
	// Wrapper runs the server and the floor, e.g. taskset -c 0; empty for
	// no pinning.
	Wrapper []string
	Timeout time.Duration // longest wait for one burst (30 s)
}

// Side is one server's figures.
type Side struct {
	Completion []time.Duration // per measured burst, ack → last client
	CPU        time.Duration   // process CPU over the measured bursts
	RSSPerConn float64         // RSS delta across connecting, per client
}

// P returns the q-quantile of the completion times.
func (s Side) P(q float64) time.Duration {
	if len(s.Completion) == 0 {
		return 0
	}
	sorted := slices.Clone(s.Completion)
	slices.Sort(sorted)
	return sorted[min(len(sorted)-1, int(q*float64(len(sorted))))]
}

// CPUPerDelivery is the process CPU per frame delivered.
func (s Side) CPUPerDelivery(clients int) time.Duration {
	if n := len(s.Completion) * clients; n > 0 {
		return s.CPU / time.Duration(n)
	}
	return 0
}

// BurstResult pairs Herald with the floor for one client count.
type BurstResult struct {
	Config BurstConfig
	Herald Side
	Floor  Side
}

func (c *BurstConfig) fill() {
	if c.Broadcasts <= 0 {
		c.Broadcasts = 20
	}
	if c.Warmup <= 0 {
		c.Warmup = 2
	}
	if c.Payload < 16 {
		c.Payload = 256
	}
	if c.Timeout <= 0 {
		c.Timeout = 30 * time.Second
	}
}

// RunBurst measures Herald and then the floor with the same clients.
func RunBurst(ctx context.Context, cfg BurstConfig, progress io.Writer) (*BurstResult, error) {
	cfg.fill()
	logf := func(format string, args ...any) {
		if progress != nil {
			fmt.Fprintf(progress, format+"\n", args...)
		}
	}
	res := &BurstResult{Config: cfg}
	var err error
	logf("%d clients: Herald", cfg.Clients)
	if res.Herald, err = runHerald(ctx, cfg); err != nil {
		return nil, fmt.Errorf("herald side: %w", err)
	}
	logf("%d clients: floor", cfg.Clients)
	if res.Floor, err = runFloor(cfg); err != nil {
		return nil, fmt.Errorf("floor side: %w", err)
	}
	return res, nil
}

func runHerald(ctx context.Context, cfg BurstConfig) (Side, error) {
	dir, err := os.MkdirTemp("", "herald-bench-")
	if err != nil {
		return Side{}, err
	}
	defer os.RemoveAll(dir)
	srv, err := loadtest.StartServer(filepath.Join(dir, "data"), cfg.Wrapper...)
	if err != nil {
		return Side{}, err
	}
	defer srv.Stop()
	target := srv.Target()
	admin := &client.Admin{BaseURL: target.AdminURL, Token: target.AdminToken}
	account, err := admin.CreateAccount(ctx, "bench", "service")
	if err != nil {
		return Side{}, err
	}
	var ids strings.Builder
	for u := 1; u <= cfg.Clients; u++ {
		fmt.Fprintln(&ids, u)
	}
	if _, err := admin.ImportFollowers(ctx, account.ID, strings.NewReader(ids.String())); err != nil {
		return Side{}, err
	}
	tokens := make([]string, cfg.Clients)
	var g errgroup.Group
	g.SetLimit(16)
	for i := range tokens {
		g.Go(func() (err error) {
			tokens[i], err = admin.MintToken(ctx, uint32(i+1), time.Hour)
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return Side{}, err
	}

	_, rssBefore := srv.Proc().Usage()
	total := cfg.Warmup + cfg.Broadcasts
	clients, err := dialSwarm(target.ClientAddr, cfg.Clients, total, func(i int) []byte {
		b := wire.AppendHello(nil, wire.Hello{Version: wire.Version, Credential: tokens[i]})
		return wire.AppendResume(b, wire.Resume{}, 0)
	})
	if err != nil {
		return Side{}, err
	}
	defer clients.close()
	stop := make(chan struct{})
	defer close(stop)
	go clients.keepAlive(10*time.Second, stop)
	time.Sleep(200 * time.Millisecond)
	_, rssAfter := srv.Proc().Usage()

	pub, err := client.DialPublisher(ctx, client.PublisherConfig{Addr: target.PublisherAddr, Account: account.ID, Secret: account.Secret})
	if err != nil {
		return Side{}, err
	}
	defer pub.Close()
	clients.base.Store(1) // a fresh server: the first broadcast is id 1
	payload := make([]byte, cfg.Payload)
	side := Side{RSSPerConn: float64(rssAfter-rssBefore) / float64(cfg.Clients)}
	var cpuStart time.Duration
	for i := 0; i < total; i++ {
		if i == cfg.Warmup {
			cpuStart, _ = srv.Proc().Usage()
		}
		binary.BigEndian.PutUint64(payload, uint64(i))
		r, err := pub.Publish(ctx, client.Message{ContentType: "application/octet-stream", Payload: payload})
		acked := time.Now()
		if err != nil {
			return Side{}, err
		}
		if r.MessageID != uint64(i+1) {
			return Side{}, fmt.Errorf("broadcast %d got id %d", i, r.MessageID)
		}
		last, err := clients.wait(i, cfg.Timeout)
		if err != nil {
			return Side{}, err
		}
		if i >= cfg.Warmup {
			side.Completion = append(side.Completion, last.Sub(acked))
		}
	}
	cpuEnd, _ := srv.Proc().Usage()
	side.CPU = cpuEnd - cpuStart
	return side, nil
}

func runFloor(cfg BurstConfig) (Side, error) {
	floor, err := startFloor(cfg.Wrapper)
	if err != nil {
		return Side{}, err
	}
	defer floor.proc.Stop()
	_, rssBefore := floor.proc.Usage()
	total := cfg.Warmup + cfg.Broadcasts
	clients, err := dialSwarm(floor.clientAddr, cfg.Clients, total, nil)
	if err != nil {
		return Side{}, err
	}
	defer clients.close()
	ctl, err := dialControl(floor.controlAddr, cfg.Clients)
	if err != nil {
		return Side{}, err
	}
	defer ctl.Close()
	_, rssAfter := floor.proc.Usage()

	clients.base.Store(1)
	payload := make([]byte, cfg.Payload)
	side := Side{RSSPerConn: float64(rssAfter-rssBefore) / float64(cfg.Clients)}
	var cpuStart time.Duration
	var size [4]byte
	ack := make([]byte, 1)
	for i := 0; i < total; i++ {
		if i == cfg.Warmup {
			cpuStart, _ = floor.proc.Usage()
		}
		binary.BigEndian.PutUint64(payload, uint64(i))
		// The very frame Herald sends for this broadcast.
		frame := wire.AppendPush(nil, wire.Push{MessageID: uint64(i + 1), Account: 1, TimeMillis: uint64(time.Now().UnixMilli()), ContentType: "application/octet-stream", Payload: payload})
		binary.BigEndian.PutUint32(size[:], uint32(len(frame)))
		if _, err := ctl.Write(append(size[:], frame...)); err != nil {
			return Side{}, err
		}
		if _, err := io.ReadFull(ctl, ack); err != nil {
			return Side{}, err
		}
		acked := time.Now()
		last, err := clients.wait(i, cfg.Timeout)
		if err != nil {
			return Side{}, err
		}
		if i >= cfg.Warmup {
			side.Completion = append(side.Completion, last.Sub(acked))
		}
	}
	cpuEnd, _ := floor.proc.Usage()
	side.CPU = cpuEnd - cpuStart
	return side, nil
}
