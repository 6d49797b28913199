package wire

import "encoding/binary"

// Protocol versions. A server speaks both: version 1 carries a single
// cursor id (a single server's, shard 0), version 2 a Cursor of one id per
// shard (RESUME and RESUMED); every other frame is the same in both.
// Version is the newest, the one the Go SDK speaks.
const (
	Version1 = 1
	Version2 = 2
	Version  = Version2
)

// HeaderSize is the length prefix plus the type and flags bytes.
const HeaderSize = 6

// DefaultMaxFrame is the largest length field accepted unless configured
// otherwise: 1 MiB of body, which bounds a PUBLISH payload.
const DefaultMaxFrame = 1 << 20

// Type identifies a frame.
type Type uint8

// Frame types. The numbering groups the session frames (0x0_), the publisher
// role (0x1_) and the client role (0x2_).
const (
	TypeHello      Type = 0x01 // → server: version, account, credential
	TypeWelcome    Type = 0x02 // ← server: session accepted
	TypePing       Type = 0x03 // either way; answered with PONG
	TypePong       Type = 0x04 // either way
	TypeError      Type = 0x05 // ← server: request or connection error
	TypePublish    Type = 0x10 // publisher → server
	TypePublishAck Type = 0x11 // server → publisher
	TypeRetract    Type = 0x12 // publisher → server: withdraw a broadcast
	TypeJobDone    Type = 0x13 // server → publisher: delivery report
	TypeStatus     Type = 0x14 // publisher → server: ask for a delivery report
	TypeBlock      Type = 0x15 // publisher → server: add users to the blocklist
	TypeUnblock    Type = 0x16 // publisher → server: remove users from it
	TypeTag        Type = 0x17 // publisher → server: create, rename, delete, fill or list tags
	TypeTags       Type = 0x18 // server → publisher: answer to TAG
	TypeReach      Type = 0x19 // server → publisher: a broadcast's reach (STATUS with REACH)
	TypeNotify     Type = 0x1a // publisher → server: a notification (template message) to listed users
	TypeTemplate   Type = 0x1b // publisher → server: define, delete or list templates
	TypeTemplates  Type = 0x1c // server → publisher: answer to TEMPLATE
	TypeInbox      Type = 0x1d // publisher → server: read (and watch) what followers wrote
	TypeLetters    Type = 0x1e // server → publisher: follower messages, answering INBOX
	TypeSchedule   Type = 0x1f // publisher → server: a broadcast to send at a time
	TypeCancel     Type = 0x30 // publisher → server: withdraw a scheduled broadcast (0x3_: publisher role, continued)
	TypeResume     Type = 0x20 // client → server: replay from cursor
	TypePush       Type = 0x21 // server → client: one broadcast
	TypeAck        Type = 0x22 // client → server: cumulative acknowledgement
	TypeFollow     Type = 0x23 // client → server
	TypeUnfollow   Type = 0x24 // client → server
	TypeOK         Type = 0x25 // server → client: FOLLOW/UNFOLLOW done
	TypeResumed    Type = 0x26 // server → client: catch-up page finished
	TypeRetracted  Type = 0x27 // server → client: a broadcast was withdrawn
	TypeOpened     Type = 0x28 // client → server: the user opened a broadcast
	TypeConsent    Type = 0x29 // client → server: grant, ban or unban an account's template
	TypeMessage    Type = 0x2a // client → server: a follower's message to an account
)

var typeNames = map[Type]string{
	TypeHello: "HELLO", TypeWelcome: "WELCOME", TypePing: "PING", TypePong: "PONG",
	TypeError: "ERROR", TypePublish: "PUBLISH", TypePublishAck: "PUBLISH_ACK",
	TypeResume: "RESUME", TypePush: "PUSH", TypeAck: "ACK", TypeFollow: "FOLLOW",
	TypeUnfollow: "UNFOLLOW", TypeOK: "OK", TypeResumed: "RESUMED",
	TypeRetract: "RETRACT", TypeRetracted: "RETRACTED", TypeJobDone: "JOB_DONE", TypeStatus: "STATUS",
	TypeBlock: "BLOCK", TypeUnblock: "UNBLOCK", TypeTag: "TAG", TypeTags: "TAGS", TypeReach: "REACH", TypeOpened: "OPENED",
	TypeNotify: "NOTIFY", TypeTemplate: "TEMPLATE", TypeTemplates: "TEMPLATES", TypeConsent: "CONSENT",
	TypeInbox: "INBOX", TypeLetters: "LETTERS", TypeMessage: "MESSAGE", TypeSchedule: "SCHEDULE", TypeCancel: "CANCEL",
}

