package storage

import (
	"time"

	"herald/storage/internal/codec"
)

// IdempotencyWindow is how long a client_msg_id maps to its message id.
const IdempotencyWindow = 24 * time.Hour

// LookupIdempotency returns the message id an earlier publish with the same
// client_msg_id got, if it happened within the window before nowMillis.
func (x reads) LookupIdempotency(account uint32, clientMsgID string, nowMillis uint64) (uint64, bool, error) {
	key := idempotencyKey(account, clientMsgID)
	var rec codec.Idempotency
	found, err := get(x.r, key, func(v []byte) (err error) {
		rec, err = decodeAt(key, v, codec.DecodeIdempotency)
		return err
	})
	if err != nil || !found {
		return 0, false, err
	}
	if rec.AtMillis+uint64(IdempotencyWindow.Milliseconds()) <= nowMillis {
		return 0, false, nil
	}
	return rec.MessageID, true, nil
}

// PutIdempotency records that clientMsgID produced message id at nowMillis.
func (b *Batch) PutIdempotency(account uint32, clientMsgID string, id, nowMillis uint64) error {
	return b.set(idempotencyKey(account, clientMsgID), codec.EncodeIdempotency(codec.Idempotency{MessageID: id, AtMillis: nowMillis}))
}
