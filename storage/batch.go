package storage

import (
	"github.com/cockroachdb/pebble/v2"
)

// Batch is a set of mutations that reads its own writes and commits
// atomically with one fsync. It is owned by one goroutine; the fan-out
// engine's writer folds many requests into one Batch (group commit).
type Batch struct {
	reads
	store *Store
	batch *pebble.Batch
	// Ids handed out by this batch; published to the Store only on commit.
	lastMessage uint64
	lastAccount uint32
	lastTag     uint32
	// The sets' chunks this batch changed, the sets it deleted and the
	// key prefixes under which it deleted every set, written through to
	// the store's set cache on commit.
	setChanges   []setChange
	droppedSets  []string
	droppedUnder []string
	// audiences are the accounts' newest audiences this batch wrote;
	// audienceLocked: it holds Store.audienceMu's read lock
	// (shared_audience.go).
	audiences      map[uint32]*lastAudience
	audienceLocked bool
}

// NewBatch starts a batch.
func (s *Store) NewBatch() *Batch { return s.NewBatchSized(0) }

// NewBatchSized starts a batch with room for about bytes of mutations
// (EncodedSet.BatchBytes, PreparedCount.BatchBytes), so that one writing
// megabytes is allocated once instead of doubling and copying itself as
// it grows.
func (s *Store) NewBatchSized(bytes int) *Batch {
	batch := s.db.NewIndexedBatchWithSize(bytes)
	return &Batch{
		reads:       reads{r: batch},
		store:       s,
		batch:       batch,
		lastMessage: s.lastMessage.Load(),
		lastAccount: s.lastAccount.Load(),
		lastTag:     s.lastTag.Load(),
	}
}

// Empty reports whether the batch holds no mutation.
func (b *Batch) Empty() bool { return b.batch.Empty() }

// Commit writes the batch durably (fsync) and then publishes the ids it
// allocated. A failed commit changes nothing.
func (b *Batch) Commit() error {
	if err := b.store.commit(b.batch, true, true); err != nil {
		return err
	}
	// The sets before the ids: a reader that sees an id sees the sets its
	// batch left (catch-up's unfollowed accounts count on it).
	b.store.sets.apply(b.setChanges, b.droppedSets, b.droppedUnder)
	b.store.lastMessage.Store(b.lastMessage)
	b.store.lastAccount.Store(b.lastAccount)
	b.store.lastTag.Store(b.lastTag)
	b.releaseAudiences(true)
	return nil
}

// Close releases the batch; uncommitted mutations are discarded.
func (b *Batch) Close() {
	b.releaseAudiences(false)
	_ = b.batch.Close()
}

func (b *Batch) set(key, value []byte) error { return b.batch.Set(key, value, nil) }

// Count returns the number of mutations in the batch so far.
func (b *Batch) Count() uint32 { return b.batch.Count() }
