package storage

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"

	"herald/storage/internal/codec"
	"herald/wire"
)

// Options configures Open.
type Options struct {
	// InMemory keeps the database in memory (tests, dry runs); nothing
	// survives Close.
	InMemory bool
	// CacheBytes is the block cache (default 256 MiB): audiences are read
	// whole, so the follower, tag and blocklist chunks of the large
	// accounts should stay decompressed in memory between publishes.
	CacheBytes int64
	// SetCacheBytes bounds the decoded follower, tag and blocklist sets
	// kept for resolving audiences from memory (default 256 MiB: a set of
	// 10,000,000 followers takes about 1.3 MiB); negative keeps none.
	SetCacheBytes int64
	// AudienceCacheBytes bounds the decoded frozen-audience chunks kept
	// for catch-up's membership tests (default 32 MiB; a dense chunk is
	// 8 KiB).
	AudienceCacheBytes int64
	// LastAudienceBytes bounds the accounts' newest audiences kept in
	// memory so that the next broadcast of an account refers to the chunks
	// it shares with them instead of storing them again (default 64 MiB;
	// negative keeps none).
	LastAudienceBytes int64
	// Logger receives the store's log lines (slog.Default() when nil).
	Logger *slog.Logger
	// DiskReserve is the free space kept on the filesystem: commits that
	// add data are refused with ErrStorageFull below it. 0: 5% of the
	// filesystem, at least 32 MiB and at most 512 MiB; negative: none.
	DiskReserve int64
	// DiskUsage, if set, is asked for the filesystem's free and total
	// bytes instead of statfs (tests that fill a disk).
	DiskUsage func() (avail, total uint64, err error)
	// Shard is the cluster shard whose data this is (0: a single server):
	// message and account ids are allocated in its range (wire.ShardOf,
	// wire.AccountShard), and a database holding another shard's ids is
	// refused with ErrWrongShard.
	Shard uint8
	// fs overrides the filesystem (crash tests in this package).
	fs vfs.FS
}

// ErrWrongShard: the database holds ids of a shard other than Options'.
var ErrWrongShard = errors.New("storage: the database belongs to another shard")

// Store is the opened database. Its methods are safe for concurrent use;
// mutations go through a Batch (see NewBatch) owned by a single writer.
type Store struct {
	reads
	db *pebble.DB
	// lastMessage and lastAccount are the highest ids committed; only the
	// writer advances them, after its batch commits.
	lastMessage atomic.Uint64
	// indexedFrom: the catch-up indexes list every broadcast after it
	// (catchup_index.go); set at open.
	indexedFrom uint64
	lastAccount atomic.Uint32
	lastTag     atomic.Uint32 // also stored under meta "last-tag", so ids are never reused
	// floor is the highest message id removed by retention (at least the
	// shard's base).
	floor  atomic.Uint64
	shard  uint8
	closed atomic.Bool
	// failed is set by the first commit Pebble could not complete; every
	// later commit returns it.
	failed  atomic.Pointer[error]
	disk    *diskGuard
	log     *slog.Logger
	repeats *repeats
	// stalled: Pebble stopped commits until memtables are flushed;
	// lastBackgroundError says whether flushes are failing meanwhile.
	stalled             atomic.Bool
	lastBackgroundError atomic.Pointer[backgroundError]
	// audiences caches decoded chunks of committed frozen audiences.
	audiences *audienceCache
	sets      *setCache
	// lastAudiences and audienceMu: audiences by reference
	// (shared_audience.go).
	lastAudiences *lastAudiences
	audienceMu    sync.RWMutex
}

