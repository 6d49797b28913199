package client

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/klauspost/compress/zstd"
)

// Admin calls the server's HTTP admin API with an operator token.
type Admin struct {
	// BaseURL is like "http://127.0.0.1:7402".
	BaseURL string
	Token   string
	HTTP    *http.Client // http.DefaultClient when nil
	// Compress sends follower imports zstd-compressed: far fewer bytes on a
	// slow link, but bytes read from the source then run ahead of what the
	// server has committed by what the network buffers hold.
	Compress bool
}

// AdminError is a non-2xx answer from the admin API.
type AdminError struct {
	Status  int
	Message string
	// Added is how many follows an import (or unfollows a removal)
	// committed before it failed.
	Added int
}

func (e *AdminError) Error() string {
	return fmt.Sprintf("herald admin: %d %s: %s", e.Status, http.StatusText(e.Status), e.Message)
}

// Account is an account as the admin API reports it.
type Account struct {
	ID        uint32 `json:"id"`
	Name      string `json:"name"`
	Tier      string `json:"tier"`
	Followers uint64 `json:"followers"`
	Secret    string `json:"secret,omitempty"`
}

// ImportResult reports a follower import (or removal: Removed).
type ImportResult struct {
	Added     int    `json:"added"`
	Removed   int    `json:"removed"`
	Followers uint64 `json:"followers"`
}

// CreateAccount creates an account; the returned Secret is shown only once.
func (a *Admin) CreateAccount(ctx context.Context, name, tier string) (Account, error) {
	body, _ := json.Marshal(map[string]string{"name": name, "tier": tier})
	var out Account
	err := a.do(ctx, http.MethodPost, "/v1/accounts", "application/json", strings.NewReader(string(body)), &out)
	return out, err
}

// Account looks an account up.
func (a *Admin) Account(ctx context.Context, id uint32) (Account, error) {
	var out Account
	err := a.do(ctx, http.MethodGet, fmt.Sprintf("/v1/accounts/%d", id), "", nil, &out)
	return out, err
}

// ImportFollowers streams user ids, one per line, as followers of account,
// zstd-compressed on the fly if Compress is set; their source in the
// account's figures is "import".
func (a *Admin) ImportFollowers(ctx context.Context, account uint32, ids io.Reader) (ImportResult, error) {
	return a.streamIDs(ctx, fmt.Sprintf("/v1/accounts/%d/followers", account), ids)
}

// ImportFollowersFrom is ImportFollowers with the follows' source (a short
// code: letters, digits, '-', '_', '.', ':'; at most 32 bytes).
func (a *Admin) ImportFollowersFrom(ctx context.Context, account uint32, source string, ids io.Reader) (ImportResult, error) {
	return a.streamIDs(ctx, fmt.Sprintf("/v1/accounts/%d/followers?source=%s", account, url.QueryEscape(source)), ids)
}

// FollowerDay is one UTC day of an account's follower figures.
type FollowerDay struct {
	Day        string            `json:"day"` // 2026-12-02
	New        uint64            `json:"new"`
	Unfollows  uint64            `json:"unfollows"`
	Net        int64             `json:"net"`
	Cumulative uint64            `json:"cumulative"` // followers at the day's end
	BySource   map[string]uint64 `json:"by_source"`  // new follows by source ("" for none)
}

// FollowerStats reads an account's follower figures for the UTC days from
// to to (YYYY-MM-DD; "" for the server's defaults: the 30 days to today).
func (a *Admin) FollowerStats(ctx context.Context, account uint32, from, to string) ([]FollowerDay, error) {
	q := url.Values{}
	if from != "" {
		q.Set("from", from)
	}
	if to != "" {
		q.Set("to", to)
	}
	var out struct {
		Days []FollowerDay `json:"days"`
	}
	err := a.do(ctx, http.MethodGet, fmt.Sprintf("/v1/accounts/%d/stats/followers?%s", account, q.Encode()), "", nil, &out)
	return out.Days, err
}

// streamIDs posts a body of user ids to path.
func (a *Admin) streamIDs(ctx context.Context, path string, ids io.Reader) (ImportResult, error) {
	var out ImportResult
	if !a.Compress {
		err := a.do(ctx, http.MethodPost, path, "text/plain", ids, &out)
		return out, err
	}
	pr, pw := io.Pipe()
	go func() {
		enc, err := zstd.NewWriter(pw, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderConcurrency(1))
		if err == nil {
			if _, err = io.Copy(enc, ids); err == nil {
				err = enc.Close()
			} else {
				enc.Close()
			}
		}
		pw.CloseWithError(err)
	}()
	defer pr.Close()
	err := a.doEncoded(ctx, http.MethodPost, path, "text/plain", "zstd", pr, &out)
	return out, err
}

// RemoveFollowers streams user ids, one per line, that stop following
// account (zstd-compressed if Compress is set); the result's Removed is how
// many did follow it.
func (a *Admin) RemoveFollowers(ctx context.Context, account uint32, ids io.Reader) (ImportResult, error) {
	return a.streamIDs(ctx, fmt.Sprintf("/v1/accounts/%d/followers/remove", account), ids)
}

// AccountPage is one page of ListAccounts; NextAfter is the id to list
// after for the next page, 0 when this is the last.
type AccountPage struct {
	Accounts  []Account `json:"accounts"`
	NextAfter uint32    `json:"next_after"`
}

