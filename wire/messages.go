package wire

import (
	"encoding/binary"
	"fmt"

	"herald/internal/binread"
)

// Field limits enforced by the decoders.
const (
	MaxCredential  = 1024 // HELLO credential bytes
	MaxClientMsgID = 64   // PUBLISH client_msg_id bytes (at least 1)
	MaxContentType = 64   // content type bytes
	MaxErrorText   = 1024 // ERROR text bytes
)

// Audience kinds carried by PUBLISH; AudienceTags (1) is in expr.go.
const (
	AudienceAll     uint8 = 0 // every follower of the account; no audience bytes
	AudienceList    uint8 = 2 // listed users ∩ followers (see EncodeUsers)
	AudiencePreview uint8 = 3 // listed test users (see EncodeUsers)
)

// Limits on listed audiences.
const (
	MaxPreview = 100   // users a preview may list
	MaxListed  = 10000 // users an id-list audience may list
)

// EncodeUsers returns the audience bytes of a user list (kinds 2 and 3): a
// uint16 count and that many uint32 user ids.
func EncodeUsers(users []uint32) []byte {
	out := binary.BigEndian.AppendUint16(nil, uint16(len(users)))
	for _, u := range users {
		out = binary.BigEndian.AppendUint32(out, u)
	}
	return out
}

// DecodeUsers decodes the audience bytes of a user list of 1 to limit users.
func DecodeUsers(b []byte, limit int) ([]uint32, error) {
	r := binread.New(b)
	n := int(r.U16())
	if n == 0 || n > limit {
		return nil, fmt.Errorf("%w: the list holds 1 to %d users, not %d", ErrMalformed, limit, n)
	}
	users := make([]uint32, n)
	for i := range users {
		users[i] = r.U32()
	}
	return users, done(r, TypePublish)
}

