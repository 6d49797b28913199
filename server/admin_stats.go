package server

import (
	"net/http"
	"time"

	"herald/engine"
)

// The admin API's analytics: an account's figures by UTC day.

// dayLayout is how days are written in the API: 2026-12-02 (UTC).
const dayLayout = "2006-01-02"

func dayNumber(t time.Time) uint32 { return uint32(t.UTC().Unix() / 86400) }

func dayString(day uint32) string {
	return time.Unix(int64(day)*86400, 0).UTC().Format(dayLayout)
}

// dayRange reads ?from=YYYY-MM-DD&to=YYYY-MM-DD (default: the 30 days to
// today; at most 366), answering 400 itself when they are wrong.
func dayRange(w http.ResponseWriter, r *http.Request) (from, to uint32, ok bool) {
	to = dayNumber(time.Now())
	q := r.URL.Query()
	for _, p := range []struct {
		name string
		day  *uint32
	}{{"to", &to}, {"from", &from}} {
		if v := q.Get(p.name); v != "" {
			t, err := time.Parse(dayLayout, v)
			if err != nil {
				writeError(w, http.StatusBadRequest, "%s=%q: a day as YYYY-MM-DD (UTC)", p.name, v)
				return 0, 0, false
			}
			*p.day = dayNumber(t)
		}
	}
	if !q.Has("from") {
		from = to - min(to, 29)
	}
	if from > to || to-from >= 366 {
		writeError(w, http.StatusBadRequest, "from %s to %s: at most 366 days, from before to", dayString(from), dayString(to))
		return 0, 0, false
	}
	return from, to, true
}

// followerStats answers the account's follower figures for each UTC day
// of ?from=YYYY-MM-DD&to=YYYY-MM-DD (default: the 30 days to today; at
// most 366): new follows, unfollows, net, the follower count at the day's
// end, and the new follows by source.
func (s *Server) followerStats(w http.ResponseWriter, r *http.Request) {
	a, ok := s.existingAccount(w, r)
	if !ok {
		return
	}
	from, to, ok := dayRange(w, r)
	if !ok {
		return
	}
	days, err := engine.Call(r.Context(), s.engine.FollowerStats, engine.FollowerStatsRequest{Account: a.ID, From: from, To: to})
	if err != nil {
		writeError(w, engineStatus(err), "%v", err)
		return
	}
	type dayJSON struct {
		Day        string            `json:"day"`
		New        uint64            `json:"new"`
		Unfollows  uint64            `json:"unfollows"`
		Net        int64             `json:"net"`
		Cumulative uint64            `json:"cumulative"`
		BySource   map[string]uint64 `json:"by_source"`
	}
	out := make([]dayJSON, len(days))
	for i, d := range days {
		by := d.BySource
		if by == nil {
			by = map[string]uint64{}
		}
		out[i] = dayJSON{Day: dayString(d.Day), New: d.Follows, Unfollows: d.Unfollows, Net: int64(d.Follows) - int64(d.Unfollows), Cumulative: d.Cumulative, BySource: by}
	}
	writeJSON(w, http.StatusOK, map[string]any{"account": a.ID, "from": dayString(from), "to": dayString(to), "days": out})
}
