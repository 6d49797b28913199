package client

import (
	"context"
	"errors"
	"fmt"
	"time"

	"herald/wire"
)

// Schedule stores m to be published at at, returning once that is durable
// (Scheduled set, MessageID 0). Its audience is resolved and the quota
// counted when it is sent; it survives restarts. Its ClientMsgID names it
// (Cancel, and a Publish or Schedule with the same one answers Duplicate
// and Scheduled, with the id it was sent as once it is). m may not be a
// dry run. Retries are as Publish's.
func (p *Publisher) Schedule(ctx context.Context, m Message, at time.Time) (PublishResult, error) {
	if m.DryRun || m.Speed != 0 {
		return PublishResult{}, errors.New("client: a scheduled broadcast is not a dry run and has no speed level")
	}
	if at.UnixMilli() <= 0 {
		return PublishResult{}, fmt.Errorf("client: schedule at %v: not a time", at)
	}
	req, err := p.publishFrame(&m)
	if err != nil {
		return PublishResult{}, err
	}
	r, err := p.call(ctx, "schedule "+m.ClientMsgID, func(id uint32) []byte {
		req.RequestID = id
		return wire.AppendSchedule(nil, wire.Schedule{SendAtMillis: uint64(at.UnixMilli()), Publish: req})
	})
	if err != nil {
		return PublishResult{}, err
	}
	return publishResultFrom(r), nil
}

// Cancel withdraws the scheduled broadcast of that client_msg_id before it
// is sent; UNKNOWN_MESSAGE if none is pending (sent already: Retract it).
func (p *Publisher) Cancel(ctx context.Context, clientMsgID string) error {
	if clientMsgID == "" || len(clientMsgID) > wire.MaxClientMsgID {
		return fmt.Errorf("client: client_msg_id must be 1 to %d bytes", wire.MaxClientMsgID)
	}
	_, err := p.call(ctx, "cancel "+clientMsgID, func(id uint32) []byte {
		return wire.AppendCancel(nil, wire.Cancel{RequestID: id, Account: p.cfg.Account, ClientMsgID: clientMsgID})
	})
	return err
}
