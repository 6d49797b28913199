package fanout

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"

	"herald/engine"
	"herald/storage"
	"herald/wire"
)

// accountOp creates an account.
type accountOp struct {
	account storage.Account
	secret  string
	reply   func(engine.Account, error)
	e       *Engine
}

func (o *accountOp) apply(_ *Engine, b *storage.Batch, now uint64) (err error) {
	o.account.CreatedMillis = now
	o.account, err = b.CreateAccount(o.account)
	return err
}

func (o *accountOp) finish(err error) {
	if err != nil {
		o.reply(engine.Account{}, err)
		return
	}
	a := o.e.account(o.account)
	a.Secret = o.secret
	o.reply(a, nil)
}

func (o *accountOp) delivery() *delivery { return nil }

// CreateAccount creates an account of the named tier (the subscription
// tier when empty) and answers it with its publisher secret, which is
// shown once: only its hash is stored.
func (e *Engine) CreateAccount(req engine.NewAccount, done func(engine.Account, error)) {
	if req.Name == "" || len(req.Name) > 255 {
		done(engine.Account{}, fmt.Errorf("%w: account name must be 1 to 255 bytes", ErrBadRequest))
		return
	}
	if req.Tier == "" {
		req.Tier = e.TierName(storage.TierSubscription)
	}
	tier, err := e.TierByName(req.Tier)
	if err != nil {
		done(engine.Account{}, err)
		return
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		done(engine.Account{}, err)
		return
	}
	secret := base64.RawURLEncoding.EncodeToString(raw)
	o := &accountOp{account: storage.Account{Name: req.Name, Tier: tier, SecretHash: sha256.Sum256([]byte(secret))}, secret: secret, reply: done, e: e}
	if err := e.submit(o); err != nil {
		done(engine.Account{}, err)
	}
}

// account is a stored account as the contract reports it (without its
// follower count).
func (e *Engine) account(a storage.Account) engine.Account {
	return engine.Account{ID: a.ID, Name: a.Name, Tier: e.TierName(a.Tier), CreatedMillis: a.CreatedMillis}
}

// Authenticate checks a publisher's credentials, on a reader.
func (e *Engine) Authenticate(req engine.Credentials, done func(struct{}, error)) {
	read(e, done, func() (struct{}, error) { return struct{}{}, e.authenticate(req.Account, req.Secret) })
}

func (e *Engine) authenticate(account uint32, secret string) error {
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
	source    string
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

func (o *followOp) apply(e *Engine, b *storage.Batch, _ uint64) (err error) {
	if _, err := accountIn(b, o.account); err != nil {
		return err
	}
	switch {
	case o.blocklist && o.add:
		o.changed, err = b.Block(o.account, o.users)
	case o.blocklist:
		o.changed, err = b.Unblock(o.account, o.users)
	case o.add:
		if o.changed, err = b.AddFollowers(o.account, o.users); err == nil {
			err = countFollows(e, b, o.account, true, o.countedSource(), o.changed)
		}
	default:
		if o.changed, err = b.RemoveFollowers(o.account, o.users); err == nil {
			err = countFollows(e, b, o.account, false, "", o.changed)
		}
	}
	return err
}

// countedSource is the source the op's changes count under: its own for
// follows, "" for unfollows.
func (o *followOp) countedSource() string {
	if !o.add {
		return ""
	}
	return o.source
}

// countFollows adds n follows from source (add) or n unfollows to the
// account's figures of today, in the batch that makes them.
func countFollows(e *Engine, b *storage.Batch, account uint32, add bool, source string, n int) error {
	switch {
	case n == 0:
		return nil
	case add:
		return b.CountFollows(account, e.today(), source, uint64(n), 0)
	default:
		return b.CountFollows(account, e.today(), "", 0, uint64(n))
	}
}

func (o *followOp) finish(err error)    { o.reply(o.changed, err) }
func (o *followOp) delivery() *delivery { return nil }

// Follow makes users follow the account, Unfollow undoes it; Block and
// Unblock change the account's blocklist (blocked users receive none of
// the account's broadcasts published afterwards, followers or not). Each
// answers from the writer goroutine once the change is durable.
func (e *Engine) Follow(req engine.Membership, done func(int, error)) {
	e.changeUsers(req, true, false, done)
}
func (e *Engine) Unfollow(req engine.Membership, done func(int, error)) {
	e.changeUsers(req, false, false, done)
}
func (e *Engine) Block(req engine.Membership, done func(int, error)) {
	e.changeUsers(req, true, true, done)
}
func (e *Engine) Unblock(req engine.Membership, done func(int, error)) {
	e.changeUsers(req, false, true, done)
}

func (e *Engine) changeUsers(req engine.Membership, add, blocklist bool, done func(int, error)) {
	if err := wire.ValidSource(req.Source); err != nil {
		done(0, fmt.Errorf("%w: %v", ErrBadRequest, err))
		return
	}
	if err := e.submit(&followOp{account: req.Account, users: req.Users, source: req.Source, add: add, blocklist: blocklist, reply: done}); err != nil {
		done(0, err)
	}
}
