package server

import (
	"errors"
	"fmt"

	"herald/fanout"
	"herald/wire"
)

var (
	// ErrTokenInvalid: a client token that is malformed or forged.
	ErrTokenInvalid = errors.New("server: invalid token")
	// ErrTokenExpired: a client token past its expiry.
	ErrTokenExpired = errors.New("server: token expired")
	// ErrConfig: a configuration value out of range.
	ErrConfig = errors.New("server: bad configuration")
	// ErrDataDir: the data directory cannot be used (others can read it,
	// it is not a directory, it cannot be created).
	ErrDataDir = errors.New("server: data directory")
	// ErrDataDirInUse: another server holds the data directory's lock.
	ErrDataDirInUse = errors.New("server: data directory in use")
	// ErrTokenKeys: the token key file cannot be read or written.
	ErrTokenKeys = errors.New("server: token keys")
)

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
	case errors.Is(err, fanout.ErrUnknownAccount):
		return wire.CodeUnknownAccount
	case errors.Is(err, fanout.ErrPayloadTooLarge):
		return wire.CodePayloadTooLarge
	case errors.Is(err, fanout.ErrBadRequest):
		return wire.CodeBadRequest
	case errors.Is(err, fanout.ErrClosed):
		return wire.CodeUnavailable
	case errors.Is(err, fanout.ErrUnknownMessage):
		return wire.CodeUnknownMessage
	case errors.Is(err, fanout.ErrForbidden):
		return wire.CodeForbidden
	case errors.Is(err, fanout.ErrQuotaExceeded):
		return wire.CodeQuotaExceeded
	case errors.Is(err, fanout.ErrUnknownTag):
		return wire.CodeUnknownTag
	case errors.Is(err, fanout.ErrTagExists):
		return wire.CodeTagExists
	case errors.Is(err, fanout.ErrLimit):
		return wire.CodeLimitExceeded
	case errors.Is(err, fanout.ErrStorageFull):
		return wire.CodeStorageFull
	default:
		return wire.CodeInternal
	}
}

// retryAt returns the Unix milliseconds at which a retry can succeed, for
// errors that know it (an exhausted quota), else zero.
func retryAt(err error) uint64 {
	var q *fanout.QuotaError
	if errors.As(err, &q) {
		return uint64(q.ResetAt.UnixMilli())
	}
	return 0
}
