package bench

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"herald/client"
	"herald/internal/child"
	"herald/internal/serverproc"
	"herald/internal/sockopt"
	"herald/internal/testtier"
	"herald/wire"
)

// StormConfig describes a reconnect storm: Clients offline followers
// reconnect at once, each resuming Broadcasts missed broadcasts, while
// Online clients already connected receive a live broadcast every
// LiveEvery.
type StormConfig struct {
	Clients    int           // reconnecting (18,000)
	Broadcasts int           // missed by each (100)
	Payload    int           // bytes (256)
	Online     int           // connected throughout, receiving live broadcasts (500)
	LiveEvery  time.Duration // interval of the live broadcasts (20 ms)
	Quiet      int           // live broadcasts measured before the storm (50)
	Dialers    int           // clients connecting at a time (200)
	// Wrapper runs the floor (and Herald, unless ServerWrapper is set),
	// e.g. taskset -c 0.
	Wrapper, ServerWrapper []string
}

func (c *StormConfig) fill() {
	if c.Clients <= 0 {
		c.Clients = 18000
	}
	if c.Broadcasts <= 0 {
		c.Broadcasts = 100
	}
	if c.Payload < 16 {
		c.Payload = 256
	}
	if c.Online <= 0 {
		c.Online = 500
	}
	if c.LiveEvery <= 0 {
		c.LiveEvery = 20 * time.Millisecond
	}
	if c.Quiet <= 0 {
		c.Quiet = 50
	}
	if c.Dialers <= 0 {
		c.Dialers = 200
	}
}

// StormSide is one server's storm: how long the last client took to be
// caught up (from the first dial), and the server's CPU meanwhile.
type StormSide struct {
	Elapsed   time.Duration
	PerClient []time.Duration // dial → RESUMED
	CPU       time.Duration
	Clients   int
}

// Rate is clients caught up per second.
func (s StormSide) Rate() float64 { return float64(s.Clients) / s.Elapsed.Seconds() }

// StormResult pairs Herald with the floor, and gives the completion of
// live broadcasts (publish → last online client) before and during
// Herald's storm.
type StormResult struct {
	Config        StormConfig
	Herald, Floor StormSide
	// PageFloor is the floor answering each client with the bytes Herald
	// sends it (WELCOME, the missed PUSH frames, RESUMED) instead of one
	// small frame: what the page's bytes alone cost.
	PageFloor      StormSide
	Quiet, InStorm []time.Duration
	// QuietAck and InStormAck are the same broadcasts' publish →
	// PUBLISH_ACK, the part of their completion before delivery.
	QuietAck, InStormAck []time.Duration
	CaughtUpPerUser      int64 // PUSH frames the slowest storm client counted (≥ Broadcasts)
}

// RunStorm measures Herald's reconnect storm and then the floor's, with
// the same client code and the same bytes sent by each client.
func RunStorm(ctx context.Context, cfg StormConfig, progress io.Writer) (*StormResult, error) {
	cfg.fill()
	res := &StormResult{Config: cfg}
	say := func(format string, args ...any) {
		if progress != nil {
			fmt.Fprintf(progress, format+"\n", args...)
		}
	}
	say("storm, %d clients × %d broadcasts: Herald", cfg.Clients, cfg.Broadcasts)
	tokenLen, err := heraldStorm(ctx, cfg, res, say)
	if err != nil {
		return nil, fmt.Errorf("Herald: %w", err)
	}
	token := strings.Repeat("A", tokenLen)
	say("storm, %d clients: floor", cfg.Clients)
	if res.Floor, err = floorStorm(cfg, token, stormMode); err != nil {
		return nil, fmt.Errorf("floor: %w", err)
	}
	say("storm, %d clients: page floor", cfg.Clients)
	if res.PageFloor, err = floorStorm(cfg, token, stormPageMode, strconv.Itoa(cfg.Broadcasts), strconv.Itoa(cfg.Payload)); err != nil {
		return nil, fmt.Errorf("page floor: %w", err)
	}
	return res, nil
}

// floorStorm runs the storm against a floor started with args.
func floorStorm(cfg StormConfig, token string, args ...string) (StormSide, error) {
	floor, err := child.Start(cfg.Wrapper, append([]string{FloorFlag}, args...)...)
	if err != nil {
		return StormSide{}, err
	}
	defer floor.Stop()
	cpu0, _ := floor.Usage()
	run, err := storm(floor.Announced["clients"], cfg.Clients, cfg.Dialers, func(int) []byte { return handshake(token, 0) })
	if err != nil {
		return StormSide{}, err
	}
	cpu1, _ := floor.Usage()
	run.close()
	return StormSide{Elapsed: run.elapsed, PerClient: run.perClient, CPU: cpu1 - cpu0, Clients: cfg.Clients}, nil
}

