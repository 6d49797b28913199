package storage

import (
	"fmt"

	"github.com/cockroachdb/pebble/v2"
)

// Tier is an account's quota class (DESIGN.md, Quotas).
type Tier uint8

// Tiers. Their quotas are enforced by the fan-out engine.
const (
	TierSubscription Tier = 1
	TierVerified     Tier = 2
	TierService      Tier = 3
)

var tierNames = map[Tier]string{TierSubscription: "subscription", TierVerified: "verified", TierService: "service"}

func (t Tier) String() string {
	if name, ok := tierNames[t]; ok {
		return name
	}
	return fmt.Sprintf("tier-%d", uint8(t))
}

// ParseTier parses a tier name.
func ParseTier(name string) (Tier, error) {
	for t, n := range tierNames {
		if n == name {
			return t, nil
		}
	}
	return 0, fmt.Errorf("unknown tier %q (want subscription, verified or service)", name)
}

// Account is a publishing account. SecretHash is the SHA-256 of its
// publisher secret; the secret itself is never stored.
type Account struct {
	ID            uint32
	Name          string
	Tier          Tier
	SecretHash    [32]byte
	CreatedMillis uint64
}

func encodeAccount(a Account) []byte {
	var w recordWriter
	w.u8(uint8(a.Tier))
	w.raw(a.SecretHash[:])
	w.u64(a.CreatedMillis)
	w.str(a.Name)
	return seal(w.b)
}

func decodeAccount(key, v []byte, id uint32) (Account, error) {
	body, err := open(key, v)
	if err != nil {
		return Account{}, err
	}
	r := recordReader{b: body}
	a := Account{ID: id, Tier: Tier(r.u8())}
	copy(a.SecretHash[:], r.take(32))
	a.CreatedMillis = r.u64()
	a.Name = r.str()
	if err := r.finish(key, "account"); err != nil {
		return Account{}, err
	}
	if _, ok := tierNames[a.Tier]; !ok {
		return Account{}, fmt.Errorf("%w: %s: unknown tier %d", ErrCorrupt, keyString(key), a.Tier)
	}
	return a, nil
}

func readAccount(r pebble.Reader, id uint32) (Account, error) {
	key := accountKey(id)
	var a Account
	found, err := get(r, key, func(v []byte) (err error) {
		a, err = decodeAccount(key, v, id)
		return err
	})
	if err != nil {
		return Account{}, err
	}
	if !found {
		return Account{}, fmt.Errorf("%w: account %d", ErrNotFound, id)
	}
	return a, nil
}

// Account returns the committed account id, or an error wrapping ErrNotFound.
func (s *Store) Account(id uint32) (Account, error) { return readAccount(s.db, id) }

// Account returns the account as this batch sees it.
func (b *Batch) Account(id uint32) (Account, error) { return readAccount(b.batch, id) }

// CreateAccount allocates the next account id and stores a.
func (b *Batch) CreateAccount(a Account) (Account, error) {
	if _, ok := tierNames[a.Tier]; !ok {
		return Account{}, fmt.Errorf("storage: unknown tier %d", a.Tier)
	}
	if len(a.Name) > 255 {
		return Account{}, fmt.Errorf("storage: account name of %d bytes (at most 255)", len(a.Name))
	}
	b.lastAccount++
	a.ID = b.lastAccount
	return a, b.set(accountKey(a.ID), encodeAccount(a))
}
