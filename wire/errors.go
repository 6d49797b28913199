package wire

import "errors"

// Sentinel errors. A parser error is fatal for the stream: the frame boundary
// is lost, so the connection must be closed (with the matching Code).
var (
	// ErrMalformed: a length field below 2, a body that does not match its
	// frame type's layout, or trailing bytes after the last field.
	ErrMalformed = errors.New("wire: malformed frame")
	// ErrFrameTooLarge: a length field above the parser's maximum.
	ErrFrameTooLarge = errors.New("wire: frame too large")
)

// CodeFor maps a parser or decoder error to the code the server sends.
func CodeFor(err error) Code {
	if errors.Is(err, ErrFrameTooLarge) {
		return CodeFrameTooLarge
	}
	return CodeMalformedFrame
}
