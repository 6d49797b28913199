package fanout

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"github.com/RoaringBitmap/roaring/v2"

	"herald/server/wire"
	"herald/storage"
)

// accountOp creates an account.
type accountOp struct {
	account storage.Account
	err     error
	done    chan struct{}
}

func (o *accountOp) apply(_ *Engine, b *storage.Batch, now uint64) (err error) {
	o.account.CreatedMillis = now
	o.account, err = b.CreateAccount(o.account)
	return err
}

func (o *accountOp) finish(err error)    { o.err = err; close(o.done) }
func (o *accountOp) delivery() *delivery { return nil }

// CreateAccount creates an account and returns it with its publisher
// secret, which is shown once: only its hash is stored.
func (e *Engine) CreateAccount(ctx context.Context, name string, tier storage.Tier) (storage.Account, string, error) {
	if name == "" || len(name) > 255 {
		return storage.Account{}, "", fmt.Errorf("%w: account name must be 1 to 255 bytes", ErrBadRequest)
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return storage.Account{}, "", err
	}
	secret := base64.RawURLEncoding.EncodeToString(raw)
	o := &accountOp{account: storage.Account{Name: name, Tier: tier, SecretHash: sha256.Sum256([]byte(secret))}, done: make(chan struct{})}
	if err := e.wait(ctx, o, o.done); err != nil {
		return storage.Account{}, "", err
	}
	return o.account, secret, o.err
}

// Authenticate checks a publisher's credentials.
func (e *Engine) Authenticate(account uint32, secret string) error {
	a, err := e.store.Account(account)
	if errors.Is(err, storage.ErrNotFound) {
		return ErrAuth
	}
	if err != nil {
		return err
	}
	sum := sha256.Sum256([]byte(secret))
	if subtle.ConstantTimeCompare(sum[:], a.SecretHash[:]) != 1 {
		return ErrAuth
	}
	return nil
}

// followOp adds or removes followers of one account.
type followOp struct {
	account uint32
	users   []uint32
	add     bool
	changed int
	reply   func(changed int, err error)
}

func (o *followOp) apply(_ *Engine, b *storage.Batch, _ uint64) (err error) {
	if _, err := b.Account(o.account); err != nil {
		if errors.Is(err, storage.ErrNotFound) {
			return fmt.Errorf("%w: %d", ErrUnknownAccount, o.account)
		}
		return err
	}
	if o.add {
		o.changed, err = b.AddFollowers(o.account, o.users)
	} else {
		o.changed, err = b.RemoveFollowers(o.account, o.users)
	}
	return err
}

func (o *followOp) finish(err error)    { o.reply(o.changed, err) }
func (o *followOp) delivery() *delivery { return nil }

// FollowAsync makes users follow (add) or unfollow account and calls reply,
// from the writer goroutine, once the change is durable. The engine takes
// ownership of users.
func (e *Engine) FollowAsync(account uint32, users []uint32, add bool, reply func(changed int, err error)) {
	if err := e.submit(&followOp{account: account, users: users, add: add, reply: reply}); err != nil {
		reply(0, err)
	}
}

// Follow is FollowAsync that waits for the answer.
func (e *Engine) Follow(ctx context.Context, account uint32, users []uint32, add bool) (int, error) {
	done := make(chan struct{})
	var changed int
	var ferr error
	o := &followOp{account: account, users: users, add: add, reply: func(n int, err error) {
		changed, ferr = n, err
		close(done)
	}}
	if err := e.wait(ctx, o, done); err != nil {
		return 0, err
	}
	return changed, ferr
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
	// Duplicate: the client_msg_id was seen within the idempotency window;
	// MessageID is the original and nothing was sent again.
	Duplicate bool
}

type publishOp struct {
	req     PublishRequest
	result  PublishResult
	send    *delivery
	started JobReport
	reply   func(PublishResult, error)
	e       *Engine
}

