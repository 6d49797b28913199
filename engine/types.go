package engine

import (
	"time"

	"herald/wire"
)

// ResumeRequest asks for the broadcasts a user missed.
type ResumeRequest struct {
	User uint32
	// Cursor is the last id the user has in each shard (wire.Cursor);
	// FromStored replaces it by the cursor the engine stored for the user.
	Cursor     wire.Cursor
	FromStored bool
	// Sent is, per shard, the highest id the connection has been sent (or
	// told it need not be): the scan starts after the larger of it and the
	// cursor.
	Sent wire.Cursor
	// Compress: the connection accepts S2-compressed frames.
	Compress bool
}

// Page is one RESUME's worth of catch-up.
type Page struct {
	// Frames are PUSH frames in message-id order, the same bytes live
	// delivery sends. They are shared: the edge must not modify them.
	Frames [][]byte
	// Last is, per shard, the id the scan covered: nothing at or below it
	// remains for the user. A connection treats it as already sent. It
	// names every shard the engine holds, and no other.
	Last wire.Cursor
	// More: the page limit was reached; RESUME again from Last.
	More bool
	// HistoryMissed: the cursor is older than the oldest retained
	// broadcast, so some broadcasts for the user may be gone.
	HistoryMissed bool
	// Epoch is the engine's count of retractions when the scan began; the
	// edge passes the first page's to LoopIndex.Add.
	Epoch uint64
}

// Membership names users of an account: followers to add or remove, or
// blocklist entries.
type Membership struct {
	Account uint32
	Users   []uint32
	// Source is where new follows came from (a short code,
	// wire.ValidSource: "import", "qr", "search", or the account's own;
	// "" for none), counted in the account's daily figures. Follow only.
	Source string
}

// FollowerStatsRequest asks for an account's follower figures of days
// From to To (days since the Unix epoch, UTC), at most 366 of them.
type FollowerStatsRequest struct {
	Account  uint32
	From, To uint32
}

// FollowerDay is one UTC day's follower figures of an account, exact:
// counted in the same commit as the follows they count.
type FollowerDay struct {
	Day                uint32
	Follows, Unfollows uint64
	// Cumulative is the follower count at the end of the day.
	Cumulative uint64
	// BySource splits Follows by their sources ("" for follows that gave
	// none); nil on a day without follows.
	BySource map[string]uint64
}

// Credentials are a publisher's.
type Credentials struct {
	Account uint32
	Secret  string
}

// Account is an account as the engine reports it.
type Account struct {
	ID   uint32
	Name string
	// Tier is the tier's configured name.
	Tier          string
	CreatedMillis uint64
	// Followers is the follower count (Account and Accounts only).
	Followers uint64
	// Secret is the publisher secret, set only by CreateAccount.
	Secret string
}

// NewAccount is an account to create; an empty Tier is the default tier.
type NewAccount struct {
	Name string
	Tier string
}

// PageRequest asks for up to Limit items with ids from From on.
type PageRequest struct {
	From  uint32
	Limit int
}

// FollowersRequest asks for a page of an account's followers.
type FollowersRequest struct {
	Account uint32
	PageRequest
}

// FollowerPage is a page of followers and the count of all of them.
type FollowerPage struct {
	IDs   []uint32
	Total uint64
}

// MessageRef names one of an account's broadcasts.
type MessageRef struct {
	Account   uint32
	MessageID uint64
}

// PublishRequest is one broadcast to store and send. The engine takes
// ownership of Payload.
type PublishRequest struct {
	Account     uint32
	ClientMsgID string
	TTLSeconds  uint32
	ContentType string
	Payload     []byte
	// Preview, if not empty, sends to these users (1 to 100, followers or
	// not) instead of the followers, outside any quota.
	Preview []uint32
	// Users, if not empty, narrows the audience to these users (at most
	// 10,000) among the followers; the blocklist still applies.
	Users []uint32
	// Expr, if not empty, narrows the audience to the followers it selects
	// from the account's tags; the blocklist still applies.
	Expr wire.Expr
	// Notification, if set, makes the publish a notification (a template
	// message) of one of the account's templates to Users (1 to
	// wire.MaxNotifyUsers), with no Preview or Expr; the engine encodes
	// it as the payload, so Payload and ContentType must be empty. A
	// template without consent reaches the listed followers (the others
	// are NotSelected); a consent template reaches the listed users, each
	// spending one of the grants the user gave (ErrConsentRequired, and
	// nothing sent, if any holds none). The blocklist applies to both. A
	// notification counts its recipients against the tier's daily
	// notification limit, not against the broadcast quota or the
	// per-follower monthly cap, and is kept out of the account's
	// broadcast list and day figures.
	Notification *wire.Notification
	// ReplyTo, if not zero, makes the publish a reply to that user, who
	// must have written to the account (Write) within the service window;
	// each reply spends one of the window's replies (ErrWindowClosed
	// outside it). A reply has no Preview, Users, Expr or Notification,
	// the blocklist applies, and it counts against no quota.
	ReplyTo uint32
	// Speed is the speed level (0 to wire.MaxSpeed): live delivery goes
	// out at fanout.SpeedPerMinute(Speed) deliveries a minute across the
	// audience; 0 is as fast as the loops write.
	Speed uint8
	// DryRun resolves and counts the audience only: nothing is stored, sent,
	// counted against the quota or remembered for idempotency.
	DryRun bool
	// OnJobDone, if set, is called once delivery of the new broadcast has
	// finished on every event loop (not for a duplicate). It runs on an
	// event loop and must not block.
	OnJobDone func(JobReport)
}

