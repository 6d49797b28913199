package storage

import (
	"errors"
	"testing"

	"github.com/RoaringBitmap/roaring/v2"
	"github.com/cockroachdb/pebble/v2/vfs"

	"herald/wire"
)

// TestShardNumbersInItsRange: a store opened as shard 3 allocates message
// and account ids in shard 3's ranges, keeps them across a reopen, and is
// refused when opened as another shard.
func TestShardNumbersInItsRange(t *testing.T) {
	fs := vfs.NewMem()
	s, err := Open("db", Options{fs: fs, Shard: 3})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := s.FirstRetained(), wire.ShardBase(3)+1; got != want || s.LastMessageID() != wire.ShardBase(3) {
		t.Fatalf("empty shard 3: first retained %#x, last %#x; want %#x and its base", got, s.LastMessageID(), want)
	}
	var account uint32
	var message uint64
	commit(t, s, func(b *Batch) error {
		a, err := b.CreateAccount(Account{Name: "a", Tier: TierSubscription})
		account = a.ID
		if err != nil {
			return err
		}
		message, err = b.AddBroadcast(Broadcast{Account: a.ID, ClientMsgID: "m", Payload: []byte("x")}, roaring.BitmapOf(1))
		return err
	})
	if account != wire.AccountBase(3)+1 || message != wire.ShardBase(3)+1 {
		t.Fatalf("account %#x, message %#x; want the first of shard 3's ranges", account, message)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := Open("db", Options{fs: fs, Shard: 1}); !errors.Is(err, ErrWrongShard) {
		t.Fatalf("opened as shard 1: %v, want ErrWrongShard", err)
	}
	if _, err := Open("db", Options{fs: fs}); !errors.Is(err, ErrWrongShard) {
		t.Fatalf("opened as shard 0: %v, want ErrWrongShard", err)
	}
	s = openShard(t, fs, 3)
	if s.LastMessageID() != message {
		t.Fatalf("reopened: last message %#x, want %#x", s.LastMessageID(), message)
	}
}

func openShard(t *testing.T, fs vfs.FS, shard uint8) *Store {
	t.Helper()
	s, err := Open("db", Options{fs: fs, Shard: shard})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}
