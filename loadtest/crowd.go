package loadtest

import (
	"context"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"herald/wire"
)

// clientShare is one process's share of a run's clients: this process's
// own (share) or a worker process's (worker).
type clientShare interface {
	// users is the share's range of user ids.
	users() (lo, hi uint32)
	// expect sets the broadcasts to count, ids, each for want of the
	// share's clients.
	expect(ctx context.Context, ids []uint64, want int) error
	// mint mints every client's token ahead of connect.
	mint(ctx context.Context) error
	// connect connects every client of the share from cursor.
	connect(ctx context.Context, cursor wire.Cursor) error
	// finish closes the clients and returns what each received.
	finish(ctx context.Context) ([]*follower, error)
}

// crowd is a run's clients: users 1..Clients, in shares of at most
// Config.ClientsPerProcess, the first in this process and each other one
// in a worker process of its own. The scenario drives all shares as one
// and gathers every client's record to verify at the end.
type crowd struct {
	shares  []clientShare
	local   *share // shares[0]
	workers []*worker
	// liveBar and caughtBar count clients going live and catching up.
	liveBar, caughtBar atomic.Pointer[progress]
	// complete counts, per expected broadcast, the shares that have it at
	// every client it is for.
	complete atomic.Pointer[[]atomic.Int32]
	caught   atomic.Int64
	clients  int64
	// allCaughtUp is closed when every client has every expected broadcast.
	allCaughtUp chan struct{}
}

// newCrowd splits the clients into shares, starting a worker process for
// each share after the first; they record the run's accounts' broadcasts.
func (e *env) newCrowd(cfg Config, accounts ...uint32) (*crowd, error) {
	c := &crowd{clients: int64(cfg.Clients), allCaughtUp: make(chan struct{})}
	ev := events{live: c.live, burst: c.burst, caughtUp: c.caughtUp}
	per := uint32(cfg.ClientsPerProcess)
	for lo := uint32(1); lo <= uint32(cfg.Clients); lo += per {
		hi := min(lo+per-1, uint32(cfg.Clients))
		if lo == 1 {
			c.local = &share{cfg: cfg, target: e.target, admin: e.admin, accounts: accounts, lo: lo, hi: hi, ev: ev}
			c.shares = append(c.shares, c.local)
			continue
		}
		w, err := startWorker(workerJob{Config: cfg, Target: *e.target, AdminToken: e.target.AdminToken, Accounts: accounts, Lo: lo, Hi: hi}, ev)
		if err != nil {
			c.close()
			return nil, err
		}
		c.shares = append(c.shares, w)
		c.workers = append(c.workers, w)
		e.logf("worker: pid %d, users %d to %d", w.proc.Pid(), lo, hi)
	}
	e.report.ClientProcesses = len(c.shares)
	if len(c.workers) > 0 {
		e.logf("clients spread over %d processes of at most %d (this one and %d worker%s)", len(c.shares), per, len(c.workers), plural(len(c.workers)))
	}
	return c, nil
}

func (c *crowd) live() {
	if b := c.liveBar.Load(); b != nil {
		b.add(1)
	}
}

func (c *crowd) burst(i int) {
	if p := c.complete.Load(); p != nil && i >= 0 && i < len(*p) {
		(*p)[i].Add(1)
	}
}

func (c *crowd) caughtUp() {
	if b := c.caughtBar.Load(); b != nil {
		b.add(1)
	}
	if c.caught.Add(1) == c.clients {
		close(c.allCaughtUp)
	}
}

// mint mints every client's token, all shares at once, so that connect
// measures connecting alone.
func (c *crowd) mint(ctx context.Context) error {
	g, gctx := errgroup.WithContext(ctx)
	for _, s := range c.shares {
		g.Go(func() error { return s.mint(gctx) })
	}
	return g.Wait()
}

// connect connects every client from cursor, all shares at once; bar
// counts clients going live.
func (c *crowd) connect(ctx context.Context, cursor wire.Cursor, bar *progress) (time.Duration, error) {
	c.liveBar.Store(bar)
	start := time.Now()
	g, gctx := errgroup.WithContext(ctx)
	for _, s := range c.shares {
		g.Go(func() error { return s.connect(gctx, cursor) })
	}
	err := g.Wait()
	return time.Since(start), err
}

// expect sets the broadcasts to count, ids, for the users wants accepts.
// bar counts clients that have them all. Call it before they can arrive.
func (c *crowd) expect(ctx context.Context, ids []uint64, wants func(user uint32) bool, bar *progress) error {
	complete := make([]atomic.Int32, len(ids))
	c.complete.Store(&complete)
	c.caughtBar.Store(bar)
	for _, s := range c.shares {
		lo, hi := s.users()
		want := 0
		for u := lo; u >= lo && u <= hi; u++ {
			if wants(u) {
				want++
			}
		}
		if err := s.expect(ctx, ids, want); err != nil {
			return err
		}
	}
	return nil
}

// waitBurst waits until expected broadcast i has reached every client it
// is for, or until deadline; it reports whether it had.
func (c *crowd) waitBurst(i int, deadline time.Time) bool {
	complete := *c.complete.Load()
	for int(complete[i].Load()) < len(c.shares) {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(50 * time.Microsecond)
	}
	return true
}

// finish closes every client and gathers what each received.
func (c *crowd) finish(ctx context.Context) ([]*follower, error) {
	parts := make([][]*follower, len(c.shares))
	g, gctx := errgroup.WithContext(ctx)
	for i, s := range c.shares {
		g.Go(func() error {
			var err error
			parts[i], err = s.finish(gctx)
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	var all []*follower
	for _, p := range parts {
		all = append(all, p...)
	}
	return all, nil
}

// close ends whatever finish did not: this process's clients and any
// worker still running. It is safe after finish.
func (c *crowd) close() {
	if c.local != nil {
		closeAll(c.local.followers)
	}
	for _, w := range c.workers {
		w.close()
	}
}
