package storage

import (
	"encoding/binary"
	"fmt"

	"github.com/cockroachdb/pebble/v2"

	"herald/storage/internal/codec"
	"herald/wire"
)

// Letter is a follower's message to an account; Seq numbers the
// account's letters from 1 in commit order.
type Letter = wire.Letter

func encodeLetter(l Letter) []byte {
	var w codec.Writer
	w.U32(l.User)
	w.U64(l.TimeMillis)
	w.Str(l.ContentType)
	w.Raw(l.Payload)
	return codec.Seal(w.B)
}

func decodeLetter(v []byte, seq uint64) (Letter, error) {
	body, err := codec.Open(v)
	if err != nil {
		return Letter{}, err
	}
	r := codec.NewReader(body)
	l := Letter{Seq: seq, User: r.U32(), TimeMillis: r.U64(), ContentType: r.Str()}
	l.Payload = r.Rest()
	return l, r.Finish("letter")
}

// AppendLetter stores a letter to account after its newest one and
// returns its seq. The account's last seq is kept under seq 0, so that
// seqs are never reused, even once retention removed every letter.
func (b *Batch) AppendLetter(account uint32, l Letter) (uint64, error) {
	counter := inboxKey(account, 0)
	var last uint64
	if _, err := get(b.batch, counter, func(v []byte) (err error) {
		last, err = decodeAt(counter, v, codec.DecodeU64)
		return err
	}); err != nil {
		return 0, err
	}
	l.Seq = last + 1
	if err := b.set(counter, codec.EncodeU64(l.Seq)); err != nil {
		return 0, err
	}
	return l.Seq, b.set(inboxKey(account, l.Seq), encodeLetter(l))
}

// Inbox returns up to limit of account's committed letters after seq
// after, in seq order.
func (s *Store) Inbox(account uint32, after uint64, limit int) ([]Letter, error) {
	prefix := u32Key(prefixInbox, account)
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: inboxKey(account, after+1), UpperBound: prefixEnd(prefix)})
	if err != nil {
		return nil, err
	}
	defer it.Close()
	var out []Letter
	for valid := it.First(); valid && len(out) < limit; valid = it.Next() {
		key := it.Key()
		if len(key) != 13 {
			return nil, fmt.Errorf("%w: %s: key of %d bytes", ErrCorrupt, keyString(key), len(key))
		}
		v, err := it.ValueAndErr()
		if err != nil {
			return nil, err
		}
		l, err := decodeLetter(v, binary.BigEndian.Uint64(key[5:]))
		if err != nil {
			return nil, corrupt(key, err)
		}
		out = append(out, l)
	}
	return out, it.Error()
}

// Window is a user's service window with an account: when the user last
// wrote, and how many replies the account has sent since.
type Window struct {
	LastMillis uint64
	Replies    uint32
	// Letters counts the user's letters to the account on Day (UTC days
	// since the epoch), for the daily limit.
	Day     uint32
	Letters uint32
}

// Window returns the user's window with account (the zero Window if the
// user never wrote, or not within retention).
func (x reads) Window(account, user uint32) (Window, error) {
	key := windowKey(account, user)
	var w Window
	_, err := get(x.r, key, func(v []byte) (err error) {
		w, err = decodeWindow(v)
		return corrupt(key, err)
	})
	return w, err
}

func decodeWindow(v []byte) (Window, error) {
	body, err := codec.Open(v)
	if err != nil {
		return Window{}, err
	}
	r := codec.NewReader(body)
	w := Window{LastMillis: r.U64(), Replies: r.U32(), Day: r.U32(), Letters: r.U32()}
	return w, r.Finish("window")
}

// PutWindow stores the user's window with account.
func (b *Batch) PutWindow(account, user uint32, w Window) error {
	var c codec.Writer
	c.U64(w.LastMillis)
	c.U32(w.Replies)
	c.U32(w.Day)
	c.U32(w.Letters)
	return b.set(windowKey(account, user), codec.Seal(c.B))
}

// RetainLetters removes every letter written before cutoffMillis, and
// every window whose user last wrote before it, in one durable batch, and
// returns how many letters it removed. An account's letters are removed
// as a prefix of its seqs; a seq is never reused.
func (s *Store) RetainLetters(cutoffMillis uint64) (int, error) {
	b := s.db.NewBatch()
	defer b.Close()
	removed := 0
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: []byte{prefixInbox}, UpperBound: []byte{prefixInbox + 1}})
	if err != nil {
		return 0, err
	}
	for valid := it.First(); valid; {
		key := it.Key()
		if len(key) != 13 {
			it.Close()
			return 0, fmt.Errorf("%w: %s: key of %d bytes", ErrCorrupt, keyString(key), len(key))
		}
		account, seq := binary.BigEndian.Uint32(key[1:]), binary.BigEndian.Uint64(key[5:])
		if seq == 0 { // the account's counter
			valid = it.Next()
			continue
		}
		v, err := it.ValueAndErr()
		if err != nil {
			it.Close()
			return 0, err
		}
		l, err := decodeLetter(v, seq)
		if err != nil {
			it.Close()
			return 0, corrupt(key, err)
		}
		if l.TimeMillis >= cutoffMillis {
			// The rest of this account's letters are newer: skip to the
			// next account.
			valid = it.SeekGE(prefixEnd(u32Key(prefixInbox, account)))
			continue
		}
		if err := b.Delete(key, nil); err != nil {
			it.Close()
			return 0, err
		}
		removed++
		valid = it.Next()
	}
	if err := it.Close(); err != nil {
		return 0, err
	}
	wit, err := s.db.NewIter(&pebble.IterOptions{LowerBound: []byte{prefixWindow}, UpperBound: []byte{prefixWindow + 1}})
	if err != nil {
		return 0, err
	}
	for valid := wit.First(); valid; valid = wit.Next() {
		v, err := wit.ValueAndErr()
		if err != nil {
			wit.Close()
			return 0, err
		}
		w, err := decodeWindow(v)
		if err != nil {
			wit.Close()
			return 0, corrupt(wit.Key(), err)
		}
		if w.LastMillis < cutoffMillis {
			if err := b.Delete(wit.Key(), nil); err != nil {
				wit.Close()
				return 0, err
			}
		}
	}
	if err := wit.Close(); err != nil {
		return 0, err
	}
	if b.Empty() {
		return 0, nil
	}
	return removed, s.commit(b, true, false)
}
