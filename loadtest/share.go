package loadtest

import (
	"context"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"herald/client"
	"herald/wire"
)

// share is the clients one process holds: users lo..hi of a run. The
// run's first share is in the process that runs the scenario; the others
// are each in a worker process (worker.go), which holds a share like this
// one and reports its events over a pipe.
type share struct {
	cfg       Config
	target    *Target
	admin     *client.Admin
	accounts  []uint32
	lo, hi    uint32
	ev        events
	followers []*follower
	// tokens are the clients' tokens, minted before connecting.
	tokens    []string
	receivers sync.WaitGroup
	exp       atomic.Pointer[expectation]
}

// events are what a share reports as it happens. Calls come from many
// goroutines.
type events struct {
	// live: a client is connected and live.
	live func()
	// burst: every client of the share that broadcast i is for has it.
	burst func(i int)
	// caughtUp: a client has every expected broadcast.
	caughtUp func()
}

// expectation is which broadcasts a share's clients are to receive: ids
// (index maps each to its place), each for want of the share's clients.
type expectation struct {
	ids    []uint64
	index  map[uint64]int
	want   int64
	counts []atomic.Int64
}

func (s *share) users() (lo, hi uint32) { return s.lo, s.hi }

// expect sets the broadcasts to count; set it before they can arrive.
func (s *share) expect(_ context.Context, ids []uint64, want int) error {
	index := make(map[uint64]int, len(ids))
	for i, id := range ids {
		index[id] = i
	}
	s.exp.Store(&expectation{ids: ids, index: index, want: int64(want), counts: make([]atomic.Int64, len(ids))})
	if want == 0 {
		for i := range ids {
			s.ev.burst(i)
		}
	}
	return nil
}

// mint mints every client's token ahead of connecting, so that a
// measured connect or reconnect storm is not also an admin-API load test.
func (s *share) mint(ctx context.Context) error {
	tokens := make([]string, s.hi-s.lo+1)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(64)
	for i := range tokens {
		g.Go(func() (err error) {
			tokens[i], err = mintToken(gctx, s.admin, s.lo+uint32(i))
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	s.tokens = tokens
	return nil
}

// token is user's minted token, or a fresh one.
func (s *share) token(ctx context.Context, user uint32) (string, error) {
	if i := int(user - s.lo); user >= s.lo && i < len(s.tokens) {
		return s.tokens[i], nil
	}
	return mintToken(ctx, s.admin, user)
}

// connect connects the share's clients from cursor; each records what it
// receives from then on.
func (s *share) connect(ctx context.Context, cursor wire.Cursor) error {
	// A catch-up's reconnect rate is shared out by clients held.
	rate := 0.0
	if s.cfg.Scenario == ScenarioCatchUp {
		rate = s.cfg.ReconnectRate * float64(s.hi-s.lo+1) / float64(s.cfg.Clients)
	}
	var err error
	s.followers, err = connect(ctx, s.cfg, s.target, s.token, s.lo, s.hi, cursor, rate, s.receive, s.ev.live)
	return err
}

// receive records what f receives and counts it against the expectation.
func (s *share) receive(f *follower) {
	s.receivers.Add(1)
	go func() {
		defer s.receivers.Done()
		have := 0
		for m := range f.sub.Messages() {
			if !f.record(m, s.accounts) {
				continue
			}
			x := s.exp.Load()
			if x == nil {
				continue
			}
			i, ok := x.index[m.ID]
			if !ok {
				continue
			}
			if x.counts[i].Add(1) == x.want {
				s.ev.burst(i)
			}
			if have++; have == len(x.ids) {
				f.caughtUp = f.got[len(f.got)-1].at
				s.ev.caughtUp()
			}
		}
	}()
}

// finish closes the share's clients and returns their records once every
// receiver has stopped.
func (s *share) finish(context.Context) ([]*follower, error) {
	closeAll(s.followers)
	s.receivers.Wait()
	out := make([]*follower, 0, len(s.followers))
	for _, f := range s.followers {
		if f != nil {
			out = append(out, f)
		}
	}
	return out, nil
}

// mintToken mints a day's token for user over the admin API.
func mintToken(ctx context.Context, admin *client.Admin, user uint32) (string, error) {
	token, err := admin.MintToken(ctx, user, 24*time.Hour)
	if err != nil {
		return "", fmt.Errorf("loadtest: token for user %d: %w", user, err)
	}
	return token, nil
}

// sourceAddr is client i's source address: one of 127.0.0.1 to
// 127.0.0.SourceAddrs when the server listens on loopback, else the
// system's choice.
func sourceAddr(cfg Config, target *Target, i int) net.Addr {
	host, _, err := net.SplitHostPort(target.ClientAddr)
	if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() || ip.To4() == nil {
		return nil
	}
	return &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(1+i%cfg.SourceAddrs))}
}

// connect connects users lo..hi from cursor, each with the token from
// token, rate a second (0: as fast as it can, 64 at a time). started, if
// not nil, is called for each client as soon as it is subscribed, before
// it is live (a catch-up must be read to go live); live, when it is live.
func connect(ctx context.Context, cfg Config, target *Target, token func(context.Context, uint32) (string, error), lo, hi uint32, cursor wire.Cursor, rate float64, started func(*follower), live func()) ([]*follower, error) {
	followers := make([]*follower, hi-lo+1)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(64)
	start := time.Now()
	for i := range followers {
		if rate > 0 {
			select {
			case <-time.After(time.Until(start.Add(time.Duration(float64(i) / rate * float64(time.Second))))):
			case <-gctx.Done():
			}
		}
		g.Go(func() error {
			user := lo + uint32(i)
			token, err := token(gctx, user)
			if err != nil {
				return err
			}
			cctx, cancel := context.WithTimeout(gctx, 30*time.Second)
			defer cancel()
			sub, err := client.Subscribe(cctx, client.SubscriberConfig{Addrs: target.dialAddrs(cfg, user), LocalAddr: sourceAddr(cfg, target, int(user-1)), Token: token, Cursor: cursor})
			if err != nil {
				return fmt.Errorf("loadtest: connect user %d: %w", user, err)
			}
			f := &follower{user: user, sub: sub, since: time.Now()}
			followers[i] = f
			if started != nil {
				started(f)
			}
			if err := sub.WaitLive(cctx); err != nil {
				return err
			}
			live()
			return nil
		})
	}
	return followers, g.Wait()
}
