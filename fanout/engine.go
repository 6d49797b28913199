package fanout

import (
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"herald/storage"
)

// DefaultDataDir is the data directory when none is configured.
const DefaultDataDir = "herald-data"

// Config tunes the engine; zero fields take the defaults.
type Config struct {
	// DataDir holds the database and the token keys (Open only;
	// DefaultDataDir). InMemory keeps everything in memory (tests).
	DataDir  string
	InMemory bool
	// Shard is the cluster shard this engine's core owns (Open only; 0, a
	// single server, by default): its message and account ids are in that
	// shard's range (wire.ShardOf). New takes the store's.
	Shard uint8
	// DiskReserve is the free space kept on the data directory's
	// filesystem; below it writes fail with ErrStorageFull (0: 5% of the
	// filesystem, 32 MiB to 512 MiB; negative: none). DiskUsage replaces
	// statfs of the data directory (tests).
	DiskReserve int64
	DiskUsage   func() (avail, total uint64, err error)
	// TokenOverlap is how long a token key replaced by a rotation is still
	// accepted (24 h, the default token lifetime), unless the rotation
	// names its own.
	TokenOverlap time.Duration
	// MaxPayload bounds a broadcast's payload (default 256 KiB).
	MaxPayload int
	// CatchUpPage is the most broadcasts one RESUME replays (default 1000).
	CatchUpPage int
	// CatchUpCache bounds the memory holding the newest broadcasts'
	// frames and audiences for catch-up (default 64 MiB; negative: none,
	// every page is read from the log).
	CatchUpCache int
	// AudienceMemo bounds the memory remembering the large audiences the
	// accounts last published to, so that publishing again to sets that
	// did not change needs no resolution (default 64 MiB; negative: none).
	AudienceMemo int64
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
	// NoAnalytics turns off broadcast analytics: no per-broadcast figures
	// are stored, acknowledgements save only cursors and OPENED is
	// ignored (for measuring what analytics cost).
	NoAnalytics bool
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Tiers are the account tiers and their quotas (default DefaultTiers:
	// subscription 1 a day, verified 2 a day, service 4 per follower a
	// month). Previews, dry runs and idempotent retries are not counted.
	Tiers map[storage.Tier]TierPolicy
	// MaxTags is the most tags an account may have (default 1000).
	MaxTags int
	// MaxTemplates is the most templates an account may have (default
	// 100).
	MaxTemplates int
	// ReplyWindow is how long after a user's last letter the account may
	// reply (48 hours), with at most ReplyLimit replies (5).
	ReplyWindow time.Duration
	ReplyLimit  int
	// LettersDaily is the most letters a user may write to one account a
	// UTC day (100); more are refused with ErrLimit.
	LettersDaily int
	// ObserveCommit, if set, is told how long each group commit (the
	// fsync included) took and how many ops it carried. It is called on the
	// writer goroutine and must not block.
	ObserveCommit func(took time.Duration, ops int)
	// Logger receives a line per publish and per finished delivery, and
	// the engine's errors (slog.Default() when nil).
	Logger *slog.Logger
}

func (c *Config) fill() {
	if c.DataDir == "" {
		c.DataDir = DefaultDataDir
	}
	if c.TokenOverlap <= 0 {
		c.TokenOverlap = 24 * time.Hour
	}
	if c.MaxPayload <= 0 {
		c.MaxPayload = 256 << 10
	}
	if c.CatchUpPage <= 0 {
		c.CatchUpPage = 1000
	}
	if c.CatchUpCache == 0 {
		c.CatchUpCache = 64 << 20
	}
	if c.AudienceMemo == 0 {
		c.AudienceMemo = 64 << 20
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
	if c.MaxTemplates <= 0 {
		c.MaxTemplates = 100
	}
	if c.ReplyWindow <= 0 {
		c.ReplyWindow = 48 * time.Hour
	}
	if c.ReplyLimit <= 0 {
		c.ReplyLimit = 5
	}
	if c.LettersDaily <= 0 {
		c.LettersDaily = 100
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
	stop chan struct{}
	done chan struct{}
	acks acks
	jobs jobs
	// prep are the preparers' queues; preparing counts running preparers.
	prep      []chan *publishOp
	preparing sync.WaitGroup
	readers   readers
	recent    recent
	memo      *audienceMemo
	// retractions counts RETRACTED notices dispatched (engine.Page.Epoch).
	retractions atomic.Uint64
	tokenKeys   *tokenKeys
	sched       schedulerState
	confirm     confirmations
	// dir is the data directory Open took (nil for New or in memory);
	// owned: Close closes the store.
	dir   *dataDir
	owned bool
}

// New starts an engine over store, with token keys in memory. The caller
// keeps ownership of store and closes it after Close. Open is the engine of
// a process: it owns its data directory.
func New(store *storage.Store, cfg Config) *Engine {
	keys, err := loadTokenKeys("", nil)
	if err != nil {
		panic(err) // only a failing random source
	}
	return start(store, keys, cfg)
}

func start(store *storage.Store, keys *tokenKeys, cfg Config) *Engine {
	cfg.fill()
	e := &Engine{
		cfg:       cfg,
		store:     store,
		ops:       make(chan op, cfg.MaxGroup),
		stop:      make(chan struct{}),
		done:      make(chan struct{}),
		tokenKeys: keys,
		memo:      newAudienceMemo(cfg.AudienceMemo),
	}
	e.sched.firing, e.sched.wake = make(map[scheduleRef]bool), make(chan struct{}, 1)
	e.readers.start()
	e.recent.init(cfg.CatchUpCache, store.LastMessageID())
	if err := e.recent.warm(store, cfg.CompressMin); err != nil {
		// Catch-up reads the log instead; nothing is lost.
		cfg.Logger.Error("loading recent broadcasts for catch-up", "error", err)
		e.recent.init(cfg.CatchUpCache, store.LastMessageID())
	}
	e.acks.init(store, &e.recent, !cfg.NoAnalytics)
	e.jobs.init(store)
	e.startPreparers()
	var running sync.WaitGroup
	running.Add(4)
	go func() { defer running.Done(); e.write() }()
	go func() { defer running.Done(); e.save() }()
	go func() { defer running.Done(); e.retain() }()
	go func() { defer running.Done(); e.schedule() }()
	go func() { running.Wait(); close(e.done) }()
	return e
}

// Close stops accepting ops, lets the writer finish what it holds and the
// readers what they were asked, and saves acknowledged cursors. It closes
// the store and releases the data directory if Open opened them.
func (e *Engine) Close() error {
	e.mu.Lock()
	already := e.mu.closed
	e.mu.closed = true
	e.mu.Unlock()
	if !already {
		e.confirm.release(fmt.Errorf("%w: the server stopped before the broadcast was confirmed; nothing was sent", ErrClosed))
		// Publishes already accepted drain through the preparers into
		// the writer, which answers them before it stops.
		for _, queue := range e.prep {
			close(queue)
		}
		e.preparing.Wait()
		close(e.stop)
	}
	<-e.done
	e.readers.stop()
	err := errors.Join(e.acks.flush(), e.jobs.unsaved.flush())
	if e.owned && !already {
		err = errors.Join(err, e.store.Close())
		if e.dir != nil {
			e.dir.close()
		}
	}
	return err
}

// save writes acknowledged cursors and finished job reports every
// CursorFlush, until Close.
func (e *Engine) save() {
	t := time.NewTicker(e.cfg.CursorFlush)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			if err := errors.Join(e.acks.flush(), e.jobs.unsaved.flush()); err != nil {
				e.cfg.Logger.Error("saving cursors and job reports", "error", err)
			}
		case <-e.stop:
			return
		}
	}
}

func (e *Engine) nowMillis() uint64 { return uint64(e.cfg.Now().UnixMilli()) }

// today is the UTC day (days since the Unix epoch) by the engine's clock.
func (e *Engine) today() uint32 { return dayOf(e.nowMillis()) }

// submit hands an op to the writer. It fails with ErrClosed once Close has
// begun, and at once while the store's commits are stalled behind a disk
// that fails (rather than queue behind them); an op accepted here is always
// answered.
func (e *Engine) submit(o op) error {
	if err := e.store.Stalled(); err != nil {
		return contract(err)
	}
	e.mu.RLock()
	defer e.mu.RUnlock()
	if e.mu.closed {
		return ErrClosed
	}
	e.ops <- o
	return nil
}
