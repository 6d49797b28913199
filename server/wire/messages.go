package wire

import (
	"encoding/binary"
	"fmt"
)

// Field limits enforced by the decoders.
const (
	MaxCredential  = 1024 // HELLO credential bytes
	MaxClientMsgID = 64   // PUBLISH client_msg_id bytes (at least 1)
	MaxContentType = 64   // content type bytes
	MaxErrorText   = 1024 // ERROR text bytes
)

// Audience kinds carried by PUBLISH.
const (
	AudienceAll uint8 = 0 // every follower of the account; no audience bytes
)

// Hello opens a session on either listener. On the publisher listener Account
// names the account and Credential is its secret; on the client listener
// Account is zero and Credential is a signed token.
type Hello struct {
	Version    uint8
	Account    uint32
	Credential string
}

// Welcome accepts a session. ID is the user id (client listener) or the
// account id (publisher listener).
type Welcome struct {
	Version         uint8
	ID              uint32
	HeartbeatMillis uint32
	MaxFrame        uint32
}

// Error reports a failed request (RequestID set) or the reason a connection
// is being closed (RequestID zero). RetryAtMillis, when non-zero, is the Unix
// time in milliseconds at which retrying can succeed.
type Error struct {
	RequestID     uint32
	Code          Code
	RetryAtMillis uint64
	Text          string
}

// Publish asks the server to store and deliver one broadcast.
type Publish struct {
	RequestID     uint32
	Account       uint32
	ClientMsgID   string
	TTLSeconds    uint32
	AudienceKind  uint8
	AudienceBytes []byte // view; empty for AudienceAll
	ContentType   string
	Payload       []byte // view into the frame body
}

// PublishAck acknowledges a durable broadcast. Total is the resolved
// audience, Filtered those removed by policy, Recipients = Total - Filtered.
type PublishAck struct {
	RequestID  uint32
	MessageID  uint64
	Total      uint32
	Filtered   uint32
	Recipients uint32
}

// Resume asks for every retained broadcast after Cursor addressed to the user.
type Resume struct {
	Cursor uint64
}

// Push carries one broadcast to a client.
type Push struct {
	MessageID   uint64
	Account     uint32
	TimeMillis  uint64
	ContentType string
	Payload     []byte // view into the frame body
}

// Resumed ends one catch-up page: Count broadcasts were replayed, the last
// being LastID (the request's cursor when Count is zero).
type Resumed struct {
	Count  uint32
	LastID uint64
}

// reader decodes fixed fields from a body, remembering the first shortfall
// so that a decoder checks once at the end.
type reader struct {
	b   []byte
	bad bool
}

