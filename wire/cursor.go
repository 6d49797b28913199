package wire

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// # Shards
//
// A cluster's cores each own a shard of the accounts and number their
// broadcasts in a range of their own: a message id's top byte is its
// shard, the rest its place in that shard's log. A single server is shard
// 0, so its ids are the plain sequence 1, 2, 3… Ids of one shard increase
// in commit order; ids of different shards are not ordered. An account's
// top byte is likewise the shard that owns it.
//
// A Cursor is therefore one id per shard: per shard, the last message id
// covered. Protocol version 1 carries a single id (shard 0 only); version
// 2 carries the whole cursor (docs/PROTOCOL.md, RESUME and RESUMED).

// MaxShards is the most shards a cluster may have.
const MaxShards = 64

const shardShift = 56

// ShardOf returns the shard of a message id.
func ShardOf(id uint64) uint8 { return uint8(id >> shardShift) }

// ShardBase returns the id before shard's first: a cursor at it has seen
// nothing of that shard.
func ShardBase(shard uint8) uint64 { return uint64(shard) << shardShift }

// AccountShard returns the shard that owns an account.
func AccountShard(account uint32) uint8 { return uint8(account >> 24) }

// AccountBase returns the account id before shard's first.
func AccountBase(shard uint8) uint32 { return uint32(shard) << 24 }

// Cursor is a position in every shard's log: at most one id per shard, in
// increasing shard order; a shard it does not name is at its ShardBase.
// The zero value has seen nothing.
type Cursor []uint64

// CursorAt returns the cursor at id in id's shard and at the base of every
// other (for a single server, simply at id).
func CursorAt(id uint64) Cursor {
	if id == ShardBase(ShardOf(id)) {
		return nil
	}
	return Cursor{id}
}

// At returns the cursor's id in shard (ShardBase(shard) if it names none).
func (c Cursor) At(shard uint8) uint64 {
	for _, id := range c {
		if ShardOf(id) == shard {
			return id
		}
	}
	return ShardBase(shard)
}

// Covers reports whether id is at or below the cursor in its shard.
func (c Cursor) Covers(id uint64) bool {
	shard := ShardOf(id)
	for _, last := range c {
		if ShardOf(last) == shard {
			return id <= last
		}
	}
	return id <= ShardBase(shard)
}

// Advance moves the cursor to id in id's shard if that is forward, and
// returns it (in place; it allocates only for a shard it did not name).
func (c Cursor) Advance(id uint64) Cursor {
	shard := ShardOf(id)
	for i, last := range c {
		switch s := ShardOf(last); {
		case s == shard:
			c[i] = max(last, id)
			return c
		case s > shard:
			if id == ShardBase(shard) {
				return c
			}
			c = append(c, 0)
			copy(c[i+1:], c[i:])
			c[i] = id
			return c
		}
	}
	if id == ShardBase(shard) {
		return c
	}
	return append(c, id)
}

// Merge advances c by every id of o and returns it.
func (c Cursor) Merge(o Cursor) Cursor {
	for _, id := range o {
		c = c.Advance(id)
	}
	return c
}

// Clone returns a copy of c that shares nothing with it.
func (c Cursor) Clone() Cursor {
	if len(c) == 0 {
		return nil
	}
	return append(Cursor(nil), c...)
}

// Equal reports whether c and o are at the same place in every shard.
func (c Cursor) Equal(o Cursor) bool {
	for _, id := range c {
		if o.At(ShardOf(id)) != id {
			return false
		}
	}
	for _, id := range o {
		if c.At(ShardOf(id)) != id {
			return false
		}
	}
	return true
}

// Check reports a cursor that breaks the rules: more than MaxShards ids, a
// shard at or above MaxShards, shards not in increasing order.
func (c Cursor) Check() error {
	if len(c) > MaxShards {
		return fmt.Errorf("%w: a cursor of %d ids, at most %d", ErrInvalid, len(c), MaxShards)
	}
	for i, id := range c {
		if ShardOf(id) >= MaxShards {
			return fmt.Errorf("%w: cursor id %d is in shard %d, at most %d", ErrInvalid, id, ShardOf(id), MaxShards-1)
		}
		if i > 0 && ShardOf(id) <= ShardOf(c[i-1]) {
			return fmt.Errorf("%w: cursor ids %d and %d are not in increasing shard order", ErrInvalid, c[i-1], id)
		}
	}
	return nil
}

// String writes the cursor as its ids in decimal, comma-separated ("" for
// the zero cursor): the form an application stores and ParseCursor reads.
func (c Cursor) String() string {
	var b strings.Builder
	for i, id := range c {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.FormatUint(id, 10))
	}
	return b.String()
}

// ErrBadCursor: ParseCursor's input is not a cursor String wrote.
var ErrBadCursor = errors.New("wire: not a cursor")

// ParseCursor reads what Cursor.String wrote. A single id is a version 1
// cursor, so a stored uint64 parses too.
func ParseCursor(s string) (Cursor, error) {
	if s == "" {
		return nil, nil
	}
	var c Cursor
	for _, part := range strings.Split(s, ",") {
		id, err := strconv.ParseUint(part, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%w: %q", ErrBadCursor, s)
		}
		c = append(c, id)
	}
	if err := c.Check(); err != nil {
		return nil, fmt.Errorf("%w: %q: %v", ErrBadCursor, s, err)
	}
	return c, nil
}
