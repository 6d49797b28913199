package wire

import (
	"fmt"
	"slices"
)

// Code is an error code carried by an ERROR frame. The range says what the
// receiver should do:
//
//	1000–1999  request failed; the connection stays open
//	2000–2999  connection closed; reconnect (with backoff) and resume
//	3000–3999  connection closed; do not reconnect until the cause is fixed
type Code uint16

// Request errors: the connection stays open.
const (
	CodeBadRequest      Code = 1001 // a well-framed body that does not decode or has invalid fields
	CodeUnknownAccount  Code = 1002 // the account named in FOLLOW/UNFOLLOW does not exist
	CodePayloadTooLarge Code = 1003 // PUBLISH payload over the server's limit
	CodeForbidden       Code = 1004 // PUBLISH for an account other than the authenticated one
	CodeUnavailable     Code = 1005 // the server is shutting down or overloaded; retry later
	CodeInternal        Code = 1006 // storage failed; nothing was committed; retry
	CodeUnknownMessage  Code = 1007 // RETRACT or STATUS of a message id not in the retained log
	CodeQuotaExceeded   Code = 1008 // the account's quota is used; retry_at says when it resets
	CodeUnknownTag      Code = 1009 // the account has no tag of that name or id
	CodeTagExists       Code = 1010 // the account already has a tag of that name
	CodeLimitExceeded   Code = 1011 // the request passes a configured limit (tags per account)
	CodeStorageFull     Code = 1012 // the server's disk is at its reserve; nothing was stored; retry later
	CodeUnknownTemplate Code = 1013 // the account has no template of that name, or it has no such field
	CodeConsentRequired Code = 1014 // a recipient holds no grant for the consent template, or banned it
	CodeWindowClosed    Code = 1015 // a reply outside the service window; retry_at says when it closed
	CodeNotFollowing    Code = 1016 // MESSAGE to an account the user does not follow (or that blocked the user)
	CodeNotConfirmed    Code = 1017 // a broadcast to all followers rejected, or not confirmed in time, by an operator
)

// Connection errors after which the client should reconnect and resume.
const (
	CodeHeartbeatTimeout Code = 2001 // nothing received within the idle timeout
	CodeSlowConsumer     Code = 2002 // outbound bytes queued past the server's cap
	CodeShuttingDown     Code = 2003 // the server is stopping
	CodeConnectionLimit  Code = 2004 // the user (or account) holds the most connections allowed
	CodeFrameTimeout     Code = 2005 // a frame was started but not finished within the frame timeout
	CodeOverloaded       Code = 2006 // the server's memory for partly received frames is used up
	CodeCursorAhead      Code = 2007 // RESUME's cursor is beyond the newest message id: resume from 0
)

// Connection errors after which the client must not reconnect blindly.
const (
	CodeMalformedFrame     Code = 3001 // a frame header or session frame that does not decode
	CodeFrameTooLarge      Code = 3002 // length field above the maximum frame size
	CodeUnsupportedVersion Code = 3003 // HELLO carries a version this server does not speak
	CodeAuthFailed         Code = 3004 // unknown account or wrong publisher secret
	CodeTokenExpired       Code = 3005 // client token past its expiry
	CodeTokenInvalid       Code = 3006 // client token malformed or its signature does not verify
	CodeAuthTimeout        Code = 3007 // no HELLO within the auth timeout
	CodeUnexpectedFrame    Code = 3008 // unknown frame type, or a type not allowed in this role or state
)

var codeNames = map[Code]string{
	CodeBadRequest: "BAD_REQUEST", CodeUnknownAccount: "UNKNOWN_ACCOUNT",
	CodePayloadTooLarge: "PAYLOAD_TOO_LARGE", CodeForbidden: "FORBIDDEN",
	CodeUnavailable: "UNAVAILABLE", CodeInternal: "INTERNAL", CodeUnknownMessage: "UNKNOWN_MESSAGE",
	CodeQuotaExceeded: "QUOTA_EXCEEDED", CodeUnknownTag: "UNKNOWN_TAG", CodeTagExists: "TAG_EXISTS",
	CodeLimitExceeded: "LIMIT_EXCEEDED", CodeStorageFull: "STORAGE_FULL",
	CodeUnknownTemplate: "UNKNOWN_TEMPLATE", CodeConsentRequired: "CONSENT_REQUIRED",
	CodeWindowClosed: "WINDOW_CLOSED", CodeNotFollowing: "NOT_FOLLOWING", CodeNotConfirmed: "NOT_CONFIRMED",
	CodeHeartbeatTimeout: "HEARTBEAT_TIMEOUT", CodeSlowConsumer: "SLOW_CONSUMER",
	CodeShuttingDown: "SHUTTING_DOWN", CodeConnectionLimit: "CONNECTION_LIMIT",
	CodeFrameTimeout: "FRAME_TIMEOUT", CodeOverloaded: "OVERLOADED", CodeCursorAhead: "CURSOR_AHEAD", CodeMalformedFrame: "MALFORMED_FRAME",
	CodeFrameTooLarge: "FRAME_TOO_LARGE", CodeUnsupportedVersion: "UNSUPPORTED_VERSION",
	CodeAuthFailed: "AUTH_FAILED", CodeTokenExpired: "TOKEN_EXPIRED",
	CodeTokenInvalid: "TOKEN_INVALID", CodeAuthTimeout: "AUTH_TIMEOUT",
	CodeUnexpectedFrame: "UNEXPECTED_FRAME",
}

// Codes returns every code this package defines, in increasing order.
func Codes() []Code {
	codes := make([]Code, 0, len(codeNames))
	for c := range codeNames {
		codes = append(codes, c)
	}
	slices.Sort(codes)
	return codes
}

func (c Code) String() string {
	if name, ok := codeNames[c]; ok {
		return name
	}
	return fmt.Sprintf("CODE_%d", uint16(c))
}

// Fatal reports whether the server closes the connection after this error.
func (c Code) Fatal() bool { return c >= 2000 }

// Reconnect reports whether a client should reconnect after this error.
func (c Code) Reconnect() bool { return c < 3000 }
