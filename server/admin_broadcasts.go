package server

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"time"

	"herald/engine"
	"herald/wire"
)

// The admin API's broadcast analytics: an account's broadcasts with their
// reach, one broadcast, and the account's (or the server's) figures by
// UTC day.

// broadcastJSON is one broadcast's report and reach.
type broadcastJSON struct {
	ID          uint64 `json:"id"`
	PublishedAt string `json:"published_at"`
	Preview     bool   `json:"preview"`
	Retracted   bool   `json:"retracted"`
	// Delivery as in JOB_DONE; State is "delivering", "done" or
	// "interrupted".
	State          string `json:"state"`
	Audience       uint32 `json:"audience"`
	Recipients     uint32 `json:"recipients"`
	SentLive       uint32 `json:"sent_live"`
	PendingOffline uint32 `json:"pending_offline"`
	Errors         uint32 `json:"errors"`
	// Filtered by reason: outside the list or tags, blocked, at the cap.
	Filtered  filteredJSON `json:"filtered"`
	Delivered uint32       `json:"delivered"`
	CaughtUp  uint32       `json:"caught_up"`
	Opened    uint32       `json:"opened"`
	// Curve: delivered within each point's seconds after the publish.
	Curve []curvePoint `json:"curve"`
	// Analytics is false for a broadcast published with analytics off:
	// the reach figures are then zero.
	Analytics bool `json:"analytics"`
}

type filteredJSON struct {
	NotSelected uint32 `json:"not_selected"`
	Blocked     uint32 `json:"blocked"`
	Capped      uint32 `json:"capped"`
}

type curvePoint struct {
	Seconds   uint32 `json:"seconds"`
	Delivered uint32 `json:"delivered"`
}

func broadcastOf(r engine.JobReport) broadcastJSON {
	x := r.Reach
	b := broadcastJSON{
		ID: r.MessageID, PublishedAt: time.UnixMilli(int64(x.PublishedMillis)).UTC().Format(time.RFC3339Nano),
		Preview: x.Preview, Retracted: x.Retracted, State: "done",
		Audience: r.Total + x.NotSelected + x.Blocked, Recipients: r.Total - r.Filtered,
		SentLive: r.SentLive, PendingOffline: r.PendingOffline, Errors: r.Errors,
		Filtered:  filteredJSON{NotSelected: x.NotSelected, Blocked: x.Blocked, Capped: r.Filtered},
		Delivered: x.Delivered, CaughtUp: x.CaughtUp, Opened: x.Opened, Analytics: x.Kept,
		Curve: make([]curvePoint, wire.CurvePoints),
	}
	switch {
	case r.InProgress:
		b.State = "delivering"
	case r.Interrupted:
		b.State = "interrupted"
	}
	for i, s := range wire.CurveSeconds {
		b.Curve[i] = curvePoint{Seconds: s, Delivered: x.Curve[i]}
	}
	return b
}

// listBroadcasts answers a page of the account's retained broadcasts,
// newest first: ?limit (1 to 1000, default 50) below ?before (an id; the
// previous page's next_before).
func (s *Server) listBroadcasts(w http.ResponseWriter, r *http.Request) {
	a, ok := s.existingAccount(w, r)
	if !ok {
		return
	}
	q := r.URL.Query()
	limit, before := 50, uint64(0)
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			writeError(w, http.StatusBadRequest, "limit=%q: 1 to 1000", v)
			return
		}
		limit = n
	}
	if v := q.Get("before"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			writeError(w, http.StatusBadRequest, "before=%q: a message id", v)
			return
		}
		before = n
	}
	reports, err := engine.Call(r.Context(), s.engine.Broadcasts, engine.BroadcastsRequest{Account: a.ID, Before: before, Limit: limit})
	if err != nil {
		writeError(w, engineStatus(err), "%v", err)
		return
	}
	out := make([]broadcastJSON, len(reports))
	for i, rep := range reports {
		out[i] = broadcastOf(rep)
	}
	var next uint64
	if len(out) == limit {
		next = out[len(out)-1].ID
	}
	writeJSON(w, http.StatusOK, map[string]any{"account": a.ID, "broadcasts": out, "next_before": next})
}

