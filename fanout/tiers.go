package fanout

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"time"

	"herald/storage"
)

// TierPolicy is the quota of one account tier (DESIGN.md, Quotas). Zero
// fields are no limit.
type TierPolicy struct {
	// Name is how operators name the tier (account create --tier).
	Name string `json:"name"`
	// ID is what account records store: 1 to 3 are the built-in tiers,
	// custom tiers take 4 to 255. It never changes once accounts use it.
	ID storage.Tier `json:"id"`
	// Daily is the most broadcasts per UTC day.
	Daily int `json:"daily"`
	// PerFollowerMonthly is the most broadcasts each follower receives
	// from the account per calendar month (UTC); followers at the cap are
	// left out of a broadcast and counted as filtered.
	PerFollowerMonthly int `json:"per_follower_monthly"`
	// NotificationsDaily is the most notifications (counted per
	// recipient) per UTC day.
	NotificationsDaily int `json:"notifications_daily"`
	// ConfirmAllSeconds, if not zero, makes a broadcast to all followers
	// wait for an operator's confirmation (Engine.Confirm) that long at
	// most; unconfirmed, it fails with ErrNotConfirmed.
	ConfirmAllSeconds int `json:"confirm_all_seconds"`
}

// MaxPerFollowerMonthly bounds PerFollowerMonthly: counting a broadcast
// keeps that many levels per follower chunk.
const MaxPerFollowerMonthly = 31

// DefaultTiers are subscription (1 broadcast a day), verified (2 a day)
// and service (each follower receives at most 4 a month), sending at most
// 10,000, 100,000 and 1,000,000 notifications a day.
func DefaultTiers() map[storage.Tier]TierPolicy {
	return map[storage.Tier]TierPolicy{
		storage.TierSubscription: {Name: "subscription", ID: storage.TierSubscription, Daily: 1, NotificationsDaily: 10_000},
		storage.TierVerified:     {Name: "verified", ID: storage.TierVerified, Daily: 2, NotificationsDaily: 100_000},
		storage.TierService:      {Name: "service", ID: storage.TierService, PerFollowerMonthly: 4, NotificationsDaily: 1_000_000},
	}
}

// ParseTiers reads a tier file, {"tiers": [TierPolicy...]}, over the
// defaults: an entry naming a built-in tier (its id may be left out)
// replaces its numbers, any other adds a custom tier with its own id.
func ParseTiers(r io.Reader) (map[storage.Tier]TierPolicy, error) {
	var file struct {
		Tiers []TierPolicy `json:"tiers"`
	}
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&file); err != nil {
		return nil, fmt.Errorf("tier file: %w", err)
	}
	tiers := DefaultTiers()
	builtin := map[string]storage.Tier{}
	for id, p := range tiers {
		builtin[p.Name] = id
	}
	seen := map[string]bool{}
	for _, p := range file.Tiers {
		if id, ok := builtin[p.Name]; ok && (p.ID == 0 || p.ID == id) {
			p.ID = id
		} else if ok || p.ID <= storage.TierService {
			return nil, fmt.Errorf("tier file: tier %q needs an id from 4 to 255 (1 to 3 are subscription, verified and service)", p.Name)
		}
		switch {
		case p.Name == "" || len(p.Name) > 64:
			return nil, fmt.Errorf("tier file: a tier name is 1 to 64 bytes")
		case seen[p.Name]:
			return nil, fmt.Errorf("tier file: tier %q listed twice", p.Name)
		case p.Daily < 0 || p.NotificationsDaily < 0 || p.ConfirmAllSeconds < 0 || p.PerFollowerMonthly < 0 || p.PerFollowerMonthly > MaxPerFollowerMonthly:
			return nil, fmt.Errorf("tier file: tier %q: daily, notifications_daily and confirm_all_seconds must be 0 or more and per_follower_monthly 0 to %d", p.Name, MaxPerFollowerMonthly)
		}
		if other, ok := tiers[p.ID]; ok && other.Name != p.Name && seen[other.Name] {
			return nil, fmt.Errorf("tier file: tiers %q and %q share id %d", other.Name, p.Name, p.ID)
		}
		seen[p.Name] = true
		tiers[p.ID] = p
	}
	return tiers, nil
}

// LoadTiers is ParseTiers on a file.
func LoadTiers(path string) (map[storage.Tier]TierPolicy, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return ParseTiers(f)
}

// TierByName returns the configured tier of that name.
func (e *Engine) TierByName(name string) (storage.Tier, error) {
	for id, p := range e.cfg.Tiers {
		if p.Name == name {
			return id, nil
		}
	}
	return 0, fmt.Errorf("%w: unknown tier %q", ErrBadRequest, name)
}

// TierName names a tier as configured ("tier-N" if it is not).
func (e *Engine) TierName(t storage.Tier) string {
	if p, ok := e.cfg.Tiers[t]; ok {
		return p.Name
	}
	return t.String()
}

// policy returns the account's tier policy; an account whose tier the
// configuration no longer has may not publish.
func (e *Engine) policy(a storage.Account) (TierPolicy, error) {
	p, ok := e.cfg.Tiers[a.Tier]
	if !ok {
		return p, fmt.Errorf("%w: account %d has tier %d, which this server's configuration does not define", ErrForbidden, a.ID, a.Tier)
	}
	return p, nil
}

const dayMillis = uint64(24 * time.Hour / time.Millisecond)

// dayOf is the UTC day number of a Unix millisecond time.
func dayOf(ms uint64) uint32 { return uint32(ms / dayMillis) }

// monthOf is the number of UTC calendar months since January 1970.
func monthOf(ms uint64) uint32 {
	t := time.UnixMilli(int64(ms)).UTC()
	return uint32((t.Year()-1970)*12 + int(t.Month()) - 1)
}
