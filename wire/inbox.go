package wire

import (
	"encoding/binary"
	"fmt"

	"herald/internal/binread"
)

// Follower messages and replies: a follower writes to an account (MESSAGE
// on the client listener); the account's backend reads what followers
// wrote (INBOX, answered by LETTERS) and may answer each writer within the
// service window (PUBLISH with AudienceReply).

// Limits on follower messages.
const (
	MaxMessagePayload = 2048 // payload bytes of one MESSAGE
	MaxInboxPage      = 100  // letters one LETTERS frame carries
)

// AudienceReply is the PUBLISH audience kind of a reply: the audience
// bytes are the one user's id (uint32), who must have written to the
// account within the service window.
const AudienceReply uint8 = 4

// EncodeReply returns the audience bytes of a reply to user.
func EncodeReply(user uint32) []byte { return binary.BigEndian.AppendUint32(nil, user) }

// DecodeReply decodes the audience bytes of a reply.
func DecodeReply(b []byte) (uint32, error) {
	if len(b) != 4 {
		return 0, fmt.Errorf("%w: a reply's audience is one user id (4 bytes), not %d bytes", ErrMalformed, len(b))
	}
	return binary.BigEndian.Uint32(b), nil
}

// Message is a follower's message to an account.
type Message struct {
	RequestID   uint32
	Account     uint32
	ContentType string
	Payload     []byte // view into the frame body
}

// AppendMessage appends a MESSAGE frame: request_id u32, account u32,
// content_type str8, then the payload (every remaining byte).
func AppendMessage(dst []byte, m Message) []byte {
	start := len(dst)
	dst = AppendHeader(dst, TypeMessage, 0, 0)
	dst = binary.BigEndian.AppendUint32(dst, m.RequestID)
	dst = binary.BigEndian.AppendUint32(dst, m.Account)
	dst = appendStr8(dst, m.ContentType)
	dst = append(dst, m.Payload...)
	return patchLength(dst, start)
}

// DecodeMessage decodes a MESSAGE body and checks its limits: a content
// type of at most MaxContentType bytes, a payload of 1 to
// MaxMessagePayload.
func DecodeMessage(body []byte) (Message, error) {
	r := binread.New(body)
	m := Message{RequestID: r.U32(), Account: r.U32(), ContentType: r.Str8(MaxContentType)}
	m.Payload = r.Rest()
	if err := done(r, TypeMessage); err != nil {
		return m, err
	}
	if len(m.Payload) == 0 || len(m.Payload) > MaxMessagePayload {
		return m, fmt.Errorf("%w: a message's payload is 1 to %d bytes, not %d", ErrInvalid, MaxMessagePayload, len(m.Payload))
	}
	return m, nil
}

// Inbox asks for the letters followers wrote to the account after seq
// After (0: from the oldest retained), with FlagWatch to go on receiving
// new ones as they arrive (FlagUnwatch ends that).
type Inbox struct {
	RequestID uint32
	Account   uint32
	After     uint64
}

// AppendInbox appends an INBOX frame: request_id u32, account u32, after
// u64.
func AppendInbox(dst []byte, m Inbox, flags uint8) []byte {
	dst = AppendHeader(dst, TypeInbox, flags, 16)
	dst = binary.BigEndian.AppendUint32(dst, m.RequestID)
	dst = binary.BigEndian.AppendUint32(dst, m.Account)
	return binary.BigEndian.AppendUint64(dst, m.After)
}

// DecodeInbox decodes an INBOX body.
func DecodeInbox(body []byte) (Inbox, error) {
	r := binread.New(body)
	m := Inbox{RequestID: r.U32(), Account: r.U32(), After: r.U64()}
	return m, done(r, TypeInbox)
}

// Letter is one follower message as the account reads it. Seq numbers an
// account's letters from 1 in the order they were stored.
type Letter struct {
	Seq         uint64
	User        uint32
	TimeMillis  uint64
	ContentType string
	Payload     []byte
}

// Letters answers INBOX: letters in seq order; FlagMore when more follow
// the last (INBOX again after it, or wait: a watch sends them).
type Letters struct {
	RequestID uint32
	Letters   []Letter
}

// AppendLetters appends a LETTERS frame: request_id u32, a count u16, and
// each letter's seq u64, user u32, time_ms u64, content_type str8 and
// payload str16.
func AppendLetters(dst []byte, m Letters, flags uint8) []byte {
	start := len(dst)
	dst = AppendHeader(dst, TypeLetters, flags, 0)
	dst = binary.BigEndian.AppendUint32(dst, m.RequestID)
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(m.Letters)))
	for _, l := range m.Letters {
		dst = binary.BigEndian.AppendUint64(dst, l.Seq)
		dst = binary.BigEndian.AppendUint32(dst, l.User)
		dst = binary.BigEndian.AppendUint64(dst, l.TimeMillis)
		dst = appendStr8(dst, l.ContentType)
		dst = binary.BigEndian.AppendUint16(dst, uint16(len(l.Payload)))
		dst = append(dst, l.Payload...)
	}
	return patchLength(dst, start)
}

// DecodeLetters decodes a LETTERS body; payloads are views.
func DecodeLetters(body []byte) (Letters, error) {
	r := binread.New(body)
	m := Letters{RequestID: r.U32()}
	n := int(r.U16())
	if n > MaxInboxPage {
		r.Fail()
	}
	for i := 0; i < n && !r.Short(); i++ {
		l := Letter{Seq: r.U64(), User: r.U32(), TimeMillis: r.U64(), ContentType: r.Str8(MaxContentType)}
		l.Payload = r.Take(int(r.U16()))
		m.Letters = append(m.Letters, l)
	}
	return m, done(r, TypeLetters)
}
