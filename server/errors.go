package server

import (
	"errors"
	"fmt"

	"herald/engine"
	"herald/wire"
)

// ErrConfig: a configuration value out of range.
var ErrConfig = errors.New("server: bad configuration")

// closeError is returned from a frame handler to end the connection with
// an ERROR frame carrying code.
type closeError struct {
	code wire.Code
	text string
}

func (e *closeError) Error() string { return fmt.Sprintf("%s: %s", e.code, e.text) }

func closeWith(code wire.Code, format string, args ...any) error {
	return &closeError{code: code, text: fmt.Sprintf(format, args...)}
}

// codeFor maps an engine error to the request-level code sent to the peer.
func codeFor(err error) wire.Code {
	switch {
	case errors.Is(err, engine.ErrUnknownAccount):
		return wire.CodeUnknownAccount
	case errors.Is(err, engine.ErrPayloadTooLarge):
		return wire.CodePayloadTooLarge
	case errors.Is(err, engine.ErrBadRequest):
		return wire.CodeBadRequest
	case errors.Is(err, engine.ErrClosed), errors.Is(err, engine.ErrUnavailable):
		return wire.CodeUnavailable
	case errors.Is(err, engine.ErrUnknownMessage):
		return wire.CodeUnknownMessage
	case errors.Is(err, engine.ErrForbidden):
		return wire.CodeForbidden
	case errors.Is(err, engine.ErrQuotaExceeded):
		return wire.CodeQuotaExceeded
	case errors.Is(err, engine.ErrUnknownTag):
		return wire.CodeUnknownTag
	case errors.Is(err, engine.ErrTagExists):
		return wire.CodeTagExists
	case errors.Is(err, engine.ErrLimit):
		return wire.CodeLimitExceeded
	case errors.Is(err, engine.ErrStorageFull):
		return wire.CodeStorageFull
	case errors.Is(err, engine.ErrUnknownTemplate):
		return wire.CodeUnknownTemplate
	case errors.Is(err, engine.ErrConsentRequired):
		return wire.CodeConsentRequired
	case errors.Is(err, engine.ErrWindowClosed):
		return wire.CodeWindowClosed
	case errors.Is(err, engine.ErrNotFollowing):
		return wire.CodeNotFollowing
	case errors.Is(err, engine.ErrNotConfirmed):
		return wire.CodeNotConfirmed
	default:
		return wire.CodeInternal
	}
}

// retryAt returns the time an error refers to, in Unix milliseconds: when
// a retry can succeed (an exhausted quota), or when a reply's service
// window closed; else zero.
func retryAt(err error) uint64 {
	var q *engine.QuotaError
	if errors.As(err, &q) {
		return uint64(q.ResetAt.UnixMilli())
	}
	var w *engine.WindowClosedError
	if errors.As(err, &w) && !w.ClosedAt.IsZero() {
		return uint64(w.ClosedAt.UnixMilli())
	}
	return 0
}
