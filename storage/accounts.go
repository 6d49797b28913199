package storage

import (
	"encoding/binary"
	"fmt"

	"github.com/cockroachdb/pebble/v2"

	"herald/storage/internal/codec"
)

// Tier is an account's quota class (DESIGN.md, Quotas).
type Tier = codec.Tier

// Tiers. Their quotas are enforced by the fan-out engine.
const (
	TierSubscription = codec.TierSubscription
	TierVerified     = codec.TierVerified
	TierService      = codec.TierService
)

// ParseTier parses a tier name.
func ParseTier(name string) (Tier, error) { return codec.ParseTier(name) }

// Account is a publishing account; see codec.Account.
type Account = codec.Account

func readAccount(r pebble.Reader, id uint32) (Account, error) {
	key := accountKey(id)
	var a Account
	found, err := get(r, key, func(v []byte) (err error) {
		a, err = codec.DecodeAccount(v, id)
		return corrupt(key, err)
	})
	if err != nil {
		return Account{}, err
	}
	if !found {
		return Account{}, fmt.Errorf("%w: account %d", ErrNotFound, id)
	}
	return a, nil
}

// Accounts returns up to limit committed accounts with ids from from on,
// in id order.
func (s *Store) Accounts(from uint32, limit int) ([]Account, error) {
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: accountKey(from), UpperBound: []byte{prefixAccount + 1}})
	if err != nil {
		return nil, err
	}
	defer it.Close()
	var out []Account
	for valid := it.First(); valid && len(out) < limit; valid = it.Next() {
		key := it.Key()
		if len(key) != 5 {
			return nil, fmt.Errorf("%w: %s: key of %d bytes", ErrCorrupt, keyString(key), len(key))
		}
		value, err := it.ValueAndErr()
		if err != nil {
			return nil, err
		}
		a, err := codec.DecodeAccount(value, binary.BigEndian.Uint32(key[1:]))
		if err != nil {
			return nil, corrupt(key, err)
		}
		out = append(out, a)
	}
	return out, it.Error()
}

// CreateAccount allocates the next account id and stores a.
func (b *Batch) CreateAccount(a Account) (Account, error) {
	if !a.Tier.Valid() {
		return Account{}, fmt.Errorf("storage: unknown tier %d", a.Tier)
	}
	if len(a.Name) > 255 {
		return Account{}, fmt.Errorf("storage: account name of %d bytes (at most 255)", len(a.Name))
	}
	b.lastAccount++
	a.ID = b.lastAccount
	return a, b.set(accountKey(a.ID), codec.EncodeAccount(a))
}