// handshake is what a storm client sends: HELLO and RESUME in one write.
func handshake(token string, cursor uint64) []byte {
	b := wire.AppendHello(nil, wire.Hello{Version: wire.Version1, Credential: token})
	return wire.AppendResume(b, wire.Resume{Cursor: cursor}, 0)
}

// heraldStorm runs Herald's side into res and returns the length of a
// client token (the floor's clients send as many bytes).
func heraldStorm(ctx context.Context, cfg StormConfig, res *StormResult, say func(string, ...any)) (int, error) {
	dir, err := os.MkdirTemp("", "herald-bench-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(dir)
	wrapper := cfg.Wrapper
	if cfg.ServerWrapper != nil {
		wrapper = cfg.ServerWrapper
	}
	srv, err := serverproc.Start(filepath.Join(dir, "data"), wrapper...)
	if err != nil {
		return 0, err
	}
	defer srv.Stop()
	target := srv.Addrs()
	admin := &client.Admin{BaseURL: target.AdminURL, Token: target.AdminToken}
	account, err := admin.CreateAccount(ctx, "storm", testtier.Unlimited.Name)
	if err != nil {
		return 0, err
	}
	// The storm's clients (users Online+1 on) follow one account, whose
	// broadcasts they missed; the online clients (users 1..Online) follow
	// another, whose broadcasts go out live during the storm.
	liveAccount, err := admin.CreateAccount(ctx, "storm-live", testtier.Unlimited.Name)
	if err != nil {
		return 0, err
	}
	users := cfg.Online + cfg.Clients
	if err := importFollowers(ctx, admin, account.ID, cfg.Online+1, users); err != nil {
		return 0, err
	}
	if err := importFollowers(ctx, admin, liveAccount.ID, 1, cfg.Online); err != nil {
		return 0, err
	}
	// The broadcasts the storm's clients missed.
	pub, err := client.DialPublisher(ctx, client.PublisherConfig{Addr: target.PublisherAddr, Account: account.ID, Secret: account.Secret})
	if err != nil {
		return 0, err
	}
	defer pub.Close()
	payload := make([]byte, cfg.Payload)
	for range cfg.Broadcasts {
		if _, err := pub.Publish(ctx, client.Message{ContentType: "application/octet-stream", Payload: payload}); err != nil {
			return 0, err
		}
	}
	tokens, err := mintTokens(ctx, admin, users)
	if err != nil {
		return 0, err
	}

	// The online clients, in a process of their own (LiveFlag), resume
	// from the newest id: they missed nothing, and every broadcast from now
	// on reaches them live.
	live, err := startLive(target, liveAccount, cfg.Payload, uint64(cfg.Broadcasts), tokens[:cfg.Online])
	if err != nil {
		return 0, err
	}
	defer live.close()
	say("  %d live broadcasts to %d online clients, no storm", cfg.Quiet, cfg.Online)
	if res.Quiet, res.QuietAck, err = live.quiet(cfg.Quiet, cfg.LiveEvery); err != nil {
		return 0, err
	}

	say("  storm: %d clients resume %d broadcasts each, live broadcasts every %v", cfg.Clients, cfg.Broadcasts, cfg.LiveEvery)
	proc := srv.Proc()
	cpu0, _ := proc.Usage()
	if err := live.start(cfg.LiveEvery); err != nil {
		return 0, err
	}
	run, err := storm(target.ClientAddr, cfg.Clients, cfg.Dialers, func(i int) []byte { return handshake(tokens[cfg.Online+i], 0) })
	cpu1, _ := proc.Usage()
	var lerr error
	res.InStorm, res.InStormAck, lerr = live.stop()
	if err == nil {
		err = lerr
	}
	if err != nil {
		return 0, err
	}
	defer run.close()
	res.Herald = StormSide{Elapsed: run.elapsed, PerClient: run.perClient, CPU: cpu1 - cpu0, Clients: cfg.Clients}
	res.CaughtUpPerUser = run.fewestPushes
	if run.fewestPushes < int64(cfg.Broadcasts) {
		return 0, fmt.Errorf("a storm client caught up on %d broadcasts, want at least %d", run.fewestPushes, cfg.Broadcasts)
	}
	return len(tokens[0]), nil
}

// liveSender publishes live broadcasts and times each to its last online
// receipt.
type liveSender struct {
	publish func() (uint64, error)
	swarm   *swarm
	mu      sync.Mutex
	at      []time.Time
	acks    []time.Duration
}

func (l *liveSender) send() error {
	began := time.Now()
	id, err := l.publish()
	if err != nil {
		return err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if want := l.swarm.base.Load() + uint64(len(l.at)); id != want {
		return fmt.Errorf("live broadcast got id %d, want %d", id, want)
	}
	l.at = append(l.at, began)
	l.acks = append(l.acks, time.Since(began))
	return nil
}

// ackTimes returns publish → PUBLISH_ACK of live broadcasts from..to-1.
func (l *liveSender) ackTimes(from, to int) []time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]time.Duration(nil), l.acks[from:to]...)
}

