package engine

import (
	"errors"
	"fmt"
	"time"
)

// The engine's errors. Every error an engine answers wraps one of them (or
// is a storage or internal failure), so an edge maps it to a protocol code
// with errors.Is.
var (
	// ErrClosed: the engine is shutting down; nothing was committed.
	ErrClosed = errors.New("engine closed")
	// ErrUnknownAccount: the account does not exist.
	ErrUnknownAccount = errors.New("unknown account")
	// ErrAuth: wrong publisher secret.
	ErrAuth = errors.New("authentication failed")
	// ErrTokenInvalid: a client token that is malformed or forged.
	ErrTokenInvalid = errors.New("invalid token")
	// ErrTokenExpired: a client token past its expiry.
	ErrTokenExpired = errors.New("token expired")
	// ErrBadRequest: a request with invalid fields.
	ErrBadRequest = errors.New("bad request")
	// ErrPayloadTooLarge: a payload over the engine's limit.
	ErrPayloadTooLarge = errors.New("payload too large")
	// ErrUnknownMessage: no retained broadcast has that id.
	ErrUnknownMessage = errors.New("unknown message")
	// ErrForbidden: the broadcast belongs to another account.
	ErrForbidden = errors.New("forbidden")
	// ErrQuotaExceeded: the account has used its quota; see QuotaError.
	ErrQuotaExceeded = errors.New("quota exceeded")
	// ErrUnknownTag: the account has no tag of that name or id.
	ErrUnknownTag = errors.New("unknown tag")
	// ErrTagExists: the account already has a tag of that name.
	ErrTagExists = errors.New("tag exists")
	// ErrLimit: the request would pass a configured limit (tags per
	// account).
	ErrLimit = errors.New("limit exceeded")
	// ErrUnknownTemplate: the account has no template of that name, or a
	// notification names a field its template does not have.
	ErrUnknownTemplate = errors.New("unknown template")
	// ErrConsentRequired: a recipient of a consent template's notification
	// holds no grant for it, or banned it.
	ErrConsentRequired = errors.New("consent required")
	// ErrWindowClosed: a reply to a user outside the service window; see
	// WindowClosedError.
	ErrWindowClosed = errors.New("service window closed")
	// ErrNotFollowing: a letter to an account the user does not follow,
	// or that blocked the user.
	ErrNotFollowing = errors.New("not following")
	// ErrNotConfirmed: a broadcast to all followers that needed an
	// operator's confirmation was rejected, or not confirmed in time;
	// nothing was sent.
	ErrNotConfirmed = errors.New("not confirmed")
	// ErrCursorAhead: a resume cursor beyond the newest message id; see
	// CursorAheadError.
	ErrCursorAhead = errors.New("cursor ahead of the log")
	// ErrStorageFull: the disk is at its reserve; nothing was stored.
	// Retrying succeeds once space is freed.
	ErrStorageFull = errors.New("storage full")
	// ErrUnavailable: the part of the engine that owns the request cannot
	// be reached now (in a cluster, the core that owns the account); the
	// request may or may not have taken effect. Retrying is safe where the
	// request is idempotent (a PUBLISH with a client_msg_id).
	ErrUnavailable = errors.New("unavailable")
	// ErrStorageFailed: the store hit an I/O error; nothing was stored, and
	// nothing will be until the engine restarts.
	ErrStorageFailed = errors.New("storage failed")
)

// QuotaError says when an exhausted quota resets. It wraps
// ErrQuotaExceeded.
type QuotaError struct {
	Limit int
	// What is counted: "broadcasts" when empty, or "notifications".
	What    string
	Per     string // "day"
	ResetAt time.Time
}

func (e *QuotaError) Error() string {
	what := e.What
	if what == "" {
		what = "broadcasts"
	}
	return fmt.Sprintf("quota of %d %s per %s used; it resets at %s", e.Limit, what, e.Per, e.ResetAt.UTC().Format(time.RFC3339))
}

func (e *QuotaError) Unwrap() error { return ErrQuotaExceeded }

// CursorAheadError is a resume cursor beyond the newest message id: it
// comes from another history. It wraps ErrCursorAhead.
type CursorAheadError struct {
	Cursor, Newest uint64
}

func (e *CursorAheadError) Error() string {
	return fmt.Sprintf("cursor %d is beyond the newest message id %d: it comes from another history (a server restored from a backup, or a new one); resume from 0", e.Cursor, e.Newest)
}

func (e *CursorAheadError) Unwrap() error { return ErrCursorAhead }

// WindowClosedError is a reply outside the service window: the user last
// wrote at LastMillis (0: never, or too long ago to be kept), so the
// window closed at ClosedAt; or its Replies are used up. It wraps
// ErrWindowClosed.
type WindowClosedError struct {
	User     uint32
	ClosedAt time.Time
	// UsedUp: the window is open but its replies are spent.
	UsedUp  bool
	Replies int
}

func (e *WindowClosedError) Error() string {
	switch {
	case e.UsedUp:
		return fmt.Sprintf("user %d's service window has had its %d replies; it reopens when the user writes again", e.User, e.Replies)
	case e.ClosedAt.IsZero():
		return fmt.Sprintf("user %d has not written to the account within the service window", e.User)
	}
	return fmt.Sprintf("user %d's service window closed at %s; it reopens when the user writes again", e.User, e.ClosedAt.UTC().Format(time.RFC3339))
}

func (e *WindowClosedError) Unwrap() error { return ErrWindowClosed }