// PublishResult is what PUBLISH_ACK reports.
type PublishResult struct {
	MessageID  uint64
	Total      uint32
	Filtered   uint32
	Recipients uint32
	// NotSelected and Blocked are the followers the list or expression
	// left out and the selected ones the blocklist removed (not in Total).
	NotSelected, Blocked uint32
	// Duplicate: the client_msg_id was seen within the idempotency window;
	// MessageID is the original and nothing was sent again.
	Duplicate bool
	// DryRun: the counts of a dry run; MessageID is 0.
	DryRun bool
	// Scheduled: the client_msg_id names a scheduled broadcast (Schedule):
	// nothing was sent now; MessageID is the id it was sent as, or 0 while
	// it is pending.
	Scheduled bool
}

// JobReport is what a broadcast's delivery achieved, per recipient:
// SentLive + PendingOffline + Errors = Total - Filtered.
type JobReport struct {
	MessageID uint64
	Total     uint32
	Filtered  uint32
	// SentLive: recipients with a live connection that was written the PUSH
	// (or already had it from catch-up).
	SentLive uint32
	// PendingOffline: recipients with no live connection; they receive it
	// when they resume.
	PendingOffline uint32
	// Errors: recipients whose every live connection failed the write
	// (closed meanwhile, or cut off as a slow consumer); they too receive it
	// when they resume.
	Errors uint32
	// InProgress: delivery has not finished (STATUS only).
	InProgress bool
	// Interrupted: a restart cut delivery short, so SentLive is unknown and
	// counted as pending (STATUS only).
	Interrupted bool
	// Reach is what the broadcast did since (STATUS, Broadcasts).
	Reach Reach
}

// Reach is a broadcast's analytics, each recipient counted once however
// many devices or connections it used: how the audience was filtered at
// publish, then how many acknowledged and opened it. Delivered and Opened
// move as acknowledgements are saved (every second), exact across crashes
// with the cursors they come from.
type Reach struct {
	// Kept: analytics were kept for this broadcast (not for one published
	// with analytics off); the counts below are zero otherwise.
	Kept            bool
	PublishedMillis uint64
	Preview         bool
	Retracted       bool
	// NotSelected: followers the list or expression left out; Blocked:
	// selected followers on the blocklist. Neither is in Total.
	NotSelected uint32
	Blocked     uint32
	// Delivered: recipients whose cumulative acknowledgement covers it;
	// CaughtUp: those of them that got it on a catch-up page rather than
	// live.
	Delivered uint32
	CaughtUp  uint32
	// Opened: recipients whose client sent OPENED for it.
	Opened uint32
	// Curve[i]: delivered within wire.CurveSeconds[i] of the publish.
	Curve [wire.CurvePoints]uint32
}

// BroadcastsRequest asks for a page of an account's retained broadcasts,
// newest first: up to Limit (at most 1000) with ids below Before (0: from
// the newest).
type BroadcastsRequest struct {
	Account uint32
	Before  uint64
	Limit   int
}

// BroadcastStatsRequest asks for an account's broadcast figures of days
// From to To (at most 366); account 0 asks for the server's.
type BroadcastStatsRequest struct {
	Account  uint32
	From, To uint32
}

// BroadcastDay is one UTC day's broadcasts of an account (or the server):
// those published that day, their recipients, and how many of the
// recipients have been delivered and opened them since.
type BroadcastDay struct {
	Day        uint32
	Broadcasts uint64
	Recipients uint64
	Delivered  uint64
	Opened     uint64
}

// TagOp is what a TagRequest does.
type TagOp uint8

// Tag operations; the values are the TAG frame's op byte.
const (
	TagCreate TagOp = TagOp(wire.TagCreate)
	TagRename TagOp = TagOp(wire.TagRename)
	TagDelete TagOp = TagOp(wire.TagDelete)
	TagAdd    TagOp = TagOp(wire.TagAdd)
	TagRemove TagOp = TagOp(wire.TagRemove)
)

// TagRequest changes one of an account's tags.
type TagRequest struct {
	Account uint32
	Op      TagOp
	Name    string
	NewName string   // TagRename
	Users   []uint32 // TagAdd, TagRemove: 1 to wire.MaxTagUsers; the engine takes ownership
}

