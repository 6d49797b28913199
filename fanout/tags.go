package fanout

import (
	"errors"
	"fmt"

	"herald/storage"
	"herald/wire"
)

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

type tagOp struct {
	req   TagRequest
	tag   storage.Tag
	reply func(storage.Tag, error)
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

func (o *tagOp) finish(err error)    { o.reply(o.tag, err) }
func (o *tagOp) delivery() *delivery { return nil }

// TagAsync creates, renames or deletes one of an account's tags, or adds
// or removes members, and calls reply, from the writer goroutine, once the
// change is durable, with the tag as it now is (as it was, for a delete).
// Members need not be followers: audiences are always intersected with the
// followers.
func (e *Engine) TagAsync(req TagRequest, reply func(storage.Tag, error)) {
	if err := validateTag(req); err != nil {
		reply(storage.Tag{}, err)
		return
	}
	if err := e.submit(&tagOp{req: req, reply: reply}); err != nil {
		reply(storage.Tag{}, err)
	}
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
// shows) in name order.
func (e *Engine) Tags(account uint32) ([]storage.Tag, error) {
	if _, err := e.store.Account(account); errors.Is(err, storage.ErrNotFound) {
		return nil, fmt.Errorf("%w: %d", ErrUnknownAccount, account)
	}
	return e.store.Tags(account)
}
