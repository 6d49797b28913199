package storage

import (
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
)

// # A full disk
//
// Pebble cannot recover from a write that fails for lack of space: a
// failed WAL write is fatal to its commit pipeline, a failed MANIFEST
// write is fatal to the process, and a flush that cannot write its table
// is retried forever while commits stall behind it. So the store stops
// accepting writes before the disk is full: every commit that adds data
// is admitted only while the filesystem keeps its reserve free after it
// (ErrStorageFull otherwise, which clears by itself when space returns),
// and deletions, cursors and delivery reports (small, and what frees
// space) are always let through. A ballast file of half the reserve, made
// when space allows and removed when a start finds the disk nearly full,
// keeps room for Pebble to open and replay its log even when something
// else filled the disk.

// ballastName is the ballast file in the database directory.
const ballastName = "herald.ballast"

// diskRefresh is how long a free-space reading is trusted, less what was
// committed since.
const diskRefresh = 100 * time.Millisecond

// diskGuard admits commits while the reserve stays free.
type diskGuard struct {
	usage   func() (vfs.DiskUsage, error)
	reserve int64 // 0: no guard (in memory, or unknown free space)
	log     *slog.Logger
	full    atomic.Bool
	free    atomic.Int64 // bytes free at the last reading, for metrics
	mu      struct {
		sync.Mutex
		at      time.Time // of the last reading
		written int64     // bytes admitted since
	}
}

// defaultReserve is 5% of the filesystem, at least 32 MiB and at most
// 512 MiB.
func defaultReserve(total uint64) int64 {
	return min(512<<20, max(32<<20, int64(total/20)))
}

// newDiskGuard sets up the guard for dir on fs; reserve is Options'
// (0: the default, negative: none).
func newDiskGuard(fs vfs.FS, dir string, reserve int64, usage func() (avail, total uint64, err error), log *slog.Logger) *diskGuard {
	g := &diskGuard{log: log, usage: func() (vfs.DiskUsage, error) { return fs.GetDiskUsage(dir) }}
	if usage != nil {
		g.usage = func() (vfs.DiskUsage, error) {
			avail, total, err := usage()
			return vfs.DiskUsage{AvailBytes: avail, TotalBytes: total}, err
		}
	}
	u, err := g.usage()
	if err != nil || reserve < 0 {
		return g // in memory, or told not to: no reserve
	}
	if reserve == 0 {
		reserve = defaultReserve(u.TotalBytes)
	}
	g.reserve = reserve
	g.free.Store(int64(u.AvailBytes))
	return g
}

// admit lets a commit of n bytes through, or returns ErrStorageFull when it
// would leave less than the reserve free.
func (g *diskGuard) admit(n int) error { return g.room(n, true) }

// room reports whether n bytes more leave the reserve free, counting them
// as written if take.
func (g *diskGuard) room(n int, take bool) error {
	if g.reserve == 0 {
		return nil
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if time.Since(g.mu.at) > diskRefresh {
		u, err := g.usage()
		if err != nil {
			return nil // not knowing is no reason to refuse
		}
		g.free.Store(int64(u.AvailBytes))
		g.mu.at, g.mu.written = time.Now(), 0
	}
	free := g.free.Load() - g.mu.written
	if free-int64(n) < g.reserve {
		if !g.full.Swap(true) {
			g.log.Warn("storage: disk reserve reached; refusing writes until space is freed",
				"free_bytes", free, "reserve_bytes", g.reserve)
		}
		return fmt.Errorf("%w: %d bytes free, the reserve is %d", ErrStorageFull, free, g.reserve)
	}
	if g.full.Swap(false) {
		g.log.Info("storage: disk space above the reserve again; accepting writes", "free_bytes", free, "reserve_bytes", g.reserve)
	}
	if take {
		g.mu.written += int64(n)
	}
	return nil
}

// ballast makes room for Pebble to start: before opening, it removes the
// ballast if less than the reserve is free; after, it makes the ballast if
// there is room for it and the reserve.
func (g *diskGuard) ballast(fs vfs.FS, dir string, opened bool) {
	if g.reserve == 0 {
		return
	}
	path := fs.PathJoin(dir, ballastName)
	size := g.reserve / 2
	u, err := g.usage()
	if err != nil {
		return
	}
	_, statErr := fs.Stat(path)
	exists := statErr == nil
	switch {
	case !opened && exists && int64(u.AvailBytes) < g.reserve:
		if err := fs.Remove(path); err == nil {
			g.log.Warn("storage: the disk is nearly full; removed the ballast file to start", "path", path, "freed_bytes", size, "free_bytes", u.AvailBytes)
		}
	case opened && !exists && int64(u.AvailBytes) > g.reserve+size:
		f, err := fs.Create(path, vfs.WriteCategoryUnspecified)
		if err != nil {
			return
		}
		err = f.Preallocate(0, size)
		err = errors.Join(err, f.Sync(), f.Close())
		if err != nil {
			_ = fs.Remove(path)
		}
	}
}

// commit commits b, durably if sync, through the guard if guarded.
// A fatal error inside Pebble (its commit pipeline cannot continue) is
// recovered here: the commit fails with ErrStorageFailed, nothing after it
// is committed (every commit returns the same error), and reads of what was
// committed before go on.
func (s *Store) commit(b *pebble.Batch, sync, guarded bool) (err error) {
	if s.closed.Load() {
		return ErrClosed
	}
	if failed := s.failed.Load(); failed != nil {
		return *failed
	}
	if guarded {
		if err := s.disk.admit(b.Len()); err != nil {
			return err
		}
	}
	defer func() {
		r := recover()
		if r == nil {
			return
		}
		f, ok := r.(fatalError)
		if !ok {
			panic(r)
		}
		err = fmt.Errorf("%w: %s; restart the server once the disk is fixed", ErrStorageFailed, f.msg)
		s.failed.CompareAndSwap(nil, &err)
	}()
	opts := pebble.NoSync
	if sync {
		opts = pebble.Sync
	}
	return b.Commit(opts)
}

// backgroundError is Pebble's latest failure of a flush or compaction.
type backgroundError struct {
	at  time.Time
	msg string
}

// Health reports whether the store accepts writes: nil; an error wrapping
// ErrStorageFull while the disk is at its reserve; or one wrapping
// ErrStorageFailed, for the commit that stopped the store or while commits
// are stalled behind flushes that fail (see Stalled).
func (s *Store) Health() error {
	if failed := s.failed.Load(); failed != nil {
		return *failed
	}
	if err := s.Stalled(); err != nil {
		return err
	}
	return s.disk.room(0, false)
}

// Stalled returns an error wrapping ErrStorageFailed while commits wait
// for memtables to be flushed and flushing fails (a disk error): a commit
// now would wait until the disk works again, so callers refuse new writes
// instead.
func (s *Store) Stalled() error {
	if !s.stalled.Load() {
		return nil
	}
	if last := s.lastBackgroundError.Load(); last != nil && time.Since(last.at) < time.Minute {
		return fmt.Errorf("%w: writes are stalled behind a flush that fails: %s", ErrStorageFailed, last.msg)
	}
	return nil
}

// DiskFree returns the free bytes on the store's filesystem at the last
// reading and the reserve kept free (both 0 when unknown or in memory).
func (s *Store) DiskFree() (free, reserve int64) { return s.disk.free.Load(), s.disk.reserve }
