package fanout

import (
	"errors"
	"fmt"

	"herald/engine"
	"herald/storage"
	"herald/wire"
)

// retractOp withdraws a broadcast: the record is kept without its payload
// (so ids, counts and idempotency still answer), catch-up skips it, and the
// online users of its audience are told with a RETRACTED frame.
type retractOp struct {
	account uint32
	id      uint64
	send    *delivery
	reply   func(error)
}

func (o *retractOp) apply(_ *Engine, b *storage.Batch, _ uint64) error {
	o.send = nil
	m, err := b.Broadcast(o.id)
	if errors.Is(err, storage.ErrNotFound) {
		return fmt.Errorf("%w: %d is not in the retained log", ErrUnknownMessage, o.id)
	}
	if err != nil {
		return err
	}
	if m.Account != o.account {
		return fmt.Errorf("%w: message %d belongs to another account", ErrForbidden, o.id)
	}
	if m.Retracted {
		return nil // already done; nobody is told twice
	}
	audience, err := b.Audience(o.id)
	if err != nil {
		return err
	}
	if err := b.Retract(m); err != nil {
		return err
	}
	frame := wire.AppendRetracted(nil, wire.Retracted{MessageID: m.ID, Account: m.Account})
	// Id 0 marks a control frame: connections write it whatever ids they
	// have already sent (see Sink).
	o.send = &delivery{push: pushFrames{plain: frame}, audience: audience, cardinality: audience.GetCardinality(), retracts: m.ID}
	return nil
}

func (o *retractOp) finish(err error)    { o.reply(err) }
func (o *retractOp) delivery() *delivery { return o.send }

// Retract withdraws one of the account's broadcasts and answers from the
// writer goroutine once that is durable, before the RETRACTED frames go
// out.
func (e *Engine) Retract(req engine.MessageRef, done func(struct{}, error)) {
	reply := func(err error) { done(struct{}{}, err) }
	if err := e.submit(&retractOp{account: req.Account, id: req.MessageID, reply: reply}); err != nil {
		reply(err)
	}
}