// Open opens (creating if needed) the database in dir.
func Open(dir string, opts Options) (*Store, error) {
	fs := opts.fs
	if fs == nil && opts.InMemory {
		fs = vfs.NewMem()
	}
	if opts.CacheBytes <= 0 {
		opts.CacheBytes = 256 << 20
	}
	if opts.AudienceCacheBytes <= 0 {
		opts.AudienceCacheBytes = 32 << 20
	}
	cache := pebble.NewCache(opts.CacheBytes)
	defer cache.Unref() // the database holds its own reference
	if fs == nil {
		fs = privateFS{vfs.Default}
	}
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	s := &Store{audiences: newAudienceCache(opts.AudienceCacheBytes), log: log, repeats: newRepeats(), shard: opts.Shard}
	if err := fs.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("storage: open %s: %w", dir, err)
	}
	s.disk = newDiskGuard(fs, dir, opts.DiskReserve, opts.DiskUsage, log)
	s.disk.ballast(fs, dir, false)
	logger := pebbleLogger{log: log, repeats: s.repeats}
	popts := &pebble.Options{
		Logger: logger,
		Cache:  cache,
		FS:     fs,
		EventListener: &pebble.EventListener{
			BackgroundError: func(err error) {
				s.lastBackgroundError.Store(&backgroundError{at: time.Now(), msg: err.Error()})
				logger.Errorf("background error: %v", err)
			},
			WriteStallBegin: func(pebble.WriteStallBeginInfo) { s.stalled.Store(true) },
			WriteStallEnd:   func() { s.stalled.Store(false) },
		},
	}
	db, err := openPebble(dir, popts)
	if err != nil {
		return nil, fmt.Errorf("storage: open %s: %w", dir, err)
	}
	s.sets = newSetCache(setCacheBudget(opts.SetCacheBytes))
	s.lastAudiences = newLastAudiences(lastAudienceBudget(opts.LastAudienceBytes))
	s.db, s.reads = db, reads{r: db, sets: s.sets}
	if err := s.load(); err != nil {
		_ = db.Close()
		return nil, err
	}
	s.disk.ballast(fs, dir, true)
	return s, nil
}

// openPebble opens the database, returning a fatal error inside Pebble
// (a MANIFEST it cannot write) as an error.
func openPebble(dir string, opts *pebble.Options) (db *pebble.DB, err error) {
	defer func() {
		if r := recover(); r != nil {
			f, ok := r.(fatalError)
			if !ok {
				panic(r)
			}
			err = fmt.Errorf("%w: %s", ErrStorageFailed, f.msg)
		}
	}()
	return pebble.Open(dir, opts)
}

// load reads the id high-water marks.
func (s *Store) load() error {
	lastMsg, err := s.lastKeySuffix(prefixBroadcast, 8)
	if err != nil {
		return err
	}
	s.lastMessage.Store(lastMsg)
	lastAcct, err := s.lastKeySuffix(prefixAccount, 4)
	if err != nil {
		return err
	}
	s.lastAccount.Store(uint32(lastAcct))
	tagKey := metaKey("last-tag")
	if _, err := get(s.db, tagKey, func(v []byte) error {
		n, err := decodeAt(tagKey, v, codec.DecodeU32)
		s.lastTag.Store(n)
		return err
	}); err != nil {
		return err
	}
	if err := s.loadFloor(); err != nil {
		return err
	}
	if err := s.claimShard(); err != nil {
		return err
	}
	return s.loadIndexedFrom()
}

// claimShard checks that the ids loaded are the shard's and starts both
// sequences at its base when it has none yet.
func (s *Store) claimShard() error {
	msgBase, acctBase := wire.ShardBase(s.shard), wire.AccountBase(s.shard)
	if last := s.lastMessage.Load(); last != 0 && wire.ShardOf(last) != s.shard {
		return fmt.Errorf("%w: message id %d is shard %d's, not %d's", ErrWrongShard, last, wire.ShardOf(last), s.shard)
	}
	if last := s.lastAccount.Load(); last != 0 && wire.AccountShard(last) != s.shard {
		return fmt.Errorf("%w: account %d is shard %d's, not %d's", ErrWrongShard, last, wire.AccountShard(last), s.shard)
	}
	if s.lastMessage.Load() < msgBase {
		s.lastMessage.Store(msgBase)
	}
	if s.floor.Load() < msgBase {
		s.floor.Store(msgBase)
	}
	if s.lastAccount.Load() < acctBase {
		s.lastAccount.Store(acctBase)
	}
	return nil
}

