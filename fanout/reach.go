package fanout

import (
	"errors"
	"fmt"

	"github.com/RoaringBitmap/roaring/v2"

	"herald/engine"
)

// maxBroadcastsPage bounds a Broadcasts request.
const maxBroadcastsPage = 1000

// Broadcasts answers a page of the account's retained broadcasts, newest
// first, each with its report and reach, on a reader.
func (e *Engine) Broadcasts(req engine.BroadcastsRequest, done func([]JobReport, error)) {
	if req.Limit <= 0 || req.Limit > maxBroadcastsPage {
		done(nil, fmt.Errorf("%w: a page of %d broadcasts: 1 to %d", ErrBadRequest, req.Limit, maxBroadcastsPage))
		return
	}
	read(e, done, func() ([]JobReport, error) {
		if err := e.knownAccount(req.Account); err != nil {
			return nil, err
		}
		ids, err := e.store.AccountBroadcasts(req.Account, req.Before, req.Limit)
		if err != nil {
			return nil, err
		}
		out := make([]JobReport, 0, len(ids))
		for _, id := range ids {
			r, err := e.status(req.Account, id)
			if errors.Is(err, ErrUnknownMessage) {
				continue // removed by retention since the list was read
			}
			if err != nil {
				return nil, err
			}
			out = append(out, r)
		}
		return out, nil
	})
}

// Following answers how many of req.Users follow the account, on a
// reader.
func (e *Engine) Following(req engine.Membership, done func(int, error)) {
	read(e, done, func() (int, error) {
		if err := e.knownAccount(req.Account); err != nil {
			return 0, err
		}
		among, err := e.store.FollowersAmong(req.Account, roaring.BitmapOf(req.Users...))
		if err != nil {
			return 0, err
		}
		return int(among.GetCardinality()), nil
	})
}

// BroadcastStats answers the account's (account 0: the server's) broadcast
// figures for each day of the request that had one, on a reader.
func (e *Engine) BroadcastStats(req engine.BroadcastStatsRequest, done func([]engine.BroadcastDay, error)) {
	if req.To < req.From || req.To-req.From >= maxStatsDays {
		done(nil, fmt.Errorf("%w: days %d to %d: at most %d days, in order", ErrBadRequest, req.From, req.To, maxStatsDays))
		return
	}
	read(e, done, func() ([]engine.BroadcastDay, error) {
		if req.Account != 0 {
			if err := e.knownAccount(req.Account); err != nil {
				return nil, err
			}
		}
		rows, err := e.store.BroadcastDays(req.Account, req.From, req.To)
		if err != nil {
			return nil, err
		}
		days := make([]engine.BroadcastDay, len(rows))
		for i, r := range rows {
			days[i] = engine.BroadcastDay{Day: r.Day, Broadcasts: r.Broadcasts, Recipients: r.Recipients, Delivered: r.Delivered, Opened: r.Opened}
		}
		return days, nil
	})
}
