package fanout

import (
	"errors"
	"fmt"

	"herald/engine"
	"herald/storage"
)

// The engine's errors are the contract's (package engine); these names
// keep the engine's own code short.
var (
	ErrClosed          = engine.ErrClosed
	ErrUnknownAccount  = engine.ErrUnknownAccount
	ErrAuth            = engine.ErrAuth
	ErrBadRequest      = engine.ErrBadRequest
	ErrPayloadTooLarge = engine.ErrPayloadTooLarge
	ErrUnknownMessage  = engine.ErrUnknownMessage
	ErrForbidden       = engine.ErrForbidden
	ErrQuotaExceeded   = engine.ErrQuotaExceeded
	ErrUnknownTag      = engine.ErrUnknownTag
	ErrTagExists       = engine.ErrTagExists
	ErrLimit           = engine.ErrLimit
	ErrStorageFull     = engine.ErrStorageFull
	ErrStorageFailed   = engine.ErrStorageFailed
	ErrTokenInvalid    = engine.ErrTokenInvalid
	ErrTokenExpired    = engine.ErrTokenExpired
	ErrUnavailable     = engine.ErrUnavailable
	ErrUnknownTemplate = engine.ErrUnknownTemplate
	ErrConsentRequired = engine.ErrConsentRequired
	ErrNotFollowing    = engine.ErrNotFollowing
	ErrNotConfirmed    = engine.ErrNotConfirmed
)

// WindowClosedError is a reply outside the service window
// (engine.WindowClosedError).
type WindowClosedError = engine.WindowClosedError

// Errors of opening an engine over a data directory.
var (
	// ErrDataDir: the data directory cannot be used (others can read it,
	// it is not a directory, it cannot be created).
	ErrDataDir = errors.New("data directory")
	// ErrDataDirInUse: another server holds the data directory's lock.
	ErrDataDirInUse = errors.New("data directory in use")
	// ErrTokenKeys: the token key file cannot be read or written.
	ErrTokenKeys = errors.New("token keys")
)

// QuotaError says when an exhausted quota resets (engine.QuotaError).
type QuotaError = engine.QuotaError

// contract maps the store's errors to the contract's, so that an edge
// needs errors.Is on package engine's values only.
func contract(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, storage.ErrStorageFull) && !errors.Is(err, engine.ErrStorageFull):
		return fmt.Errorf("%w: %w", engine.ErrStorageFull, err)
	case errors.Is(err, storage.ErrStorageFailed) && !errors.Is(err, engine.ErrStorageFailed):
		return fmt.Errorf("%w: %w", engine.ErrStorageFailed, err)
	case errors.Is(err, storage.ErrClosed) && !errors.Is(err, engine.ErrClosed):
		return fmt.Errorf("%w: %w", engine.ErrClosed, err)
	}
	return err
}