// Shard returns the shard the store was opened as.
func (s *Store) Shard() uint8 { return s.shard }

// LegacyTokenSecret returns the client-token key that databases made
// before the server kept its token keys in a file of their own stored
// under meta "token-secret", or nil when there is none.
func (s *Store) LegacyTokenSecret() ([]byte, error) {
	key := metaKey("token-secret")
	var secret []byte
	_, err := get(s.db, key, func(v []byte) error {
		body, err := decodeAt(key, v, codec.Open)
		if err == nil && len(body) != 32 {
			err = fmt.Errorf("%w: %s: secret of %d bytes", ErrCorrupt, keyString(key), len(body))
		}
		secret = append([]byte(nil), body...)
		return err
	})
	return secret, err
}

// DropLegacyTokenSecret deletes the key LegacyTokenSecret returns, once
// the server has it elsewhere.
func (s *Store) DropLegacyTokenSecret() error {
	b := s.db.NewBatch()
	defer b.Close()
	if err := b.Delete(metaKey("token-secret"), nil); err != nil {
		return err
	}
	return s.commit(b, true, false)
}

// lastKeySuffix returns the big-endian integer after the prefix of the last
// key with that prefix, or zero if there is none.
func (s *Store) lastKeySuffix(prefix byte, width int) (uint64, error) {
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: []byte{prefix}, UpperBound: []byte{prefix + 1}})
	if err != nil {
		return 0, err
	}
	defer it.Close()
	if !it.Last() {
		return 0, it.Error()
	}
	k := it.Key()
	if len(k) != 1+width {
		return 0, fmt.Errorf("%w: %s: key of %d bytes", ErrCorrupt, keyString(k), len(k))
	}
	if width == 4 {
		return uint64(binary.BigEndian.Uint32(k[1:])), nil
	}
	return binary.BigEndian.Uint64(k[1:]), nil
}

// Compact flushes the memtable and compacts the whole database, waiting
// until it is done. Benchmarks call it after loading data so that
// background compactions do not run during the measurement.
func (s *Store) Compact() error {
	if err := s.db.Flush(); err != nil {
		return err
	}
	return s.db.Compact(context.Background(), []byte{0}, []byte{0xff}, true)
}

// WrittenBytes returns how many bytes commits have written to the
// write-ahead log since Open (keys, values and batch headers): what the
// store was asked to keep, before compactions rewrite it.
func (s *Store) WrittenBytes() uint64 { return s.db.Metrics().WAL.BytesIn }

// LastMessageID returns the highest committed message id.
func (s *Store) LastMessageID() uint64 { return s.lastMessage.Load() }

// Close flushes nothing extra (every acknowledged write is already synced)
// and closes the database.
func (s *Store) Close() error {
	if s.closed.Swap(true) {
		return ErrClosed
	}
	defer s.repeats.flush(s.log)
	if s.failed.Load() != nil {
		// Pebble's commit pipeline stopped at a fatal error; closing would
		// wait on it. What was committed is on disk already.
		return nil
	}
	return s.db.Close()
}

// get reads key from r and calls fn with the value while it is valid.
// found is false when the key does not exist.
func get(r pebble.Reader, key []byte, fn func(v []byte) error) (found bool, err error) {
	v, closer, err := r.Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	defer closer.Close()
	return true, fn(v)
}

// lastAudienceBudget is Options.LastAudienceBytes with its default.
func lastAudienceBudget(n int64) int64 {
	switch {
	case n < 0:
		return 0
	case n == 0:
		return 64 << 20
	}
	return n
}

// setCacheBudget is Options.SetCacheBytes with its default.
func setCacheBudget(n int64) int64 {
	switch {
	case n < 0:
		return 0
	case n == 0:
		return 256 << 20
	}
	return n
}