// ListAccounts lists up to limit accounts with ids above after (0: from
// the first; limit 0: the server's default of 100).
func (a *Admin) ListAccounts(ctx context.Context, after uint32, limit int) (AccountPage, error) {
	var out AccountPage
	err := a.do(ctx, http.MethodGet, "/v1/accounts"+pageQuery(after, after > 0, limit), "", nil, &out)
	return out, err
}

// FollowerPage is one page of ListFollowers: Followers is the account's
// count, IDs the page; NextAfter the id to list after for the next page
// (set when there is one).
type FollowerPage struct {
	Account   uint32   `json:"account"`
	Followers uint64   `json:"followers"`
	IDs       []uint32 `json:"ids"`
	NextAfter *uint32  `json:"next_after"`
}

// ListFollowers lists up to limit followers of account in id order, above
// after when fromStart is false.
func (a *Admin) ListFollowers(ctx context.Context, account uint32, after uint32, fromStart bool, limit int) (FollowerPage, error) {
	var out FollowerPage
	err := a.do(ctx, http.MethodGet, fmt.Sprintf("/v1/accounts/%d/followers", account)+pageQuery(after, !fromStart, limit), "", nil, &out)
	return out, err
}

func pageQuery(after uint32, useAfter bool, limit int) string {
	q := url.Values{}
	if useAfter {
		q.Set("after", fmt.Sprint(after))
	}
	if limit > 0 {
		q.Set("limit", fmt.Sprint(limit))
	}
	if len(q) == 0 {
		return ""
	}
	return "?" + q.Encode()
}

// MintToken mints a client token for user, valid for ttl (24 h when zero).
func (a *Admin) MintToken(ctx context.Context, user uint32, ttl time.Duration) (string, error) {
	req := map[string]any{"user": user}
	if ttl > 0 {
		req["ttl"] = ttl.String()
	}
	body, _ := json.Marshal(req)
	var out struct {
		Token string `json:"token"`
	}
	err := a.do(ctx, http.MethodPost, "/v1/tokens", "application/json", strings.NewReader(string(body)), &out)
	return out.Token, err
}

// RotateTokenKey makes the server sign new client tokens with a new key;
// tokens signed with the replaced key are accepted until the returned time:
// overlap from now, the server's --token-overlap when overlap is negative
// (ServerOverlap), never again when it is zero.
func (a *Admin) RotateTokenKey(ctx context.Context, overlap time.Duration) (time.Time, error) {
	req := map[string]any{}
	if overlap >= 0 {
		req["overlap"] = overlap.String()
	}
	body, _ := json.Marshal(req)
	var out struct {
		Until time.Time `json:"previous_accepted_until"`
	}
	err := a.do(ctx, http.MethodPost, "/v1/token-keys/rotate", "application/json", strings.NewReader(string(body)), &out)
	return out.Until, err
}

// ServerOverlap asks RotateTokenKey for the server's configured overlap.
const ServerOverlap time.Duration = -1

func (a *Admin) do(ctx context.Context, method, path, contentType string, body io.Reader, out any) error {
	return a.doEncoded(ctx, method, path, contentType, "", body, out)
}

func (a *Admin) doEncoded(ctx context.Context, method, path, contentType, encoding string, body io.Reader, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimRight(a.BaseURL, "/")+path, body)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+a.Token)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if encoding != "" {
		req.Header.Set("Content-Encoding", encoding)
	}
	httpClient := a.HTTP
	if httpClient == nil {
		httpClient = http.DefaultClient
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		var e struct {
			Error   string `json:"error"`
			Added   int    `json:"added"`
			Removed int    `json:"removed"`
		}
		raw, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		if json.Unmarshal(raw, &e) != nil || e.Error == "" {
			e.Error = strings.TrimSpace(string(raw))
		}
		return &AdminError{Status: resp.StatusCode, Message: e.Error, Added: e.Added + e.Removed}
	}
	return json.NewDecoder(resp.Body).Decode(out)
}

// Health is the admin port's /healthz answer.
type Health struct {
	// Status is "ok", or "degraded" while the store refuses writes, with
	// the cause in StorageError.
	Status            string `json:"status"`
	StorageError      string `json:"storage_error"`
	DiskFreeBytes     int64  `json:"disk_free_bytes"`
	DiskReserveBytes  int64  `json:"disk_reserve_bytes"`
	PartialFrameBytes int64  `json:"partial_frame_bytes"`
	Connections       int64  `json:"connections"`
	Publishes         uint64 `json:"publishes"`
	Deliveries        uint64 `json:"deliveries"`
	CaughtUp          uint64 `json:"caught_up"`
	SlowConsumers     uint64 `json:"slow_consumers"`
	ClosedWithError   uint64 `json:"closed_with_error"`
	LastMessageID     uint64 `json:"last_message_id"`
	// Cursor is, per shard, the newest message id (wire.Cursor's String;
	// ParseCursor reads it): clients that start from it get only what is
	// published after.
	Cursor string `json:"cursor"`
}

// Health reads the server's counters.
func (a *Admin) Health(ctx context.Context) (Health, error) {
	var out Health
	err := a.do(ctx, http.MethodGet, "/healthz", "", nil, &out)
	return out, err
}
