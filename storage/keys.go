package storage

import (
	"encoding/binary"
	"fmt"
)

// Key prefixes; see the table in doc.go.
const (
	prefixMeta        byte = 0x01
	prefixAccount     byte = 0x02
	prefixFollowers   byte = 0x03
	prefixFollowCount byte = 0x04
	prefixSubscribed  byte = 0x05
	prefixBroadcast   byte = 0x06
	prefixAudience    byte = 0x07
	prefixIdempotency byte = 0x08
	prefixCursor      byte = 0x09
	prefixJobReport   byte = 0x0a
	prefixQuota       byte = 0x0b
	prefixBlocked     byte = 0x0c
	prefixTag         byte = 0x0d
	prefixTagName     byte = 0x0e
	prefixTagMembers  byte = 0x0f
	prefixReceived    byte = 0x10
	prefixFollowStats byte = 0x11
	prefixBcastStats  byte = 0x12
	prefixPublished   byte = 0x13
	prefixDelivered   byte = 0x14
	prefixAccountLog  byte = 0x15
	prefixOpened      byte = 0x16
	prefixTemplate    byte = 0x17
	prefixNotified    byte = 0x18
	prefixConsent     byte = 0x19
	prefixInbox       byte = 0x1a
	prefixWindow      byte = 0x1b
	prefixSchedule    byte = 0x1c
	prefixDue         byte = 0x1d
	prefixManifest    byte = 0x1e
	prefixChunkUses   byte = 0x1f
	prefixLeft        byte = 0x20
	prefixListed      byte = 0x21
	prefixWalked      byte = 0x22
)

func metaKey(name string) []byte { return append([]byte{prefixMeta}, name...) }

func u32Key(prefix byte, v uint32) []byte {
	return binary.BigEndian.AppendUint32([]byte{prefix}, v)
}

func accountKey(account uint32) []byte { return u32Key(prefixAccount, account) }

func followCountKey(account uint32) []byte { return u32Key(prefixFollowCount, account) }

func cursorKey(user uint32) []byte { return u32Key(prefixCursor, user) }

// followerChunkKey is 0x03 | account | high16.
func followerChunkKey(account uint32, high uint16) []byte {
	return binary.BigEndian.AppendUint16(u32Key(prefixFollowers, account), high)
}

// followerPrefix bounds every chunk of one account's follower set.
func followerPrefix(account uint32) []byte { return u32Key(prefixFollowers, account) }

func subscribedKey(user, account uint32) []byte {
	return binary.BigEndian.AppendUint32(u32Key(prefixSubscribed, user), account)
}

func subscribedPrefix(user uint32) []byte { return u32Key(prefixSubscribed, user) }

func broadcastKey(message uint64) []byte {
	return binary.BigEndian.AppendUint64([]byte{prefixBroadcast}, message)
}

func audienceChunkKey(message uint64, high uint16) []byte {
	return binary.BigEndian.AppendUint16(broadcastKeyWith(prefixAudience, message), high)
}

func audiencePrefix(message uint64) []byte { return broadcastKeyWith(prefixAudience, message) }

func broadcastKeyWith(prefix byte, message uint64) []byte {
	return binary.BigEndian.AppendUint64([]byte{prefix}, message)
}

func idempotencyKey(account uint32, clientMsgID string) []byte {
	return append(u32Key(prefixIdempotency, account), clientMsgID...)
}

func tagKey(tag uint32) []byte { return u32Key(prefixTag, tag) }

// tagNameKey is 0x0e | account | name.
func tagNameKey(account uint32, name string) []byte {
	return append(u32Key(prefixTagName, account), name...)
}

func tagNamePrefix(account uint32) []byte { return u32Key(prefixTagName, account) }

// tagMembersPrefix bounds the member chunks of one tag: 0x0f | tag | high16.
func tagMembersPrefix(tag uint32) []byte { return u32Key(prefixTagMembers, tag) }

// receivedPrefix bounds one account's per-follower monthly counts:
// 0x10 | account | month | level | high16, where level k holds the
// followers who received at least k of the account's broadcasts in month
// (months since January 1970, UTC).
func receivedPrefix(account uint32) []byte { return u32Key(prefixReceived, account) }

func receivedLevelPrefix(account, month uint32, level uint8) []byte {
	return append(binary.BigEndian.AppendUint32(receivedPrefix(account), month), level)
}

