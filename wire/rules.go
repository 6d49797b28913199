package wire

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// ErrInvalid: a frame laid out correctly whose fields break the protocol's
// rules (a limit, an undefined flag, an audience kind with the wrong bytes).
var ErrInvalid = errors.New("wire: invalid request")

// # Which error, which request id, connection kept or closed
//
// The framing (the length prefix) is what keeps a stream in step, so a
// frame that is well framed but wrong does not have to cost the
// connection. The rule, in one place for the SDK, the server and this
// package's tests:
//
//   - Request frames (those whose body starts with a request id: PUBLISH,
//     RETRACT, STATUS, BLOCK, UNBLOCK, TAG, NOTIFY, TEMPLATE, FOLLOW,
//     UNFOLLOW, CONSENT, MESSAGE, INBOX, SCHEDULE, CANCEL) with a body
//     of at least 4 bytes: anything wrong with the rest — a layout that
//     does not decode, a field over its limit, an undefined flag bit — is
//     answered by ERROR BAD_REQUEST with that request id, and the
//     connection stays open.
//   - Every other frame (HELLO, RESUME, ACK, PING, PONG), and a request
//     frame too short to hold its request id: ERROR with request id 0
//     (MALFORMED_FRAME unless a more specific code applies) and the
//     connection is closed.

// HasRequestID reports whether frames of type t start with a request id.
func (t Type) HasRequestID() bool {
	switch t {
	case TypePublish, TypeRetract, TypeStatus, TypeBlock, TypeUnblock, TypeTag, TypeFollow, TypeUnfollow,
		TypeNotify, TypeTemplate, TypeConsent, TypeMessage, TypeInbox, TypeSchedule, TypeCancel:
		return true
	}
	return false
}

// RequestID returns the request id at the front of a request frame's body,
// and false when t has none or the body is too short to hold it.
func RequestID(t Type, body []byte) (uint32, bool) {
	if !t.HasRequestID() || len(body) < 4 {
		return 0, false
	}
	return binary.BigEndian.Uint32(body), true
}

// allowedFlags are the flag bits defined on frames a peer sends.
var allowedFlags = map[Type]uint8{
	TypeHello:   FlagCompress,
	TypePublish: FlagDryRun | SpeedMask,
	TypeNotify:  FlagDryRun,
	TypeInbox:   FlagWatch | FlagUnwatch,
	TypeResume:  FlagFromStored,
	TypeFollow:  FlagSource,
	TypeStatus:  FlagReach | FlagWatch | FlagUnwatch,
}

// MaxSource bounds a follow's source code.
const MaxSource = 32

// ValidSource checks a follow's source: 1 to MaxSource bytes of ASCII
// letters, digits, '-', '_', '.' and ':' (or "" for none).
func ValidSource(s string) error {
	if len(s) > MaxSource {
		return fmt.Errorf("%w: a source of %d bytes, at most %d", ErrInvalid, len(s), MaxSource)
	}
	if !codeChars(s) {
		return fmt.Errorf("%w: source %q: only letters, digits, '-', '_', '.' and ':'", ErrInvalid, s)
	}
	return nil
}

// codeChars reports whether s holds only ASCII letters, digits, '-', '_',
// '.' and ':' (a source, a template or field name).
func codeChars(s string) bool {
	for _, c := range []byte(s) {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.' || c == ':') {
			return false
		}
	}
	return true
}

// CheckFlags returns an error wrapping ErrInvalid if flags has a bit that
// is not defined for frames of type t sent to the server.
func CheckFlags(t Type, flags uint8) error {
	if bad := flags &^ allowedFlags[t]; bad != 0 {
		return fmt.Errorf("%w: flag bits %#02x are not defined for %s", ErrInvalid, bad, t)
	}
	return nil
}

// CheckEmpty checks the body of a frame that has none (PING, PONG).
func CheckEmpty(t Type, body []byte) error {
	if len(body) != 0 {
		return fmt.Errorf("%w: %s has no body, not %d bytes", ErrMalformed, t, len(body))
	}
	return nil
}

// Validate checks a decoded PUBLISH against the protocol's limits: the
// client_msg_id (1 to MaxClientMsgID bytes), the content type (at most
// MaxContentType), and the audience kind (no audience bytes for
// AudienceAll). The audience bytes of the other kinds are checked when they
// are decoded (DecodeExpr, DecodeUsers); the server's own limits (payload
// size, publishes in flight) by the server.
func (m Publish) Validate() error {
	switch {
	case len(m.ClientMsgID) == 0 || len(m.ClientMsgID) > MaxClientMsgID:
		return fmt.Errorf("%w: client_msg_id is 1 to %d bytes, not %d", ErrInvalid, MaxClientMsgID, len(m.ClientMsgID))
	case len(m.ContentType) > MaxContentType:
		return fmt.Errorf("%w: content_type is at most %d bytes, not %d", ErrInvalid, MaxContentType, len(m.ContentType))
	case m.AudienceKind > AudienceReply:
		return fmt.Errorf("%w: audience kind %d is not supported (0 = all followers, 1 = tag expression, 2 = listed followers, 3 = preview, 4 = reply)", ErrInvalid, m.AudienceKind)
	case m.AudienceKind == AudienceAll && len(m.AudienceBytes) != 0:
		return fmt.Errorf("%w: audience kind 0 (all followers) carries no audience bytes, not %d", ErrInvalid, len(m.AudienceBytes))
	}
	return nil
}
