package client

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
)

// Broadcast is one broadcast as the admin API reports it
// (PROTOCOL.md, "Admin API"): its delivery, its audience filtered by
// reason, and its reach.
type Broadcast struct {
	ID             uint64 `json:"id"`
	PublishedAt    string `json:"published_at"` // RFC 3339, UTC
	Preview        bool   `json:"preview"`
	Retracted      bool   `json:"retracted"`
	State          string `json:"state"` // "delivering", "done" or "interrupted"
	Audience       uint32 `json:"audience"`
	Recipients     uint32 `json:"recipients"`
	SentLive       uint32 `json:"sent_live"`
	PendingOffline uint32 `json:"pending_offline"`
	Errors         uint32 `json:"errors"`
	Filtered       struct {
		NotSelected uint32 `json:"not_selected"`
		Blocked     uint32 `json:"blocked"`
		Capped      uint32 `json:"capped"`
	} `json:"filtered"`
	Delivered uint32 `json:"delivered"`
	CaughtUp  uint32 `json:"caught_up"`
	Opened    uint32 `json:"opened"`
	Curve     []struct {
		Seconds   uint32 `json:"seconds"`
		Delivered uint32 `json:"delivered"`
	} `json:"curve"`
	Analytics bool `json:"analytics"`
}

// Broadcasts reads a page of the account's retained broadcasts, newest
// first: up to limit (1 to 1000; 0 for the server's 50) below before (0:
// from the newest). next is the before of the following page, 0 at the
// end.
func (a *Admin) Broadcasts(ctx context.Context, account uint32, before uint64, limit int) (page []Broadcast, next uint64, err error) {
	q := url.Values{}
	if before != 0 {
		q.Set("before", fmt.Sprint(before))
	}
	if limit != 0 {
		q.Set("limit", fmt.Sprint(limit))
	}
	var out struct {
		Broadcasts []Broadcast `json:"broadcasts"`
		Next       uint64      `json:"next_before"`
	}
	err = a.do(ctx, http.MethodGet, fmt.Sprintf("/v1/accounts/%d/broadcasts?%s", account, q.Encode()), "", nil, &out)
	return out.Broadcasts, out.Next, err
}

// Broadcast reads one of the account's retained broadcasts.
func (a *Admin) Broadcast(ctx context.Context, account uint32, id uint64) (Broadcast, error) {
	var out Broadcast
	err := a.do(ctx, http.MethodGet, fmt.Sprintf("/v1/accounts/%d/broadcasts/%d", account, id), "", nil, &out)
	return out, err
}

// BroadcastDay is one UTC day of an account's (or the server's)
// broadcasts: those published that day and what their recipients did
// since.
type BroadcastDay struct {
	Day          string  `json:"day"`
	Broadcasts   uint64  `json:"broadcasts"`
	Recipients   uint64  `json:"recipients"`
	Delivered    uint64  `json:"delivered"`
	Opened       uint64  `json:"opened"`
	DeliveryRate float64 `json:"delivery_rate"`
}

// BroadcastStats reads an account's broadcast figures for the UTC days
// from to to (YYYY-MM-DD; "" for the server's defaults: the 30 days to
// today); only days with a broadcast are listed. Account 0 reads the
// server's (operator token only).
func (a *Admin) BroadcastStats(ctx context.Context, account uint32, from, to string) ([]BroadcastDay, error) {
	q := url.Values{}
	if from != "" {
		q.Set("from", from)
	}
	if to != "" {
		q.Set("to", to)
	}
	path := fmt.Sprintf("/v1/accounts/%d/stats/broadcasts?%s", account, q.Encode())
	if account == 0 {
		path = "/v1/stats/server?" + q.Encode()
	}
	var out struct {
		Days []BroadcastDay `json:"days"`
	}
	err := a.do(ctx, http.MethodGet, path, "", nil, &out)
	return out.Days, err
}

// OnlineFollowers reads how many of the account's followers are connected
// to the server now (on a cluster: to the edge asked).
func (a *Admin) OnlineFollowers(ctx context.Context, account uint32) (int, error) {
	var out struct {
		N int `json:"online_followers"`
	}
	err := a.do(ctx, http.MethodGet, fmt.Sprintf("/v1/accounts/%d/online", account), "", nil, &out)
	return out.N, err
}

// ScheduledBroadcast is one of an account's scheduled broadcasts as the
// admin API lists it.
type ScheduledBroadcast struct {
	ClientMsgID string `json:"client_msg_id"`
	SendAt      string `json:"send_at"` // RFC 3339, UTC
	State       string `json:"state"`   // "pending", "sent" or "failed"
	MessageID   uint64 `json:"message_id,omitempty"`
	Error       string `json:"error,omitempty"`
}

// Schedules lists the account's scheduled broadcasts: pending, and sent
// or failed within retention, in client_msg_id order.
func (a *Admin) Schedules(ctx context.Context, account uint32) ([]ScheduledBroadcast, error) {
	var out struct {
		Schedules []ScheduledBroadcast `json:"schedules"`
	}
	err := a.do(ctx, http.MethodGet, fmt.Sprintf("/v1/accounts/%d/schedules", account), "", nil, &out)
	return out.Schedules, err
}

// Confirmation is a broadcast to all followers waiting for an operator.
type Confirmation struct {
	ClientMsgID string `json:"client_msg_id"`
	Since       string `json:"since"`   // RFC 3339, UTC
	Expires     string `json:"expires"` // when it fails unconfirmed
}

// Confirmations lists the account's broadcasts to all followers that wait
// for an operator's confirmation (its tier's confirm_all_seconds).
func (a *Admin) Confirmations(ctx context.Context, account uint32) ([]Confirmation, error) {
	var out struct {
		Confirmations []Confirmation `json:"confirmations"`
	}
	err := a.do(ctx, http.MethodGet, fmt.Sprintf("/v1/accounts/%d/confirmations", account), "", nil, &out)
	return out.Confirmations, err
}

// Confirm sends (accept) or rejects a waiting broadcast to all followers;
// its publish answers then.
func (a *Admin) Confirm(ctx context.Context, account uint32, clientMsgID string, accept bool) error {
	body, _ := json.Marshal(map[string]bool{"confirm": accept})
	var out struct {
		Confirmed bool `json:"confirmed"`
	}
	return a.do(ctx, http.MethodPost, fmt.Sprintf("/v1/accounts/%d/confirmations/%s", account, url.PathEscape(clientMsgID)), "application/json", bytes.NewReader(body), &out)
}