func (t Type) String() string {
	if name, ok := typeNames[t]; ok {
		return name
	}
	return "UNKNOWN"
}

// Flag bits, meaningful only on the frame types named.
const (
	// FlagDuplicate on PUBLISH_ACK: the client_msg_id was seen before and the
	// original message id is returned; nothing was sent again.
	FlagDuplicate uint8 = 1 << 0
	// FlagDryRun on PUBLISH: resolve and count the audience only; on
	// PUBLISH_ACK: this answers a dry run (message id 0, nothing stored).
	FlagDryRun uint8 = 1 << 1
	// SpeedMask on PUBLISH: bits 2 to 4 are the speed level, 0 (as fast as
	// possible) to MaxSpeed: SpeedOf and SpeedFlags read and set them.
	SpeedMask uint8 = 7 << 2
	// FlagScheduled on PUBLISH_ACK: this answers a SCHEDULE (or a PUBLISH
	// whose client_msg_id names a scheduled broadcast): the broadcast is
	// to be sent at its time; message_id is 0 until it is (with
	// FlagDuplicate, the id it was sent as).
	FlagScheduled uint8 = 1 << 2
	// FlagFromStored on RESUME: ignore the cursor field and resume from the
	// cursor the server stored from this user's last cumulative ACK.
	FlagFromStored uint8 = 1 << 0
	// FlagMore on RESUMED: the page limit was reached; send RESUME again from
	// the last received message id to continue.
	FlagMore uint8 = 1 << 0
	// FlagHistoryMissed on RESUMED: the cursor is older than the oldest
	// retained broadcast; broadcasts for the user may have been removed.
	FlagHistoryMissed uint8 = 1 << 1
	// FlagCompress on HELLO (client listener): the client accepts PUSH
	// payloads compressed as S2 blocks.
	FlagCompress uint8 = 1 << 0
	// FlagCompressed on PUSH: the payload is one S2 block (its decoded
	// length is stated at its start).
	FlagCompressed uint8 = 1 << 0
	// FlagNotification on PUSH: the message is a notification; its
	// payload (once decompressed) is a Notification (AppendNotification)
	// and its content type is empty.
	FlagNotification uint8 = 1 << 1
	// FlagReply on PUSH: the message is the account's reply to this user
	// (PUBLISH with AudienceReply), within the service window.
	FlagReply uint8 = 1 << 2
	// FlagInProgress on JOB_DONE (answering STATUS): delivery has not
	// finished; the live counts are zero.
	FlagInProgress uint8 = 1 << 0
	// FlagInterrupted on JOB_DONE (answering STATUS): a server restart cut
	// delivery short; live counts are unknown and counted as pending.
	FlagInterrupted uint8 = 1 << 1
	// FlagSource on FOLLOW: the body ends with the follow's source (str8),
	// counted in the account's daily figures.
	FlagSource uint8 = 1 << 0
)

// Frame is one decoded frame. Body is a view into the parser's input or
// buffer and is valid only until the callback that received it returns.
type Frame struct {
	Type  Type
	Flags uint8
	Body  []byte
}

// AppendHeader appends a frame header for a body of bodyLen bytes.
func AppendHeader(dst []byte, t Type, flags uint8, bodyLen int) []byte {
	dst = binary.BigEndian.AppendUint32(dst, uint32(2+bodyLen))
	return append(dst, byte(t), flags)
}

// AppendFrame appends a whole frame with the given body.
func AppendFrame(dst []byte, t Type, flags uint8, body []byte) []byte {
	dst = AppendHeader(dst, t, flags, len(body))
	return append(dst, body...)
}

// patchLength rewrites the length field of a frame that starts at start in
// dst, once its body has been appended.
func patchLength(dst []byte, start int) []byte {
	binary.BigEndian.PutUint32(dst[start:], uint32(len(dst)-start-4))
	return dst
}

// MaxSpeed is the slowest speed level.
const MaxSpeed = 5

// SpeedOf returns the speed level in a PUBLISH's flags.
func SpeedOf(flags uint8) uint8 { return (flags & SpeedMask) >> 2 }

// SpeedFlags returns the PUBLISH flag bits of a speed level.
func SpeedFlags(level uint8) uint8 { return level << 2 & SpeedMask }
