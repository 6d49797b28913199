package fanout

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"

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

// followOp adds or removes followers of one account, or (blocklist)
// entries of its blocklist.
type followOp struct {
	account   uint32
	users     []uint32
	add       bool
	blocklist bool
	changed   int
	reply     func(changed int, err error)
}

// accountIn returns the account as batch b sees it, ErrUnknownAccount if
// there is none.
func accountIn(b *storage.Batch, id uint32) (storage.Account, error) {
	a, err := b.Account(id)
	if errors.Is(err, storage.ErrNotFound) {
		return a, fmt.Errorf("%w: %d", ErrUnknownAccount, id)
	}
	return a, err
}

func (o *followOp) apply(_ *Engine, b *storage.Batch, _ uint64) (err error) {
	if _, err := accountIn(b, o.account); err != nil {
		return err
	}
	switch {
	case o.blocklist && o.add:
		o.changed, err = b.Block(o.account, o.users)
	case o.blocklist:
		o.changed, err = b.Unblock(o.account, o.users)
	case o.add:
		o.changed, err = b.AddFollowers(o.account, o.users)
	default:
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

// BlockAsync adds users to (block) or removes them from account's
// blocklist and calls reply, from the writer goroutine, once the change is
// durable. Blocked users receive none of the account's broadcasts
// published afterwards, followers or not. The engine takes ownership of
// users.
func (e *Engine) BlockAsync(account uint32, users []uint32, block bool, reply func(changed int, err error)) {
	if err := e.submit(&followOp{account: account, users: users, add: block, blocklist: true, reply: reply}); err != nil {
		reply(0, err)
	}
}

// Follow is FollowAsync that waits for the answer. When ctx ends first the
// change may still be made; the caller only stops waiting.
func (e *Engine) Follow(ctx context.Context, account uint32, users []uint32, add bool) (int, error) {
	type answer struct {
		changed int
		err     error
	}
	done := make(chan answer, 1)
	e.FollowAsync(account, users, add, func(n int, err error) { done <- answer{n, err} })
	select {
	case a := <-done:
		return a.changed, a.err
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}
