package fanout

import (
	"errors"
	"fmt"
	"time"

	"herald/storage"
)

var (
	// ErrClosed: the engine is shutting down; nothing was committed.
	ErrClosed = errors.New("fanout: engine closed")
	// ErrUnknownAccount: the account does not exist.
	ErrUnknownAccount = errors.New("fanout: unknown account")
	// ErrAuth: wrong publisher secret.
	ErrAuth = errors.New("fanout: authentication failed")
	// ErrBadRequest: a request with invalid fields.
	ErrBadRequest = errors.New("fanout: bad request")
	// ErrPayloadTooLarge: a payload over Config.MaxPayload.
	ErrPayloadTooLarge = errors.New("fanout: payload too large")
	// ErrUnknownMessage: no retained broadcast has that id.
	ErrUnknownMessage = errors.New("fanout: unknown message")
	// ErrForbidden: the broadcast belongs to another account.
	ErrForbidden = errors.New("fanout: forbidden")
	// ErrQuotaExceeded: the account has used its quota; see QuotaError.
	ErrQuotaExceeded = errors.New("fanout: quota exceeded")
	// ErrUnknownTag: the account has no tag of that name or id.
	ErrUnknownTag = errors.New("fanout: unknown tag")
	// ErrTagExists: the account already has a tag of that name.
	ErrTagExists = errors.New("fanout: tag exists")
	// ErrLimit: the request would pass a configured limit (tags per
	// account).
	ErrLimit = errors.New("fanout: limit exceeded")
	// ErrStorageFull: the disk is at its reserve; nothing was stored.
	// Retrying succeeds once space is freed.
	ErrStorageFull = storage.ErrStorageFull
	// ErrStorageFailed: the store hit an I/O error; nothing was stored, and
	// nothing will be until the server restarts.
	ErrStorageFailed = storage.ErrStorageFailed
)

// QuotaError says when an exhausted quota resets. It wraps
// ErrQuotaExceeded.
type QuotaError struct {
	Limit   int
	Per     string // "day"
	ResetAt time.Time
}

func (e *QuotaError) Error() string {
	return fmt.Sprintf("fanout: quota of %d broadcasts per %s used; it resets at %s", e.Limit, e.Per, e.ResetAt.UTC().Format(time.RFC3339))
}

func (e *QuotaError) Unwrap() error { return ErrQuotaExceeded }
