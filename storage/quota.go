package storage

import "herald/storage/internal/codec"

// QuotaCount returns how many broadcasts account has had counted against
// its quota on day (days since the Unix epoch, UTC), as this batch sees it.
func (b *Batch) QuotaCount(account, day uint32) (uint64, error) {
	key := quotaKey(account, day)
	var n uint64
	_, err := get(b.batch, key, func(v []byte) (err error) {
		n, err = decodeAt(key, v, codec.DecodeU64)
		return err
	})
	return n, err
}

// SetQuotaCount records the day's count; it is durable with the batch, so a
// counted broadcast is never lost from the quota. Earlier days' counts of
// the account are removed.
func (b *Batch) SetQuotaCount(account, day uint32, n uint64) error {
	if err := b.dropBefore(quotaKey(account, 0), quotaKey(account, day)); err != nil {
		return err
	}
	return b.set(quotaKey(account, day), codec.EncodeU64(n))
}
