package fanout

import (
	"errors"
	"fmt"
	"time"

	"herald/engine"
	"herald/storage"
	"herald/wire"
)

// Account answers one account with its follower count, on a reader.
func (e *Engine) Account(id uint32, done func(engine.Account, error)) {
	read(e, done, func() (engine.Account, error) {
		a, err := e.store.Account(id)
		if errors.Is(err, storage.ErrNotFound) {
			return engine.Account{}, fmt.Errorf("%w: account %d does not exist", ErrUnknownAccount, id)
		}
		if err != nil {
			return engine.Account{}, err
		}
		out := e.account(a)
		out.Followers, err = e.store.FollowerCount(id)
		return out, err
	})
}

// Accounts answers a page of accounts in id order, on a reader.
func (e *Engine) Accounts(req engine.PageRequest, done func([]engine.Account, error)) {
	read(e, done, func() ([]engine.Account, error) {
		stored, err := e.store.Accounts(req.From, req.Limit)
		if err != nil {
			return nil, err
		}
		out := make([]engine.Account, len(stored))
		for i, a := range stored {
			out[i] = e.account(a)
			if out[i].Followers, err = e.store.FollowerCount(a.ID); err != nil {
				return nil, err
			}
		}
		return out, nil
	})
}

// Followers answers a page of an account's followers, on a reader.
func (e *Engine) Followers(req engine.FollowersRequest, done func(engine.FollowerPage, error)) {
	read(e, done, func() (engine.FollowerPage, error) {
		if err := e.knownAccount(req.Account); err != nil {
			return engine.FollowerPage{}, err
		}
		ids, err := e.store.FollowersPage(req.Account, req.From, req.Limit)
		if err != nil {
			return engine.FollowerPage{}, err
		}
		total, err := e.store.FollowerCount(req.Account)
		return engine.FollowerPage{IDs: ids, Total: total}, err
	})
}

// Health reports the store's state and the delivery counters from memory.
func (e *Engine) Health() engine.Health {
	free, reserve := e.store.DiskFree()
	last := e.store.LastMessageID()
	return engine.Health{
		Newest:         wire.CursorAt(last),
		Shards:         1,
		StorageError:   contract(e.store.Health()),
		DiskFree:       free,
		DiskReserve:    reserve,
		LastMessageID:  last,
		FirstRetained:  e.store.FirstRetained(),
		Delivered:      e.hub.Delivered(),
		DeliveredBytes: e.hub.DeliveredBytes(),
	}
}

// VerifyToken checks a client token against the accepted token keys.
func (e *Engine) VerifyToken(token string, now time.Time) (uint32, error) {
	return e.tokenKeys.verify(token, now)
}

// MintToken signs a client token with the newest token key.
func (e *Engine) MintToken(user uint32, expires time.Time) (string, error) {
	return MintToken(e.tokenKeys.signing(), user, expires), nil
}

// RotateTokenKey starts signing with a new key, on a reader (it writes the
// key file); a negative overlap is Config.TokenOverlap.
func (e *Engine) RotateTokenKey(overlap time.Duration, done func(time.Time, error)) {
	if overlap < 0 {
		overlap = e.cfg.TokenOverlap
	}
	read(e, done, func() (time.Time, error) { return e.tokenKeys.rotate(overlap, time.Now()) })
}

// RegisterLoop adds an event loop to the online index.
func (e *Engine) RegisterLoop(loop engine.Loop) engine.LoopIndex { return e.hub.Register(loop) }

// Shard is the cluster shard the engine's store holds (0 for a single
// server).
func (e *Engine) Shard() uint8 { return e.store.Shard() }

// maxStatsDays bounds a FollowerStats request.
const maxStatsDays = 366

// FollowerStats answers the account's follower figures for days From to
// To, on a reader: every day of the range (days with nothing are zero),
// each with the follower count at its end.
func (e *Engine) FollowerStats(req engine.FollowerStatsRequest, done func([]engine.FollowerDay, error)) {
	if req.To < req.From || req.To-req.From >= maxStatsDays {
		done(nil, fmt.Errorf("%w: days %d to %d: at most %d days, in order", ErrBadRequest, req.From, req.To, maxStatsDays))
		return
	}
	read(e, done, func() ([]engine.FollowerDay, error) {
		if err := e.knownAccount(req.Account); err != nil {
			return nil, err
		}
		count, rows, err := e.store.FollowStats(req.Account, req.From)
		if err != nil {
			return nil, err
		}
		return followerDays(req, count, rows), nil
	})
}

// followerDays lays rows (from req.From on, in day order) out as the days
// of req; count is the follower count now, so a day's cumulative count is
// it less the net change of every later day.
func followerDays(req engine.FollowerStatsRequest, count uint64, rows []storage.FollowDay) []engine.FollowerDay {
	days := make([]engine.FollowerDay, req.To-req.From+1)
	for i := range days {
		days[i].Day = req.From + uint32(i)
	}
	var later int64 // net change after the day being filled, walking back
	net := func(r storage.FollowDay) int64 { return int64(r.Follows) - int64(r.Unfollows) }
	for _, r := range rows {
		if r.Day > req.To {
			later += net(r)
			continue
		}
		d := &days[r.Day-req.From]
		d.Follows += r.Follows
		d.Unfollows += r.Unfollows
		if r.Follows > 0 {
			if d.BySource == nil {
				d.BySource = map[string]uint64{}
			}
			d.BySource[r.Source] += r.Follows
		}
	}
	for i := len(days) - 1; i >= 0; i-- {
		d := &days[i]
		d.Cumulative = uint64(max(int64(count)-later, 0))
		later += int64(d.Follows) - int64(d.Unfollows)
	}
	return days
}

// knownAccount fails with ErrUnknownAccount when the account does not
// exist (or with the store's error).
func (e *Engine) knownAccount(id uint32) error {
	_, err := e.store.Account(id)
	if errors.Is(err, storage.ErrNotFound) {
		return fmt.Errorf("%w: account %d does not exist", ErrUnknownAccount, id)
	}
	return err
}
