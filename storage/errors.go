package storage

import "errors"

var (
	// ErrCorrupt: a stored value failed its checksum or does not decode.
	ErrCorrupt = errors.New("storage: corrupt value")
	// ErrNotFound: no such account (or other record) exists.
	ErrNotFound = errors.New("storage: not found")
	// ErrClosed: the store has been closed.
	ErrClosed = errors.New("storage: closed")
)