// getBroadcast answers one of the account's retained broadcasts.
func (s *Server) getBroadcast(w http.ResponseWriter, r *http.Request) {
	a, ok := s.existingAccount(w, r)
	if !ok {
		return
	}
	id, err := strconv.ParseUint(r.PathValue("msg"), 10, 64)
	if err != nil {
		writeError(w, http.StatusBadRequest, "message id %q: a number", r.PathValue("msg"))
		return
	}
	rep, err := engine.Call(r.Context(), s.engine.Status, engine.MessageRef{Account: a.ID, MessageID: id})
	if errors.Is(err, engine.ErrUnknownMessage) || errors.Is(err, engine.ErrForbidden) {
		writeError(w, http.StatusNotFound, "account %d has no retained broadcast %d", a.ID, id)
		return
	}
	if err != nil {
		writeError(w, engineStatus(err), "%v", err)
		return
	}
	writeJSON(w, http.StatusOK, broadcastOf(rep))
}

// broadcastDayJSON is one day of broadcast figures.
type broadcastDayJSON struct {
	Day        string `json:"day"`
	Broadcasts uint64 `json:"broadcasts"`
	Recipients uint64 `json:"recipients"`
	Delivered  uint64 `json:"delivered"`
	Opened     uint64 `json:"opened"`
	// DeliveryRate is Delivered / Recipients (0 without recipients).
	DeliveryRate float64 `json:"delivery_rate"`
}

func broadcastDays(days []engine.BroadcastDay) []broadcastDayJSON {
	out := make([]broadcastDayJSON, len(days))
	for i, d := range days {
		out[i] = broadcastDayJSON{Day: dayString(d.Day), Broadcasts: d.Broadcasts, Recipients: d.Recipients, Delivered: d.Delivered, Opened: d.Opened}
		if d.Recipients > 0 {
			out[i].DeliveryRate = float64(d.Delivered) / float64(d.Recipients)
		}
	}
	return out
}

// broadcastStats answers the account's broadcast figures for each UTC day
// of ?from&to that had a broadcast (previews not counted).
func (s *Server) broadcastStats(w http.ResponseWriter, r *http.Request) {
	a, ok := s.existingAccount(w, r)
	if !ok {
		return
	}
	from, to, ok := dayRange(w, r)
	if !ok {
		return
	}
	days, err := engine.Call(r.Context(), s.engine.BroadcastStats, engine.BroadcastStatsRequest{Account: a.ID, From: from, To: to})
	if err != nil {
		writeError(w, engineStatus(err), "%v", err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"account": a.ID, "from": dayString(from), "to": dayString(to), "days": broadcastDays(days)})
}

// serverStats answers the server's broadcast figures by day (every
// account's, stored) and this process's counters since it started.
func (s *Server) serverStats(w http.ResponseWriter, r *http.Request) {
	from, to, ok := dayRange(w, r)
	if !ok {
		return
	}
	days, err := engine.Call(r.Context(), s.engine.BroadcastStats, engine.BroadcastStatsRequest{From: from, To: to})
	if err != nil {
		writeError(w, engineStatus(err), "%v", err)
		return
	}
	errorsByCode := map[string]uint64{}
	for code, n := range s.metrics.errors {
		if v := n.Load(); v > 0 {
			errorsByCode[code.String()] = v
		}
	}
	m := &s.metrics
	writeJSON(w, http.StatusOK, map[string]any{
		"from": dayString(from), "to": dayString(to), "days": broadcastDays(days),
		"process": map[string]any{
			"started_at":     s.started.UTC().Format(time.RFC3339),
			"publishes":      m.publishes.Load(),
			"deliveries":     s.engine.Health().Delivered,
			"caught_up":      m.caughtUp.Load(),
			"slow_consumers": m.slowConsumers.Load(),
			"errors_by_code": errorsByCode,
		},
	})
}