// followStatsKey is 0x11 | account | day | source: one day's follows of
// the account from one source (and, with source "", its unfollows).
func followStatsKey(account, day uint32, source string) []byte {
	return append(binary.BigEndian.AppendUint32(u32Key(prefixFollowStats, account), day), source...)
}

// dayKey is prefix | account | day (days since the Unix epoch, UTC);
// account 0 holds the server's totals.
func dayKey(prefix byte, account, day uint32) []byte {
	return binary.BigEndian.AppendUint32(u32Key(prefix, account), day)
}

// accountLogKey is 0x15 | account | message: the account's broadcasts.
func accountLogKey(account uint32, message uint64) []byte {
	return binary.BigEndian.AppendUint64(u32Key(prefixAccountLog, account), message)
}

// leftKey is 0x20 | user | account: the user unfollowed the account
// (catchup_index.go).
func leftKey(user, account uint32) []byte {
	return binary.BigEndian.AppendUint32(u32Key(prefixLeft, user), account)
}

// listedKey is 0x21 | user | message: a broadcast that listed the user.
func listedKey(user uint32, message uint64) []byte {
	return binary.BigEndian.AppendUint64(u32Key(prefixListed, user), message)
}

// openedKey is 0x16 | message | user: the user opened the broadcast.
func openedKey(message uint64, user uint32) []byte {
	return binary.BigEndian.AppendUint32(broadcastKeyWith(prefixOpened, message), user)
}

// templateKey is 0x17 | account | name: one of the account's templates.
func templateKey(account uint32, name string) []byte {
	return append(u32Key(prefixTemplate, account), name...)
}

// consentKey is 0x19 | account | user | template: what the user granted.
func consentKey(account, user uint32, template string) []byte {
	return append(binary.BigEndian.AppendUint32(u32Key(prefixConsent, account), user), template...)
}

// inboxKey is 0x1a | account | seq: one letter followers wrote.
func inboxKey(account uint32, seq uint64) []byte {
	return binary.BigEndian.AppendUint64(u32Key(prefixInbox, account), seq)
}

// windowKey is 0x1b | account | user: the user's service window.
func windowKey(account, user uint32) []byte {
	return binary.BigEndian.AppendUint32(u32Key(prefixWindow, account), user)
}

// scheduleKey is 0x1c | account | client_msg_id: a scheduled broadcast.
func scheduleKey(account uint32, clientMsgID string) []byte {
	return append(u32Key(prefixSchedule, account), clientMsgID...)
}

// dueKey is 0x1d | send_at_ms | account | client_msg_id: a scheduled
// broadcast not sent yet, in the order they fall due.
func dueKey(sendAt uint64, account uint32, clientMsgID string) []byte {
	k := binary.BigEndian.AppendUint64([]byte{prefixDue}, sendAt)
	return append(binary.BigEndian.AppendUint32(k, account), clientMsgID...)
}

// prefixEnd returns the smallest key greater than every key with prefix p.
func prefixEnd(p []byte) []byte {
	end := append([]byte(nil), p...)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] != 0xff {
			end[i]++
			return end[:i+1]
		}
	}
	return nil
}

// keyString renders a key for error messages.
func keyString(k []byte) string {
	if len(k) == 0 {
		return "<empty>"
	}
	names := map[byte]string{
		prefixMeta: "meta", prefixAccount: "account", prefixFollowers: "followers",
		prefixFollowCount: "follow-count", prefixSubscribed: "subscribed", prefixBroadcast: "broadcast",
		prefixAudience: "audience", prefixIdempotency: "idempotency", prefixCursor: "cursor",
		prefixJobReport: "job-report", prefixQuota: "quota", prefixBlocked: "blocked",
		prefixTag: "tag", prefixTagName: "tag-name", prefixTagMembers: "tag-members", prefixReceived: "received",
		prefixFollowStats: "follow-stats", prefixBcastStats: "broadcast-stats", prefixPublished: "published",
		prefixDelivered: "delivered", prefixAccountLog: "account-log", prefixOpened: "opened",
		prefixTemplate: "template", prefixNotified: "notified", prefixConsent: "consent",
		prefixInbox: "inbox", prefixWindow: "window", prefixSchedule: "schedule", prefixDue: "due",
		prefixManifest: "manifest", prefixChunkUses: "chunk-uses", prefixLeft: "left",
		prefixListed: "listed", prefixWalked: "walked",
	}
	name, ok := names[k[0]]
	if !ok {
		name = fmt.Sprintf("prefix-%#x", k[0])
	}
	return fmt.Sprintf("%s/%x", name, k[1:])
}
