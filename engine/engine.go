package engine

import (
	"context"
	"time"

	"herald/wire"
)

// Engine is what an edge asks of the engine. See the package doc for the
// calling convention; each method says what it does.
type Engine interface {
	// RegisterLoop adds an event loop and returns its online index. Call
	// once per loop, before it serves connections.
	RegisterLoop(loop Loop) LoopIndex
	// Health reports the engine's state from memory.
	Health() Health

	// VerifyToken checks a client token and returns its user.
	// ErrTokenExpired and ErrTokenInvalid are its refusals.
	VerifyToken(token string, now time.Time) (user uint32, err error)
	// MintToken signs a client token for user, valid until expires.
	MintToken(user uint32, expires time.Time) (string, error)
	// RotateTokenKey starts signing tokens with a new key; tokens of the
	// replaced key verify for overlap more (the engine's default if
	// negative). It answers when the replaced key stops verifying.
	RotateTokenKey(overlap time.Duration, done func(time.Time, error))

	// Resume answers one page of the broadcasts addressed to the user after
	// the cursor, in id order (see the package doc for going live).
	Resume(req ResumeRequest, done func(Page, error))
	// Acknowledge records a user's cumulative acknowledgement of id;
	// caughtUp is the highest id of id's shard that the acknowledging
	// connection was sent on a catch-up page (what it got before going
	// live). Cursors, with the deliveries they count, are saved in
	// batches.
	Acknowledge(user uint32, id, caughtUp uint64)
	// Open records that the user opened broadcast id (OPENED); it counts
	// once per user, for a user in the broadcast's audience.
	Open(user uint32, id uint64)
	// Follow and Unfollow change an account's followers, Block and
	// Unblock its blocklist; each answers, once the change is durable, how
	// many users changed. The engine takes ownership of the users slice.
	Follow(req Membership, done func(int, error))
	Unfollow(req Membership, done func(int, error))
	Block(req Membership, done func(int, error))
	Unblock(req Membership, done func(int, error))

	// Authenticate checks a publisher's credentials (ErrAuth if the
	// account is unknown or the secret wrong).
	Authenticate(req Credentials, done func(struct{}, error))
	// Publish stores a broadcast durably, answers, then delivers it.
	Publish(req PublishRequest, done func(PublishResult, error))
	// Confirmations lists the account's broadcasts to all followers that
	// wait for an operator (the tier's confirm_all_seconds); Confirm sends
	// (Accept) or rejects one: its publish answers then.
	Confirmations(account uint32, done func([]Confirmation, error))
	Confirm(req ConfirmRequest, done func(struct{}, error))
	// Schedule stores a broadcast to publish at its time and answers once
	// that is durable (a client_msg_id already used answers as Publish's
	// duplicate); Cancel withdraws one not yet sent; Schedules lists the
	// account's, pending and done.
	Schedule(req ScheduleRequest, done func(PublishResult, error))
	Cancel(req CancelRequest, done func(struct{}, error))
	Schedules(account uint32, done func([]ScheduledBroadcast, error))
	// Retract withdraws a retained broadcast of the account, answering once
	// that is durable; online recipients are sent RETRACTED.
	Retract(req MessageRef, done func(struct{}, error))
	// Status reports the delivery of a retained broadcast of the account,
	// with its reach.
	Status(req MessageRef, done func(JobReport, error))
	// Broadcasts answers a page of the account's retained broadcasts,
	// newest first, each with its report and reach.
	Broadcasts(req BroadcastsRequest, done func([]JobReport, error))
	// BroadcastStats answers the account's (account 0: the server's)
	// broadcast figures for each day of the request that had a broadcast.
	BroadcastStats(req BroadcastStatsRequest, done func([]BroadcastDay, error))
	// Tag changes one of an account's tags and answers the tag as it now
	// is (as it was, for a delete); Tags lists them in name order.
	Tag(req TagRequest, done func(Tag, error))
	Tags(account uint32, done func([]Tag, error))
	// Template defines or deletes one of an account's templates and
	// answers it as it now is (as it was, for a delete); Templates lists
	// them in name order.
	Template(req TemplateRequest, done func(wire.TemplateInfo, error))
	Templates(account uint32, done func([]wire.TemplateInfo, error))
	// Consent records a user's grant, ban or unban of one of an account's
	// consent templates and answers, once that is durable, what the user
	// now holds.
	Consent(req ConsentRequest, done func(ConsentState, error))
	// Write stores a follower's letter to an account it follows and opens
	// (or renews) the service window for replies to the user, answering
	// its seq once durable; Inbox answers letters in seq order.
	Write(req LetterRequest, done func(uint64, error))
	Inbox(req InboxRequest, done func([]Letter, error))

	// CreateAccount creates an account and answers it with its publisher
	// secret, which is shown once: only its hash is stored.
	CreateAccount(req NewAccount, done func(Account, error))
	// Account answers one account, with its follower count
	// (ErrUnknownAccount if there is none).
	Account(id uint32, done func(Account, error))
	// Accounts answers a page of accounts in id order, each with its
	// follower count.
	Accounts(req PageRequest, done func([]Account, error))
	// Following answers how many of req.Users follow req.Account (the
	// dashboard's online followers: an edge asks about its online users).
	Following(req Membership, done func(int, error))
	// Followers answers a page of an account's followers in id order.
	Followers(req FollowersRequest, done func(FollowerPage, error))
	// FollowerStats answers the account's follower figures for each day
	// of the request, in day order.
	FollowerStats(req FollowerStatsRequest, done func([]FollowerDay, error))
}

