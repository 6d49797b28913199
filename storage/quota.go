package storage

import "herald/storage/internal/codec"

// QuotaCount returns how many broadcasts account has had counted against
// its quota on day (days since the Unix epoch, UTC), as this batch sees it.
func (b *Batch) QuotaCount(account, day uint32) (uint64, error) {
	return b.dayCount(prefixQuota, account, day)
}

// SetQuotaCount records the day's count; it is durable with the batch, so a
// counted broadcast is never lost from the quota. Earlier days' counts of
// the account are removed.
func (b *Batch) SetQuotaCount(account, day uint32, n uint64) error {
	return b.setDayCount(prefixQuota, account, day, n)
}

// NotifyCount returns how many notifications (recipients) account has had
// counted against its daily limit on day, as this batch sees it.
func (b *Batch) NotifyCount(account, day uint32) (uint64, error) {
	return b.dayCount(prefixNotified, account, day)
}

// SetNotifyCount records the day's notification count, durable with the
// batch; earlier days' counts of the account are removed.
func (b *Batch) SetNotifyCount(account, day uint32, n uint64) error {
	return b.setDayCount(prefixNotified, account, day, n)
}

// dayCount reads the counter prefix | account | day (0 if none).
func (b *Batch) dayCount(prefix byte, account, day uint32) (uint64, error) {
	key := dayKey(prefix, account, day)
	var n uint64
	_, err := get(b.batch, key, func(v []byte) (err error) {
		n, err = decodeAt(key, v, codec.DecodeU64)
		return err
	})
	return n, err
}

// setDayCount writes the counter prefix | account | day and removes the
// account's counters of earlier days under prefix.
func (b *Batch) setDayCount(prefix byte, account, day uint32, n uint64) error {
	if _, err := b.dropBefore(dayKey(prefix, account, 0), dayKey(prefix, account, day)); err != nil {
		return err
	}
	return b.set(dayKey(prefix, account, day), codec.EncodeU64(n))
}