// Hello opens a session on either listener. On the publisher listener Account
// names the account and Credential is its secret; on the client listener
// Account is zero and Credential is a signed token.
type Hello struct {
	Version    uint8
	Account    uint32
	Credential string
	// Compress is FlagCompress in the frame header: AppendHello sets the
	// flag from it; DecodeHello sees only the body, so receivers read the
	// frame's flags.
	Compress bool
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
	// DryRun is FlagDryRun in the frame header: AppendPublish sets the flag
	// from it; DecodePublish sees only the body, so receivers read the
	// frame's flags.
	DryRun bool
	// Speed is the speed level in the frame's flags (SpeedOf), 0 to
	// MaxSpeed: AppendPublish sets it; receivers read the frame's flags.
	Speed         uint8
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

// ResumeV2 is RESUME in protocol version 2: the cursor names a place in
// every shard.
type ResumeV2 struct {
	Cursor Cursor
}

// Push carries one broadcast to a client.
type Push struct {
	MessageID   uint64
	Account     uint32
	TimeMillis  uint64
	ContentType string
	Payload     []byte // view into the frame body
	// Compressed is FlagCompressed in the frame header (Payload is an S2
	// block): AppendPush sets the flag from it; DecodePush sees only the
	// body, so receivers read the frame's flags.
	Compressed bool
	// Notification is FlagNotification: Payload is a Notification
	// (AppendNotification), compressed if Compressed.
	Notification bool
	// Reply is FlagReply: the account's reply to this user.
	Reply bool
}

// Resumed ends one catch-up page: Count broadcasts were replayed, the last
// being LastID (the request's cursor when Count is zero).
type Resumed struct {
	Count  uint32
	LastID uint64
}

// ResumedV2 is RESUMED in protocol version 2: Last is where the scan got
// to in every shard.
type ResumedV2 struct {
	Count uint32
	Last  Cursor
}

// done reports a decoder's verdict: no shortfall and no trailing bytes.
func done(r *binread.Reader, t Type) error {
	if !r.OK() {
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
	var flags uint8
	if m.Compress {
		flags = FlagCompress
	}
	dst = AppendHeader(dst, TypeHello, flags, 0)
	dst = append(dst, m.Version)
	dst = binary.BigEndian.AppendUint32(dst, m.Account)
	dst = appendStr16(dst, m.Credential)
	return patchLength(dst, start)
}

// DecodeHello decodes a HELLO body.
func DecodeHello(body []byte) (Hello, error) {
	r := binread.New(body)
	m := Hello{Version: r.U8(), Account: r.U32(), Credential: r.Str16(MaxCredential)}
	return m, done(r, TypeHello)
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
	r := binread.New(body)
	m := Welcome{Version: r.U8(), ID: r.U32(), HeartbeatMillis: r.U32(), MaxFrame: r.U32()}
	return m, done(r, TypeWelcome)
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
	r := binread.New(body)
	m := Error{RequestID: r.U32(), Code: Code(r.U16()), RetryAtMillis: r.U64(), Text: r.Str16(MaxErrorText)}
	return m, done(r, TypeError)
}

// AppendPublish appends a PUBLISH frame.
func AppendPublish(dst []byte, m Publish) []byte {
	start := len(dst)
	var flags uint8
	if m.DryRun {
		flags = FlagDryRun
	}
	flags |= SpeedFlags(m.Speed)
	dst = AppendHeader(dst, TypePublish, flags, 0)
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

// DecodePublish decodes a PUBLISH body's layout; Validate checks its
// fields. AudienceBytes and Payload are views.
func DecodePublish(body []byte) (Publish, error) {
	r := binread.New(body)
	m := Publish{RequestID: r.U32(), Account: r.U32(), ClientMsgID: r.Str8(255), TTLSeconds: r.U32()}
	m.AudienceKind = r.U8()
	m.AudienceBytes = r.Take(int(r.U32()))
	m.ContentType = r.Str8(255)
	m.Payload = r.Rest()
	return m, done(r, TypePublish)
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
	r := binread.New(body)
	m := PublishAck{RequestID: r.U32(), MessageID: r.U64(), Total: r.U32(), Filtered: r.U32(), Recipients: r.U32()}
	return m, done(r, TypePublishAck)
}

// AppendResume appends a RESUME frame.
func AppendResume(dst []byte, m Resume, flags uint8) []byte {
	dst = AppendHeader(dst, TypeResume, flags, 8)
	return binary.BigEndian.AppendUint64(dst, m.Cursor)
}

// DecodeResume decodes a RESUME body.
func DecodeResume(body []byte) (Resume, error) {
	r := binread.New(body)
	m := Resume{Cursor: r.U64()}
	return m, done(r, TypeResume)
}

// AppendResumeV2 appends a version 2 RESUME frame.
func AppendResumeV2(dst []byte, m ResumeV2, flags uint8) []byte {
	dst = AppendHeader(dst, TypeResume, flags, 1+8*len(m.Cursor))
	return appendCursor(dst, m.Cursor)
}

// DecodeResumeV2 decodes a version 2 RESUME body.
func DecodeResumeV2(body []byte) (ResumeV2, error) {
	r := binread.New(body)
	m := ResumeV2{Cursor: readCursor(r)}
	if err := done(r, TypeResume); err != nil {
		return ResumeV2{}, err
	}
	return m, m.Cursor.Check()
}

func appendCursor(dst []byte, c Cursor) []byte {
	dst = append(dst, byte(len(c)))
	for _, id := range c {
		dst = binary.BigEndian.AppendUint64(dst, id)
	}
	return dst
}

// readCursor reads a count byte and that many ids; the caller checks them.
func readCursor(r *binread.Reader) Cursor {
	n := int(r.U8())
	if n > MaxShards || r.Len() < 8*n {
		r.Fail()
		return nil
	}
	c := make(Cursor, n)
	for i := range c {
		c[i] = r.U64()
	}
	return c
}

// AppendPush appends a PUSH frame.
func AppendPush(dst []byte, m Push) []byte {
	start := len(dst)
	var flags uint8
	if m.Compressed {
		flags = FlagCompressed
	}
	if m.Notification {
		flags |= FlagNotification
	}
	if m.Reply {
		flags |= FlagReply
	}
	dst = AppendHeader(dst, TypePush, flags, 0)
	dst = binary.BigEndian.AppendUint64(dst, m.MessageID)
	dst = binary.BigEndian.AppendUint32(dst, m.Account)
	dst = binary.BigEndian.AppendUint64(dst, m.TimeMillis)
	dst = appendStr8(dst, m.ContentType)
	dst = append(dst, m.Payload...)
	return patchLength(dst, start)
}

// DecodePush decodes a PUSH body; Payload is a view.
func DecodePush(body []byte) (Push, error) {
	r := binread.New(body)
	m := Push{MessageID: r.U64(), Account: r.U32(), TimeMillis: r.U64(), ContentType: r.Str8(MaxContentType)}
	m.Payload = r.Rest()
	return m, done(r, TypePush)
}

// AppendAck appends an ACK frame.
func AppendAck(dst []byte, messageID uint64) []byte {
	dst = AppendHeader(dst, TypeAck, 0, 8)
	return binary.BigEndian.AppendUint64(dst, messageID)
}

// DecodeAck decodes an ACK body.
func DecodeAck(body []byte) (uint64, error) {
	r := binread.New(body)
	id := r.U64()
	return id, done(r, TypeAck)
}

// AppendFollow appends a FOLLOW or UNFOLLOW frame (t selects which).
func AppendFollow(dst []byte, t Type, requestID, account uint32) []byte {
	dst = AppendHeader(dst, t, 0, 8)
	dst = binary.BigEndian.AppendUint32(dst, requestID)
	return binary.BigEndian.AppendUint32(dst, account)
}

// DecodeFollow decodes a FOLLOW or UNFOLLOW body.
func DecodeFollow(body []byte) (requestID, account uint32, err error) {
	r := binread.New(body)
	requestID, account = r.U32(), r.U32()
	return requestID, account, done(r, TypeFollow)
}

// AppendFollowFrom appends a FOLLOW frame that gives the follow's source
// (FlagSource); "" appends a plain FOLLOW.
func AppendFollowFrom(dst []byte, requestID, account uint32, source string) []byte {
	if source == "" {
		return AppendFollow(dst, TypeFollow, requestID, account)
	}
	dst = AppendHeader(dst, TypeFollow, FlagSource, 9+len(source))
	dst = binary.BigEndian.AppendUint32(dst, requestID)
	dst = binary.BigEndian.AppendUint32(dst, account)
	return appendStr8(dst, source)
}

// DecodeFollowFrom decodes a FOLLOW body with the frame's flags: with
// FlagSource it ends with the source, which must be ValidSource.
func DecodeFollowFrom(body []byte, flags uint8) (requestID, account uint32, source string, err error) {
	if flags&FlagSource == 0 {
		requestID, account, err = DecodeFollow(body)
		return requestID, account, "", err
	}
	r := binread.New(body)
	requestID, account, source = r.U32(), r.U32(), r.Str8(MaxSource)
	if err := done(r, TypeFollow); err != nil {
		return requestID, account, "", err
	}
	if source == "" {
		return requestID, account, "", fmt.Errorf("%w: FOLLOW with an empty source", ErrInvalid)
	}
	return requestID, account, source, ValidSource(source)
}

// AppendOK appends an OK frame.
func AppendOK(dst []byte, requestID uint32) []byte {
	dst = AppendHeader(dst, TypeOK, 0, 4)
	return binary.BigEndian.AppendUint32(dst, requestID)
}

// DecodeOK decodes an OK body.
func DecodeOK(body []byte) (uint32, error) {
	r := binread.New(body)
	id := r.U32()
	return id, done(r, TypeOK)
}

// AppendResumed appends a RESUMED frame.
func AppendResumed(dst []byte, m Resumed, flags uint8) []byte {
	dst = AppendHeader(dst, TypeResumed, flags, 12)
	dst = binary.BigEndian.AppendUint32(dst, m.Count)
	return binary.BigEndian.AppendUint64(dst, m.LastID)
}

// DecodeResumed decodes a RESUMED body.
func DecodeResumed(body []byte) (Resumed, error) {
	r := binread.New(body)
	m := Resumed{Count: r.U32(), LastID: r.U64()}
	return m, done(r, TypeResumed)
}

// AppendResumedV2 appends a version 2 RESUMED frame.
func AppendResumedV2(dst []byte, m ResumedV2, flags uint8) []byte {
	dst = AppendHeader(dst, TypeResumed, flags, 5+8*len(m.Last))
	dst = binary.BigEndian.AppendUint32(dst, m.Count)
	return appendCursor(dst, m.Last)
}

// DecodeResumedV2 decodes a version 2 RESUMED body.
func DecodeResumedV2(body []byte) (ResumedV2, error) {
	r := binread.New(body)
	m := ResumedV2{Count: r.U32(), Last: readCursor(r)}
	if err := done(r, TypeResumed); err != nil {
		return ResumedV2{}, err
	}
	return m, m.Last.Check()
}

// AppendEmpty appends a frame with no body (PING, PONG).
func AppendEmpty(dst []byte, t Type) []byte {
	return AppendHeader(dst, t, 0, 0)
}

// Retract asks the server to withdraw a broadcast of the account.
type Retract struct {
	RequestID uint32
	Account   uint32
	MessageID uint64
}

// AppendRetract appends a RETRACT frame.
func AppendRetract(dst []byte, m Retract) []byte {
	dst = AppendHeader(dst, TypeRetract, 0, 16)
	dst = binary.BigEndian.AppendUint32(dst, m.RequestID)
	dst = binary.BigEndian.AppendUint32(dst, m.Account)
	return binary.BigEndian.AppendUint64(dst, m.MessageID)
}

// DecodeRetract decodes a RETRACT body.
func DecodeRetract(body []byte) (Retract, error) {
	r := binread.New(body)
	m := Retract{RequestID: r.U32(), Account: r.U32(), MessageID: r.U64()}
	return m, done(r, TypeRetract)
}

// Retracted tells a client that a broadcast was withdrawn.
type Retracted struct {
	MessageID uint64
	Account   uint32
}

// AppendRetracted appends a RETRACTED frame.
func AppendRetracted(dst []byte, m Retracted) []byte {
	dst = AppendHeader(dst, TypeRetracted, 0, 12)
	dst = binary.BigEndian.AppendUint64(dst, m.MessageID)
	return binary.BigEndian.AppendUint32(dst, m.Account)
}

// DecodeRetracted decodes a RETRACTED body.
func DecodeRetracted(body []byte) (Retracted, error) {
	r := binread.New(body)
	m := Retracted{MessageID: r.U64(), Account: r.U32()}
	return m, done(r, TypeRetracted)
}

// JobDone reports a broadcast's delivery, per recipient: SentLive +
// PendingOffline + Errors = Total - Filtered.
type JobDone struct {
	RequestID      uint32 // the PUBLISH's, or the STATUS's it answers
	MessageID      uint64
	Total          uint32
	Filtered       uint32
	SentLive       uint32
	PendingOffline uint32
	Errors         uint32
}

// AppendJobDone appends a JOB_DONE frame.
func AppendJobDone(dst []byte, m JobDone, flags uint8) []byte {
	dst = AppendHeader(dst, TypeJobDone, flags, 32)
	dst = binary.BigEndian.AppendUint32(dst, m.RequestID)
	dst = binary.BigEndian.AppendUint64(dst, m.MessageID)
	for _, v := range []uint32{m.Total, m.Filtered, m.SentLive, m.PendingOffline, m.Errors} {
		dst = binary.BigEndian.AppendUint32(dst, v)
	}
	return dst
}

// DecodeJobDone decodes a JOB_DONE body.
func DecodeJobDone(body []byte) (JobDone, error) {
	r := binread.New(body)
	m := JobDone{RequestID: r.U32(), MessageID: r.U64(), Total: r.U32(), Filtered: r.U32(),
		SentLive: r.U32(), PendingOffline: r.U32(), Errors: r.U32()}
	return m, done(r, TypeJobDone)
}

// Status asks for the delivery report of one of the account's broadcasts.
type Status struct {
	RequestID uint32
	Account   uint32
	MessageID uint64
}

// AppendStatus appends a STATUS frame.
func AppendStatus(dst []byte, m Status) []byte {
	dst = AppendHeader(dst, TypeStatus, 0, 16)
	dst = binary.BigEndian.AppendUint32(dst, m.RequestID)
	dst = binary.BigEndian.AppendUint32(dst, m.Account)
	return binary.BigEndian.AppendUint64(dst, m.MessageID)
}

// DecodeStatus decodes a STATUS body.
func DecodeStatus(body []byte) (Status, error) {
	r := binread.New(body)
	m := Status{RequestID: r.U32(), Account: r.U32(), MessageID: r.U64()}
	return m, done(r, TypeStatus)
}

// MaxBlockUsers is the most user ids one BLOCK or UNBLOCK carries.
const MaxBlockUsers = 10000

// Block adds users to (BLOCK) or removes them from (UNBLOCK) the account's
// blocklist.
type Block struct {
	RequestID uint32
	Account   uint32
	Users     []uint32
}

// AppendBlock appends a BLOCK or UNBLOCK frame (t selects which).
func AppendBlock(dst []byte, t Type, m Block) []byte {
	dst = AppendHeader(dst, t, 0, 10+4*len(m.Users))
	dst = binary.BigEndian.AppendUint32(dst, m.RequestID)
	dst = binary.BigEndian.AppendUint32(dst, m.Account)
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(m.Users)))
	for _, u := range m.Users {
		dst = binary.BigEndian.AppendUint32(dst, u)
	}
	return dst
}

// DecodeBlock decodes a BLOCK or UNBLOCK body: 1 to MaxBlockUsers users.
func DecodeBlock(body []byte) (Block, error) {
	r := binread.New(body)
	m := Block{RequestID: r.U32(), Account: r.U32()}
	n := int(r.U16())
	if n == 0 || n > MaxBlockUsers {
		r.Fail()
	} else {
		m.Users = make([]uint32, n)
		for i := range m.Users {
			m.Users[i] = r.U32()
		}
	}
	return m, done(r, TypeBlock)
}