// onlineUsers returns the users with a live connection to this server,
// each once, read on each event loop.
func (s *Server) onlineUsers(ctx context.Context) ([]uint32, error) {
	s.handler.mu.Lock()
	loops := make([]*loopState, 0, len(s.handler.mu.loops))
	for _, l := range s.handler.mu.loops {
		loops = append(loops, l)
	}
	s.handler.mu.Unlock()
	found := make(chan []uint32, len(loops))
	for _, l := range loops {
		if err := l.Execute(func() {
			var users []uint32
			for cn := range l.conns {
				if cn.role == roleClient && cn.online {
					users = append(users, cn.user)
				}
			}
			found <- users
		}); err != nil {
			return nil, err
		}
	}
	seen := make(map[uint32]bool)
	var users []uint32
	for range loops {
		select {
		case part := <-found:
			for _, u := range part {
				if !seen[u] {
					seen[u] = true
					users = append(users, u)
				}
			}
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return users, nil
}

// online answers how many of the account's followers are connected to
// this server now (on a cluster: to this edge).
func (s *Server) online(w http.ResponseWriter, r *http.Request) {
	a, ok := s.existingAccount(w, r)
	if !ok {
		return
	}
	users, err := s.onlineUsers(r.Context())
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, "%v", err)
		return
	}
	n := 0
	if len(users) > 0 {
		if n, err = engine.Call(r.Context(), s.engine.Following, engine.Membership{Account: a.ID, Users: users}); err != nil {
			writeError(w, engineStatus(err), "%v", err)
			return
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"account": a.ID, "online_followers": n, "online_users": len(users)})
}

// listSchedules answers the account's scheduled broadcasts: pending, and
// sent or failed within retention.
func (s *Server) listSchedules(w http.ResponseWriter, r *http.Request) {
	a, ok := s.existingAccount(w, r)
	if !ok {
		return
	}
	list, err := engine.Call(r.Context(), s.engine.Schedules, a.ID)
	if err != nil {
		writeError(w, engineStatus(err), "%v", err)
		return
	}
	type schedule struct {
		ClientMsgID string `json:"client_msg_id"`
		SendAt      string `json:"send_at"`
		State       string `json:"state"`
		MessageID   uint64 `json:"message_id,omitempty"`
		Error       string `json:"error,omitempty"`
	}
	out := make([]schedule, len(list))
	for i, sc := range list {
		out[i] = schedule{ClientMsgID: sc.ClientMsgID, SendAt: sc.SendAt.UTC().Format(time.RFC3339Nano), State: sc.State, MessageID: sc.MessageID, Error: sc.Error}
	}
	writeJSON(w, http.StatusOK, map[string]any{"account": a.ID, "schedules": out})
}

// listConfirmations answers the account's broadcasts to all followers
// waiting for an operator's confirmation (operators only).
func (s *Server) listConfirmations(w http.ResponseWriter, r *http.Request) {
	a, ok := s.existingAccount(w, r)
	if !ok {
		return
	}
	list, err := engine.Call(r.Context(), s.engine.Confirmations, a.ID)
	if err != nil {
		writeError(w, engineStatus(err), "%v", err)
		return
	}
	type waiting struct {
		ClientMsgID string `json:"client_msg_id"`
		Since       string `json:"since"`
		Expires     string `json:"expires"`
	}
	out := make([]waiting, len(list))
	for i, c := range list {
		out[i] = waiting{ClientMsgID: c.ClientMsgID, Since: c.Since.UTC().Format(time.RFC3339Nano), Expires: c.Expires.UTC().Format(time.RFC3339Nano)}
	}
	writeJSON(w, http.StatusOK, map[string]any{"account": a.ID, "confirmations": out})
}

// confirm sends ({"confirm": true}) or rejects ({"confirm": false}) a
// broadcast to all followers waiting for confirmation (operators only).
func (s *Server) confirm(w http.ResponseWriter, r *http.Request) {
	a, ok := s.existingAccount(w, r)
	if !ok {
		return
	}
	var req struct {
		Confirm *bool `json:"confirm"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4096)).Decode(&req); err != nil || req.Confirm == nil {
		writeError(w, http.StatusBadRequest, "body must be JSON {\"confirm\": true} or {\"confirm\": false}")
		return
	}
	q := engine.ConfirmRequest{Account: a.ID, ClientMsgID: r.PathValue("msg"), Accept: *req.Confirm}
	if _, err := engine.Call(r.Context(), s.engine.Confirm, q); err != nil {
		writeError(w, engineStatus(err), "%v", err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"account": a.ID, "client_msg_id": q.ClientMsgID, "confirmed": q.Accept})
}