func (o *publishOp) apply(e *Engine, b *storage.Batch, now uint64) error {
	o.result, o.send, o.e = PublishResult{}, nil, e
	account, err := b.Account(o.req.Account)
	if errors.Is(err, storage.ErrNotFound) {
		return fmt.Errorf("%w: %d", ErrUnknownAccount, o.req.Account)
	}
	if err != nil {
		return err
	}
	original, found, err := b.LookupIdempotency(o.req.Account, o.req.ClientMsgID, now)
	if err != nil {
		return err
	}
	if found {
		m, err := b.Broadcast(original)
		if errors.Is(err, storage.ErrNotFound) {
			// Retention already removed it: the id is still the answer.
			o.result = PublishResult{MessageID: original, Duplicate: true}
			return nil
		}
		if err != nil {
			return err
		}
		o.result = PublishResult{MessageID: original, Total: m.Total, Filtered: m.Filtered, Recipients: m.Total - m.Filtered, Duplicate: true}
		return nil
	}
	// Quota is checked and counted in the same batch as the broadcast, by
	// the single writer, so concurrent publishers cannot both take the last
	// one and a counted broadcast survives any crash its ack survives.
	if limit := e.cfg.DailyQuota[account.Tier]; limit > 0 && len(o.req.Preview) == 0 {
		day := uint32(now / uint64(24*time.Hour/time.Millisecond))
		used, err := b.QuotaCount(account.ID, day)
		if err != nil {
			return err
		}
		if used >= uint64(limit) {
			return &QuotaError{Limit: limit, ResetAt: time.UnixMilli(int64(day+1) * int64(24*time.Hour/time.Millisecond))}
		}
		if err := b.SetQuotaCount(account.ID, day, used+1); err != nil {
			return err
		}
	}
	var audience *roaring.Bitmap
	if len(o.req.Preview) > 0 {
		audience = roaring.BitmapOf(o.req.Preview...)
	} else if audience, err = b.Followers(o.req.Account); err != nil {
		return err
	}
	m := storage.Broadcast{
		Preview:     len(o.req.Preview) > 0,
		Account:     o.req.Account,
		TimeMillis:  now,
		TTLSeconds:  o.req.TTLSeconds,
		ClientMsgID: o.req.ClientMsgID,
		ContentType: o.req.ContentType,
		Total:       uint32(audience.GetCardinality()),
		Payload:     o.req.Payload,
	}
	if m.ID, err = b.AddBroadcast(m, audience); err != nil {
		return err
	}
	if err := b.PutIdempotency(o.req.Account, o.req.ClientMsgID, m.ID, now); err != nil {
		return err
	}
	o.result = PublishResult{MessageID: m.ID, Total: m.Total, Recipients: m.Total}
	o.send = newDelivery(m, audience, e.cfg.CompressMin)
	report := JobReport{MessageID: m.ID, Total: m.Total, Filtered: m.Filtered}
	notify := o.req.OnJobDone
	o.send.job = newJob(report, func(r JobReport) {
		e.jobs.finished(r)
		if notify != nil {
			notify(r)
		}
	})
	o.started = report
	return nil
}

func (o *publishOp) finish(err error) {
	if err == nil && o.send != nil {
		o.e.jobs.started(o.started)
	}
	o.reply(o.result, err)
}

func (o *publishOp) delivery() *delivery { return o.send }

// Publish stores a broadcast durably and then delivers it; reply is called
// from the writer goroutine after the fsync and before delivery starts, so
// it must not block.
func (e *Engine) Publish(req PublishRequest, reply func(PublishResult, error)) {
	if err := e.validate(req); err != nil {
		reply(PublishResult{}, err)
		return
	}
	if err := e.submit(&publishOp{req: req, reply: reply}); err != nil {
		reply(PublishResult{}, err)
	}
}

// PublishWait is Publish that waits for the acknowledgement.
func (e *Engine) PublishWait(ctx context.Context, req PublishRequest) (PublishResult, error) {
	done := make(chan struct{})
	var result PublishResult
	var perr error
	reply := func(r PublishResult, err error) { result, perr = r, err; close(done) }
	if err := e.validate(req); err != nil {
		return PublishResult{}, err
	}
	if err := e.wait(ctx, &publishOp{req: req, reply: reply}, done); err != nil {
		return PublishResult{}, err
	}
	return result, perr
}

func (e *Engine) validate(req PublishRequest) error {
	switch {
	case len(req.Payload) > e.cfg.MaxPayload:
		return fmt.Errorf("%w: %d bytes, limit %d", ErrPayloadTooLarge, len(req.Payload), e.cfg.MaxPayload)
	case req.ClientMsgID == "" || len(req.ClientMsgID) > wire.MaxClientMsgID:
		return fmt.Errorf("%w: client_msg_id must be 1 to %d bytes", ErrBadRequest, wire.MaxClientMsgID)
	case len(req.ContentType) > wire.MaxContentType:
		return fmt.Errorf("%w: content type over %d bytes", ErrBadRequest, wire.MaxContentType)
	case len(req.Preview) > wire.MaxPreview:
		return fmt.Errorf("%w: a preview lists at most %d users", ErrBadRequest, wire.MaxPreview)
	}
	return nil
}