func (r *reader) take(n int) []byte {
	if r.bad || len(r.b) < n {
		r.bad = true
		return nil
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v
}

func (r *reader) u8() uint8 {
	if v := r.take(1); v != nil {
		return v[0]
	}
	return 0
}

func (r *reader) u16() uint16 {
	if v := r.take(2); v != nil {
		return binary.BigEndian.Uint16(v)
	}
	return 0
}

func (r *reader) u32() uint32 {
	if v := r.take(4); v != nil {
		return binary.BigEndian.Uint32(v)
	}
	return 0
}

func (r *reader) u64() uint64 {
	if v := r.take(8); v != nil {
		return binary.BigEndian.Uint64(v)
	}
	return 0
}

// str8 reads a string with a one-byte length, at most limit bytes.
func (r *reader) str8(limit int) string {
	n := int(r.u8())
	if n > limit {
		r.bad = true
		return ""
	}
	return string(r.take(n))
}

// str16 reads a string with a two-byte length, at most limit bytes.
func (r *reader) str16(limit int) string {
	n := int(r.u16())
	if n > limit {
		r.bad = true
		return ""
	}
	return string(r.take(n))
}

// rest returns every remaining byte.
func (r *reader) rest() []byte {
	v := r.b
	r.b = nil
	return v
}

// done reports the decoder's verdict: no shortfall and no trailing bytes.
func (r *reader) done(t Type) error {
	if r.bad || len(r.b) != 0 {
		return fmt.Errorf("%w: bad %s body", ErrMalformed, t)
	}
	return nil
}

func appendStr8(dst []byte, s string) []byte {
	return append(append(dst, byte(len(s))), s...)
}

func appendStr16(dst []byte, s string) []byte {
	return append(binary.BigEndian.AppendUint16(dst, uint16(len(s))), s...)
}

// AppendHello appends a HELLO frame.
func AppendHello(dst []byte, m Hello) []byte {
	start := len(dst)
	dst = AppendHeader(dst, TypeHello, 0, 0)
	dst = append(dst, m.Version)
	dst = binary.BigEndian.AppendUint32(dst, m.Account)
	dst = appendStr16(dst, m.Credential)
	return patchLength(dst, start)
}

// DecodeHello decodes a HELLO body.
func DecodeHello(body []byte) (Hello, error) {
	r := reader{b: body}
	m := Hello{Version: r.u8(), Account: r.u32(), Credential: r.str16(MaxCredential)}
	return m, r.done(TypeHello)
}

// AppendWelcome appends a WELCOME frame.
func AppendWelcome(dst []byte, m Welcome) []byte {
	dst = AppendHeader(dst, TypeWelcome, 0, 13)
	dst = append(dst, m.Version)
	dst = binary.BigEndian.AppendUint32(dst, m.ID)
	dst = binary.BigEndian.AppendUint32(dst, m.HeartbeatMillis)
	return binary.BigEndian.AppendUint32(dst, m.MaxFrame)
}

// DecodeWelcome decodes a WELCOME body.
func DecodeWelcome(body []byte) (Welcome, error) {
	r := reader{b: body}
	m := Welcome{Version: r.u8(), ID: r.u32(), HeartbeatMillis: r.u32(), MaxFrame: r.u32()}
	return m, r.done(TypeWelcome)
}

// AppendError appends an ERROR frame; text longer than MaxErrorText is cut.
func AppendError(dst []byte, m Error) []byte {
	if len(m.Text) > MaxErrorText {
		m.Text = m.Text[:MaxErrorText]
	}
	start := len(dst)
	dst = AppendHeader(dst, TypeError, 0, 0)
	dst = binary.BigEndian.AppendUint32(dst, m.RequestID)
	dst = binary.BigEndian.AppendUint16(dst, uint16(m.Code))
	dst = binary.BigEndian.AppendUint64(dst, m.RetryAtMillis)
	dst = appendStr16(dst, m.Text)
	return patchLength(dst, start)
}

// DecodeError decodes an ERROR body.
func DecodeError(body []byte) (Error, error) {
	r := reader{b: body}
	m := Error{RequestID: r.u32(), Code: Code(r.u16()), RetryAtMillis: r.u64(), Text: r.str16(MaxErrorText)}
	return m, r.done(TypeError)
}

// AppendPublish appends a PUBLISH frame.
func AppendPublish(dst []byte, m Publish) []byte {
	start := len(dst)
	dst = AppendHeader(dst, TypePublish, 0, 0)
	dst = binary.BigEndian.AppendUint32(dst, m.RequestID)
	dst = binary.BigEndian.AppendUint32(dst, m.Account)
	dst = appendStr8(dst, m.ClientMsgID)
	dst = binary.BigEndian.AppendUint32(dst, m.TTLSeconds)
	dst = append(dst, m.AudienceKind)
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(m.AudienceBytes)))
	dst = append(dst, m.AudienceBytes...)
	dst = appendStr8(dst, m.ContentType)
	dst = append(dst, m.Payload...)
	return patchLength(dst, start)
}

// DecodePublish decodes a PUBLISH body. AudienceBytes and Payload are views.
func DecodePublish(body []byte) (Publish, error) {
	r := reader{b: body}
	m := Publish{RequestID: r.u32(), Account: r.u32(), ClientMsgID: r.str8(MaxClientMsgID), TTLSeconds: r.u32()}
	m.AudienceKind = r.u8()
	m.AudienceBytes = r.take(int(r.u32()))
	m.ContentType = r.str8(MaxContentType)
	m.Payload = r.rest()
	if m.ClientMsgID == "" {
		r.bad = true
	}
	return m, r.done(TypePublish)
}

// AppendPublishAck appends a PUBLISH_ACK frame.
func AppendPublishAck(dst []byte, m PublishAck, flags uint8) []byte {
	dst = AppendHeader(dst, TypePublishAck, flags, 24)
	dst = binary.BigEndian.AppendUint32(dst, m.RequestID)
	dst = binary.BigEndian.AppendUint64(dst, m.MessageID)
	dst = binary.BigEndian.AppendUint32(dst, m.Total)
	dst = binary.BigEndian.AppendUint32(dst, m.Filtered)
	return binary.BigEndian.AppendUint32(dst, m.Recipients)
}