func (l *liveSender) sent() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.at)
}

// completions waits for live broadcasts from..to-1 at every online client
// and returns publish → last receipt for each.
func (l *liveSender) completions(from, to int) ([]time.Duration, error) {
	var out []time.Duration
	for i := from; i < to; i++ {
		last, err := l.swarm.wait(i, 30*time.Second)
		if err != nil {
			return nil, err
		}
		l.mu.Lock()
		out = append(out, last.Sub(l.at[i]))
		l.mu.Unlock()
	}
	return out, nil
}

// stormSources is how many source addresses a storm's clients use.
const stormSources = 8

// stormRun is one storm's clients, still connected.
type stormRun struct {
	elapsed      time.Duration
	perClient    []time.Duration
	fewestPushes int64
	conns        []net.Conn
}

func (r *stormRun) close() {
	for _, c := range r.conns {
		if c != nil {
			_ = c.Close()
		}
	}
}

// storm connects n clients, dialers at a time; client i sends first(i) and
// reads until a RESUMED without the more flag, counting PUSH frames. It is
// the same code for Herald and the floor.
func storm(addr string, n, dialers int, first func(i int) []byte) (*stormRun, error) {
	r := &stormRun{perClient: make([]time.Duration, n), conns: make([]net.Conn, n)}
	msgs := make([][]byte, n)
	for i := range msgs {
		msgs[i] = first(i)
	}
	var fewest atomic.Int64
	fewest.Store(1 << 62)
	var g errgroup.Group
	g.SetLimit(dialers)
	began := time.Now()
	for i := range n {
		g.Go(func() error {
			start := time.Now()
			// Spread over source addresses: one address's ephemeral
			// ports run short, and connect slows, near 14,000
			// connections to one destination.
			d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(1+i%stormSources))}, Control: sockopt.BindNoPort}
			c, err := d.Dial("tcp", addr)
			if err != nil {
				return err
			}
			r.conns[i] = c
			if _, err := c.Write(msgs[i]); err != nil {
				return err
			}
			_ = c.SetReadDeadline(time.Now().Add(60 * time.Second))
			pushes, err := readUntilResumed(c)
			if err != nil {
				return fmt.Errorf("client %d: %w", i, err)
			}
			r.perClient[i] = time.Since(start)
			for {
				old := fewest.Load()
				if pushes >= old || fewest.CompareAndSwap(old, pushes) {
					break
				}
			}
			return nil
		})
	}
	err := g.Wait()
	r.elapsed = time.Since(began)
	r.fewestPushes = fewest.Load()
	if err != nil {
		r.close()
		return nil, err
	}
	return r, nil
}

// readUntilResumed reads frames until the last RESUMED of a catch-up and
// returns the PUSH frames before it.
func readUntilResumed(c net.Conn) (int64, error) {
	parser := wire.NewParser(0)
	buf := make([]byte, 16<<10)
	var pushes int64
	done := false
	for !done {
		n, err := c.Read(buf)
		if n > 0 {
			perr := parser.Feed(buf[:n], func(f wire.Frame) error {
				switch f.Type {
				case wire.TypePush:
					pushes++
				case wire.TypeResumed:
					if f.Flags&wire.FlagMore != 0 {
						return fmt.Errorf("a page with more: raise the page size")
					}
					done = true
					return errStop
				case wire.TypeError:
					m, _ := wire.DecodeError(f.Body)
					return fmt.Errorf("server error %s: %s", m.Code, m.Text)
				}
				return nil
			})
			if perr != nil && perr != errStop {
				return pushes, perr
			}
		}
		if err != nil && !done {
			return pushes, err
		}
	}
	return pushes, nil
}
