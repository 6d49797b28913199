package client

import (
	"errors"
	"fmt"
	"time"

	"herald/wire"
)

// ErrClosed is returned by calls on a closed Publisher or Subscriber.
var ErrClosed = errors.New("client: closed")

// ErrBadPayload stops a Subscriber that received a compressed payload it
// must not decode: corrupt, or larger than SubscriberConfig.MaxPayload once
// decoded (a decompression bomb). Reconnecting would only replay it.
var ErrBadPayload = errors.New("client: bad compressed payload")

// Error is an ERROR frame from the server.
type Error struct {
	Code wire.Code
	Text string
	// RetryAt, when non-zero, is when a retry can succeed.
	RetryAt time.Time
}

func (e *Error) Error() string {
	return fmt.Sprintf("herald: %s (%d): %s", e.Code, uint16(e.Code), e.Text)
}

func errorFrom(m wire.Error) *Error {
	e := &Error{Code: m.Code, Text: m.Text}
	if m.RetryAtMillis != 0 {
		e.RetryAt = time.UnixMilli(int64(m.RetryAtMillis))
	}
	return e
}

// permanent reports whether err means reconnecting cannot help.
func permanent(err error) bool {
	var e *Error
	return errors.As(err, &e) && !e.Code.Reconnect() || errors.Is(err, ErrBadPayload)
}