// Loop is an event loop as the engine sees it.
type Loop interface {
	// Execute runs fn on the loop's goroutine, after the work queued
	// before it. It must be safe to call from any goroutine.
	Execute(fn func()) error
}

// Sink is one client connection as the engine sees it. Its methods are
// called only on the goroutine of the loop it was added to.
type Sink interface {
	// Deliver writes shared, read-only frames, ideally with one writev.
	// ids[i] is the message id of PUSH frames[i], increasing within each
	// shard (wire.ShardOf); an id of 0
	// marks a control frame (RETRACTED) that must be written whatever the
	// sink has sent before. Both slices are the loop's scratch, rebuilt for
	// each sink: the sink may reorder or reslice their elements but must
	// keep neither, and must not modify the bytes of a frame. It reports
	// whether the frames were written (or had been sent already); false
	// means the connection failed or is closing.
	Deliver(frames [][]byte, ids []uint64) bool
}

// LoopIndex is one loop's online users. Its methods run on that loop.
type LoopIndex interface {
	// Add puts sink online for user after a catch-up: covered is the last
	// page's Last, since the first page's Epoch. It refuses (false) if the
	// loop has been handed a delivery with an id above covered in its
	// shard since the scan: the caller then resumes again from covered,
	// keeping since. It
	// first writes the RETRACTED notices for the user that the scan may
	// have missed. compress says whether the sink accepts compressed
	// frames.
	Add(user uint32, sink Sink, compress bool, covered wire.Cursor, since uint64) bool
	// Remove takes sink offline; a no-op for a sink that is not online.
	Remove(user uint32, sink Sink)
	// Online returns how many users are online on this loop.
	Online() int
}

// Call makes an engine method blocking: it calls method with req and waits
// for the answer or for ctx to end. When ctx ends first the request may
// still take effect; the caller only stops waiting.
func Call[Q, R any](ctx context.Context, method func(Q, func(R, error)), req Q) (R, error) {
	type answer struct {
		r   R
		err error
	}
	ch := make(chan answer, 1)
	method(req, func(r R, err error) { ch <- answer{r, err} })
	select {
	case a := <-ch:
		return a.r, a.err
	case <-ctx.Done():
		var zero R
		return zero, ctx.Err()
	}
}
