package fanout

import (
	"errors"
	"fmt"

	"herald/engine"
	"herald/storage"
	"herald/wire"
)

type tagOp struct {
	req   TagRequest
	tag   storage.Tag
	reply func(engine.Tag, error)
}

func (o *tagOp) apply(e *Engine, b *storage.Batch, _ uint64) (err error) {
	if _, err := accountIn(b, o.req.Account); err != nil {
		return err
	}
	switch o.req.Op {
	case TagCreate:
		tags, listErr := b.Tags(o.req.Account)
		if listErr != nil {
			return listErr
		}
		if len(tags) >= e.cfg.MaxTags {
			return fmt.Errorf("%w: account %d has %d tags, the most allowed", ErrLimit, o.req.Account, len(tags))
		}
		o.tag, err = b.CreateTag(o.req.Account, o.req.Name)
	case TagRename:
		o.tag, err = b.RenameTag(o.req.Account, o.req.Name, o.req.NewName)
	case TagDelete:
		o.tag, err = b.DeleteTag(o.req.Account, o.req.Name)
	case TagAdd, TagRemove:
		o.tag, err = b.ChangeTag(o.req.Account, o.req.Name, o.req.Users, o.req.Op == TagAdd)
	}
	switch {
	case errors.Is(err, storage.ErrNotFound):
		return fmt.Errorf("%w: account %d has no tag %q", ErrUnknownTag, o.req.Account, o.req.Name)
	case errors.Is(err, storage.ErrExists):
		return fmt.Errorf("%w: %v", ErrTagExists, err)
	}
	return err
}

func (o *tagOp) finish(err error)    { o.reply(contractTag(o.tag), err) }
func (o *tagOp) delivery() *delivery { return nil }

// Tag creates, renames or deletes one of an account's tags, or adds or
// removes members, and answers from the writer goroutine once the change
// is durable, with the tag as it now is (as it was, for a delete). Members
// need not be followers: audiences are always intersected with the
// followers.
func (e *Engine) Tag(req TagRequest, done func(engine.Tag, error)) {
	if err := validateTag(req); err != nil {
		done(engine.Tag{}, err)
		return
	}
	if err := e.submit(&tagOp{req: req, reply: done}); err != nil {
		done(engine.Tag{}, err)
	}
}

func contractTag(t storage.Tag) engine.Tag {
	return engine.Tag{ID: t.ID, Name: t.Name, Members: t.Members}
}

func validateTag(req TagRequest) error {
	if err := wire.CheckTagName(req.Name); err != nil {
		return fmt.Errorf("%w: %v", ErrBadRequest, err)
	}
	switch req.Op {
	case TagCreate, TagDelete:
	case TagRename:
		if err := wire.CheckTagName(req.NewName); err != nil {
			return fmt.Errorf("%w: new name: %v", ErrBadRequest, err)
		}
	case TagAdd, TagRemove:
		if len(req.Users) == 0 || len(req.Users) > wire.MaxTagUsers {
			return fmt.Errorf("%w: a tag change lists 1 to %d users", ErrBadRequest, wire.MaxTagUsers)
		}
	default:
		return fmt.Errorf("%w: unknown tag operation %d", ErrBadRequest, req.Op)
	}
	return nil
}

// Tags lists the account's tags (committed, so every acknowledged change
// shows) in name order, on a reader.
func (e *Engine) Tags(account uint32, done func([]engine.Tag, error)) {
	read(e, done, func() ([]engine.Tag, error) {
		if _, err := e.store.Account(account); errors.Is(err, storage.ErrNotFound) {
			return nil, fmt.Errorf("%w: %d", ErrUnknownAccount, account)
		}
		stored, err := e.store.Tags(account)
		if err != nil {
			return nil, err
		}
		out := make([]engine.Tag, len(stored))
		for i, t := range stored {
			out[i] = contractTag(t)
		}
		return out, nil
	})
}