// Tag is one of an account's tags.
type Tag struct {
	ID      uint32
	Name    string
	Members uint64
}

// Health is the engine's state, read from memory.
type Health struct {
	// StorageError is why the store refuses writes (the disk at its
	// reserve, a failed write); nil while it accepts them.
	StorageError error
	// DiskFree is the free bytes on the data directory's filesystem at the
	// last reading, DiskReserve the bytes kept free (0 when unknown).
	DiskFree, DiskReserve int64
	// LastMessageID is the highest committed message id, FirstRetained the
	// lowest id catch-up can still replay. Newest is, per shard, the
	// highest committed id (a cluster's edge: what each core last said).
	LastMessageID, FirstRetained uint64
	Newest                       wire.Cursor
	// Delivered and DeliveredBytes count the PUSH frames live delivery has
	// handed to sinks.
	Delivered, DeliveredBytes uint64
	// Shards is how many shards the engine's message ids span (see
	// wire.Cursor): 1 for one engine, a cluster's cores for its edge. It
	// never changes.
	Shards int
	// Bus is the state of the link to the cluster, for an engine reached
	// over one (a cluster's edge); nil otherwise.
	Bus *BusHealth
}

// BusHealth is an edge's link to its cluster's bus.
type BusHealth struct {
	// Connected: the NATS connection is up.
	Connected bool
	// CoreSilence is how long since the core's last heartbeat (-1: none
	// yet).
	CoreSilence time.Duration
	// Lag is how many broadcasts the core has relayed that this edge has
	// not delivered yet.
	Lag uint64
	// Refused counts bus messages that did not decode; Recovered the
	// broadcast parts fetched after a gap; Lost those the core could not
	// give (their recipients here get them on catch-up).
	Refused, Recovered, Lost uint64
}

// TemplateOp is what a TemplateRequest does; the values are the TEMPLATE
// frame's op byte.
type TemplateOp uint8

// Template operations.
const (
	TemplateDefine TemplateOp = TemplateOp(wire.TemplateDefine)
	TemplateDelete TemplateOp = TemplateOp(wire.TemplateDelete)
)

// TemplateRequest defines (creates or replaces) or deletes one of an
// account's templates; a delete needs only the template's name.
type TemplateRequest struct {
	Account  uint32
	Op       TemplateOp
	Template wire.TemplateInfo
}

// ConsentOp is what a ConsentRequest does; the values are the CONSENT
// frame's op byte.
type ConsentOp uint8

// Consent operations.
const (
	ConsentGrant ConsentOp = ConsentOp(wire.ConsentGrant)
	ConsentBan   ConsentOp = ConsentOp(wire.ConsentBan)
	ConsentUnban ConsentOp = ConsentOp(wire.ConsentUnban)
)

// ConsentRequest is a user's answer to one of an account's consent
// templates: a grant of Count more notifications, a ban, or its lifting.
type ConsentRequest struct {
	User     uint32
	Account  uint32
	Template string
	Op       ConsentOp
	Count    uint32 // ConsentGrant
}

// ConsentState is what a user holds for one of an account's templates.
type ConsentState struct {
	Remaining uint32
	Banned    bool
}

// Letter is a follower's message to an account (MESSAGE): who wrote what,
// with the account's sequence number for it.
type Letter = wire.Letter

// LetterRequest is what a follower writes to an account. The engine takes
// ownership of Payload.
type LetterRequest struct {
	User        uint32
	Account     uint32
	ContentType string
	Payload     []byte
}

// InboxRequest asks for up to Limit (at most wire.MaxInboxPage) of the
// account's letters after seq After.
type InboxRequest struct {
	Account uint32
	After   uint64
	Limit   int
}

// ScheduleRequest is a broadcast to publish at SendAt: its audience is
// resolved and its quota counted then. It may not be a dry run, a
// notification or a reply; OnJobDone is not called.
type ScheduleRequest struct {
	PublishRequest
	SendAt time.Time
}

// CancelRequest names a scheduled broadcast to withdraw before it is sent.
type CancelRequest struct {
	Account     uint32
	ClientMsgID string
}

// ScheduledBroadcast is one of an account's scheduled broadcasts.
type ScheduledBroadcast struct {
	ClientMsgID string
	SendAt      time.Time
	// State is "pending", "sent" (as MessageID) or "failed" (Error says
	// why: the quota of the day it fell due, say).
	State     string
	MessageID uint64
	Error     string
}

// Confirmation is a broadcast to all followers waiting for an operator's
// confirmation.
type Confirmation struct {
	ClientMsgID string
	Since       time.Time
	Expires     time.Time
}

// ConfirmRequest confirms (Accept) or rejects a waiting broadcast.
type ConfirmRequest struct {
	Account     uint32
	ClientMsgID string
	Accept      bool
}