// DecodePublishAck decodes a PUBLISH_ACK body.
func DecodePublishAck(body []byte) (PublishAck, error) {
	r := reader{b: body}
	m := PublishAck{RequestID: r.u32(), MessageID: r.u64(), Total: r.u32(), Filtered: r.u32(), Recipients: r.u32()}
	return m, r.done(TypePublishAck)
}

// AppendResume appends a RESUME frame.
func AppendResume(dst []byte, m Resume, flags uint8) []byte {
	dst = AppendHeader(dst, TypeResume, flags, 8)
	return binary.BigEndian.AppendUint64(dst, m.Cursor)
}

// DecodeResume decodes a RESUME body.
func DecodeResume(body []byte) (Resume, error) {
	r := reader{b: body}
	m := Resume{Cursor: r.u64()}
	return m, r.done(TypeResume)
}

// AppendPush appends a PUSH frame.
func AppendPush(dst []byte, m Push) []byte {
	start := len(dst)
	dst = AppendHeader(dst, TypePush, 0, 0)
	dst = binary.BigEndian.AppendUint64(dst, m.MessageID)
	dst = binary.BigEndian.AppendUint32(dst, m.Account)
	dst = binary.BigEndian.AppendUint64(dst, m.TimeMillis)
	dst = appendStr8(dst, m.ContentType)
	dst = append(dst, m.Payload...)
	return patchLength(dst, start)
}

// DecodePush decodes a PUSH body; Payload is a view.
func DecodePush(body []byte) (Push, error) {
	r := reader{b: body}
	m := Push{MessageID: r.u64(), Account: r.u32(), TimeMillis: r.u64(), ContentType: r.str8(MaxContentType)}
	m.Payload = r.rest()
	return m, r.done(TypePush)
}

// AppendAck appends an ACK frame.
func AppendAck(dst []byte, messageID uint64) []byte {
	dst = AppendHeader(dst, TypeAck, 0, 8)
	return binary.BigEndian.AppendUint64(dst, messageID)
}

// DecodeAck decodes an ACK body.
func DecodeAck(body []byte) (uint64, error) {
	r := reader{b: body}
	id := r.u64()
	return id, r.done(TypeAck)
}

// AppendFollow appends a FOLLOW or UNFOLLOW frame (t selects which).
func AppendFollow(dst []byte, t Type, requestID, account uint32) []byte {
	dst = AppendHeader(dst, t, 0, 8)
	dst = binary.BigEndian.AppendUint32(dst, requestID)
	return binary.BigEndian.AppendUint32(dst, account)
}

// DecodeFollow decodes a FOLLOW or UNFOLLOW body.
func DecodeFollow(body []byte) (requestID, account uint32, err error) {
	r := reader{b: body}
	requestID, account = r.u32(), r.u32()
	return requestID, account, r.done(TypeFollow)
}

// AppendOK appends an OK frame.
func AppendOK(dst []byte, requestID uint32) []byte {
	dst = AppendHeader(dst, TypeOK, 0, 4)
	return binary.BigEndian.AppendUint32(dst, requestID)
}

// DecodeOK decodes an OK body.
func DecodeOK(body []byte) (uint32, error) {
	r := reader{b: body}
	id := r.u32()
	return id, r.done(TypeOK)
}

// AppendResumed appends a RESUMED frame.
func AppendResumed(dst []byte, m Resumed, flags uint8) []byte {
	dst = AppendHeader(dst, TypeResumed, flags, 12)
	dst = binary.BigEndian.AppendUint32(dst, m.Count)
	return binary.BigEndian.AppendUint64(dst, m.LastID)
}

// DecodeResumed decodes a RESUMED body.
func DecodeResumed(body []byte) (Resumed, error) {
	r := reader{b: body}
	m := Resumed{Count: r.u32(), LastID: r.u64()}
	return m, r.done(TypeResumed)
}

// AppendEmpty appends a frame with no body (PING, PONG).
func AppendEmpty(dst []byte, t Type) []byte {
	return AppendHeader(dst, t, 0, 0)
}
