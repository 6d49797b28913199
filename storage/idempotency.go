package storage

import (
	"time"
)

// IdempotencyWindow is how long a client_msg_id maps to its message id.
const IdempotencyWindow = 24 * time.Hour

// LookupIdempotency returns the message id an earlier publish with the same
// client_msg_id got, if it happened within the window before nowMillis.
func (b *Batch) LookupIdempotency(account uint32, clientMsgID string, nowMillis uint64) (uint64, bool, error) {
	key := idempotencyKey(account, clientMsgID)
	var id, at uint64
	found, err := get(b.batch, key, func(v []byte) error {
		body, err := open(key, v)
		if err != nil {
			return err
		}
		r := recordReader{b: body}
		id, at = r.u64(), r.u64()
		return r.finish(key, "idempotency")
	})
	if err != nil || !found {
		return 0, false, err
	}
	if at+uint64(IdempotencyWindow.Milliseconds()) <= nowMillis {
		return 0, false, nil
	}
	return id, true, nil
}

// PutIdempotency records that clientMsgID produced message id at nowMillis.
func (b *Batch) PutIdempotency(account uint32, clientMsgID string, id, nowMillis uint64) error {
	var w recordWriter
	w.u64(id)
	w.u64(nowMillis)
	return b.set(idempotencyKey(account, clientMsgID), seal(w.b))
}
