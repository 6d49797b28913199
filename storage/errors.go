package storage

import (
	"errors"

	"herald/storage/internal/codec"
)

var (
	// ErrCorrupt: a stored value failed its checksum or does not decode;
	// the error names the key.
	ErrCorrupt = codec.ErrCorrupt
	// ErrNotFound: no such account (or other record) exists.
	ErrNotFound = errors.New("storage: not found")
	// ErrClosed: the store has been closed.
	ErrClosed = errors.New("storage: closed")
	// ErrStorageFull: the disk is at its reserve; nothing was written, and
	// writes are accepted again once space is freed.
	ErrStorageFull = errors.New("storage: disk full")
	// ErrStorageFailed: a write failed inside the database (an I/O error);
	// nothing is written until the server restarts.
	ErrStorageFailed = errors.New("storage: failed")
)
