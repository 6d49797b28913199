package cluster

import (
	"errors"
	"time"

	"herald/engine"
)

// sentinels are the engine's errors in the order of their codes on the
// bus; an error that wraps none of them (a storage or internal failure)
// crosses as its text alone.
var sentinels = []error{
	nil,
	engine.ErrClosed, engine.ErrUnknownAccount, engine.ErrAuth, engine.ErrTokenInvalid,
	engine.ErrTokenExpired, engine.ErrBadRequest, engine.ErrPayloadTooLarge, engine.ErrUnknownMessage,
	engine.ErrForbidden, engine.ErrQuotaExceeded, engine.ErrUnknownTag, engine.ErrTagExists,
	engine.ErrLimit, engine.ErrCursorAhead, engine.ErrStorageFull, engine.ErrStorageFailed,
	engine.ErrUnavailable, engine.ErrUnknownTemplate, engine.ErrConsentRequired, engine.ErrWindowClosed,
	engine.ErrNotFollowing, engine.ErrNotConfirmed,
}

// Error details that cross with the code.
const (
	detailNone = iota
	detailQuota
	detailCursor
	detailWindow
)

// encError writes an error answer.
func encError(e *enc, err error) {
	code := 0
	for i, s := range sentinels[1:] {
		if errors.Is(err, s) {
			code = i + 1
			break
		}
	}
	e.u8(answerError)
	e.u8(uint8(code))
	e.str(err.Error())
	var quota *engine.QuotaError
	var ahead *engine.CursorAheadError
	var window *engine.WindowClosedError
	switch {
	case errors.As(err, &quota):
		e.u8(detailQuota)
		e.u32(uint32(quota.Limit))
		e.str(quota.What)
		e.str(quota.Per)
		e.i64(quota.ResetAt.UnixMilli())
	case errors.As(err, &ahead):
		e.u8(detailCursor)
		e.u64(ahead.Cursor)
		e.u64(ahead.Newest)
	case errors.As(err, &window):
		e.u8(detailWindow)
		e.u32(window.User)
		closed := int64(0)
		if !window.ClosedAt.IsZero() {
			closed = window.ClosedAt.UnixMilli()
		}
		e.i64(closed)
		e.flag(window.UsedUp)
		e.u32(uint32(window.Replies))
	default:
		e.u8(detailNone)
	}
}

// decError reads an error answer (after its status byte).
func decError(d *dec) error {
	code := int(d.u8())
	text := d.str()
	var err error
	switch d.u8() {
	case detailQuota:
		err = &engine.QuotaError{Limit: int(d.u32()), What: d.str(), Per: d.str(), ResetAt: time.UnixMilli(d.i64())}
	case detailCursor:
		err = &engine.CursorAheadError{Cursor: d.u64(), Newest: d.u64()}
	case detailWindow:
		w := &engine.WindowClosedError{User: d.u32()}
		if closed := d.i64(); closed != 0 {
			w.ClosedAt = time.UnixMilli(closed)
		}
		w.UsedUp, w.Replies = d.flag(), int(d.u32())
		err = w
	case detailNone:
		if code >= len(sentinels) {
			d.r.Fail()
		}
		if d.r.Short() {
			return errMalformed("error answer")
		}
		err = &remoteError{text: text, is: sentinels[code]}
	default:
		d.r.Fail()
	}
	if d.r.Short() {
		return errMalformed("error answer")
	}
	return err
}

// remoteError is an engine error as the core answered it: its text, and
// the sentinel it wraps (nil for a storage or internal failure).
type remoteError struct {
	text string
	is   error
}

func (e *remoteError) Error() string { return e.text }
func (e *remoteError) Unwrap() error { return e.is }
