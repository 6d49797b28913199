package fanout

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"herald/storage"
)

// Config tunes the engine; zero fields take the defaults.
type Config struct {
	// MaxPayload bounds a broadcast's payload (default 256 KiB).
	MaxPayload int
	// CatchUpPage is the most broadcasts one RESUME replays (default 1000).
	CatchUpPage int
	// CatchUpBytes stops a page once its payloads reach this many bytes
	// (default 1 MiB), so a page stays well under the slow-consumer cap.
	CatchUpBytes int
	// Retention is how long broadcasts are kept for catch-up (7 days);
	// RetentionSweep is how often expired ones are removed (1 minute).
	Retention      time.Duration
	RetentionSweep time.Duration
	// CompressMin is the smallest payload sent S2-compressed to clients that
	// accept compression (default 512 bytes; negative: never).
	CompressMin int
	// MaxGroup is the most ops folded into one commit (default 1024).
	MaxGroup int
	// CursorFlush is how often acknowledged cursors are saved (default 1 s).
	CursorFlush time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Tiers are the account tiers and their quotas (default DefaultTiers:
	// subscription 1 a day, verified 2 a day, service 4 per follower a
	// month). Previews, dry runs and idempotent retries are not counted.
	Tiers map[storage.Tier]TierPolicy
	// MaxTags is the most tags an account may have (default 1000).
	MaxTags int
	// ObserveCommit, if set, is told how long each group commit (the
	// fsync included) took and how many ops it carried. It is called on the
	// writer goroutine and must not block.
	ObserveCommit func(took time.Duration, ops int)
	// Logger receives a line per publish and per finished delivery, and
	// the engine's errors (slog.Default() when nil).
	Logger *slog.Logger
}

func (c *Config) fill() {
	if c.MaxPayload <= 0 {
		c.MaxPayload = 256 << 10
	}
	if c.CatchUpPage <= 0 {
		c.CatchUpPage = 1000
	}
	if c.CatchUpBytes <= 0 {
		c.CatchUpBytes = 1 << 20
	}
	if c.Retention <= 0 {
		c.Retention = 7 * 24 * time.Hour
	}
	if c.RetentionSweep <= 0 {
		c.RetentionSweep = time.Minute
	}
	if c.CompressMin == 0 {
		c.CompressMin = 512
	}
	if c.MaxGroup <= 0 {
		c.MaxGroup = 1024
	}
	if c.CursorFlush <= 0 {
		c.CursorFlush = time.Second
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Tiers == nil {
		c.Tiers = DefaultTiers()
	}
	if c.MaxTags <= 0 {
		c.MaxTags = 1000
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}

// Engine is the fan-out engine over one store. It is safe for concurrent use.
type Engine struct {
	cfg   Config
	store *storage.Store
	hub   Hub
	ops   chan op
	mu    struct {
		// RLock is held while an op is handed to the writer, so Close
		// (which takes the write lock) knows no op can arrive after it.
		sync.RWMutex
		closed bool
	}
	// stop is closed by Close; done is closed when the writer and the
	// cursor saver have exited.
	stop    chan struct{}
	done    chan struct{}
	cursors cursors
	jobs    jobs
	// prep are the preparers' queues; preparing counts running preparers.
	prep      []chan *publishOp
	preparing sync.WaitGroup
}

// New starts an engine over store. The caller keeps ownership of store and
// closes it after Close.
func New(store *storage.Store, cfg Config) *Engine {
	cfg.fill()
	e := &Engine{
		cfg:   cfg,
		store: store,
		ops:   make(chan op, cfg.MaxGroup),
		stop:  make(chan struct{}),
		done:  make(chan struct{}),
	}
	e.cursors.init(store)
	e.jobs.init(store)
	e.startPreparers()
	var running sync.WaitGroup
	running.Add(3)
	go func() { defer running.Done(); e.write() }()
	go func() { defer running.Done(); e.save() }()
	go func() { defer running.Done(); e.retain() }()
	go func() { running.Wait(); close(e.done) }()
	return e
}

// Hub returns the online index that server loops register with.
func (e *Engine) Hub() *Hub { return &e.hub }

// Store returns the engine's store for read-only lookups.
func (e *Engine) Store() *storage.Store { return e.store }

// Close stops accepting ops, lets the writer finish what it holds, and
// saves acknowledged cursors. It does not close the store.
func (e *Engine) Close() error {
	e.mu.Lock()
	already := e.mu.closed
	e.mu.closed = true
	e.mu.Unlock()
	if !already {
		// Publishes already accepted drain through the preparers into
		// the writer, which answers them before it stops.
		for _, queue := range e.prep {
			close(queue)
		}
		e.preparing.Wait()
		close(e.stop)
	}
	<-e.done
	return errors.Join(e.cursors.flush(), e.jobs.unsaved.flush())
}

// save writes acknowledged cursors and finished job reports every
// CursorFlush, until Close.
func (e *Engine) save() {
	t := time.NewTicker(e.cfg.CursorFlush)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			if err := errors.Join(e.cursors.flush(), e.jobs.unsaved.flush()); err != nil {
				e.cfg.Logger.Error("saving cursors and job reports", "error", err)
			}
		case <-e.stop:
			return
		}
	}
}

func (e *Engine) nowMillis() uint64 { return uint64(e.cfg.Now().UnixMilli()) }

// submit hands an op to the writer. It fails with ErrClosed once Close has
// begun, and at once while the store's commits are stalled behind a disk
// that fails (rather than queue behind them); an op accepted here is always
// answered.
func (e *Engine) submit(o op) error {
	if err := e.store.Stalled(); err != nil {
		return err
	}
	e.mu.RLock()
	defer e.mu.RUnlock()
	if e.mu.closed {
		return ErrClosed
	}
	e.ops <- o
	return nil
}

// wait submits o and blocks until it is answered or ctx ends. When ctx ends
// first the op may still commit; the caller only stops waiting.
func (e *Engine) wait(ctx context.Context, o op, answered <-chan struct{}) error {
	if err := e.submit(o); err != nil {
		return err
	}
	select {
	case <-answered:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
