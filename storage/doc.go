// Package storage owns Herald's Pebble database. Nothing outside it imports
// Pebble. It stores accounts, follower sets, the subscriptions index, the
// broadcast log with frozen audiences (notifications among them),
// idempotency keys, cursors, templates and consents.
//
// # Keys
//
// Every key starts with a one-byte prefix; integers are big-endian so that
// keys sort numerically (keys.go is the only place that builds them):
//
//	prefix  key                                   value
//	0x01    meta name                             per name (last-tag, retention floor,
//	                                              catch-up-indexed-from; token-secret only in
//	                                              databases from before token.keys)
//	0x02    account u32                           account record
//	0x03    account u32 | high16 u16              follower chunk (bitmap of low 16 bits)
//	0x04    account u32                           follower count u64
//	0x05    user u32 | account u32                (empty) subscriptions index
//	0x06    message u64                           broadcast record
//	0x07    message u64 | high16 u16              frozen audience chunk the broadcast stored itself
//	0x08    account u32 | client_msg_id           idempotency record
//	0x09    user u32                              cursor u64
//	0x0a    message u64                           job report (sent live, errors)
//	0x0b    account u32 | day u32                 broadcasts counted against the daily quota u64
//	0x0c    account u32 | high16 u16              blocklist chunk (like followers)
//	0x0d    tag u32                               tag record (account, name, member count)
//	0x0e    account u32 | name                    tag id u32 (the account's tag names)
//	0x0f    tag u32 | high16 u16                  tag member chunk (like followers)
//	0x10    account u32 | month u32 | level u8 | high16 u16
//	                                              chunk of the followers who received at least
//	                                              level of the account's broadcasts that month
//	0x11    account u32 | day u32 | source        that day's follows from source u64, unfollows u64
//	                                              (unfollows only under source "")
//	0x12    message u64                           broadcast analytics (storage.BroadcastStats)
//	0x13    account u32 | day u32                 broadcasts published that day u64, their recipients u64
//	                                              (account 0: the server's)
//	0x14    account u32 | day u32                 of the broadcasts published that day: delivered u64,
//	                                              opened u64 (account 0: the server's)
//	0x15    account u32 | message u64             the account's broadcasts but notifications and
//	                                              replies: the newest id committed when the
//	                                              audience was resolved u64 (empty before
//	                                              catchup_index.go)
//	0x16    message u64 | user u32                (empty) the user opened the broadcast
//	0x17    account u32 | name                    template (title, consent flag, field names)
//	0x18    account u32 | day u32                 notifications counted against the day's limit u64
//	0x19    account u32 | user u32 | template     consent: grants left u32, banned
//	0x1a    account u32 | seq u64                 letter: a follower's message to the account
//	0x1b    account u32 | user u32                service window: the user's last letter, replies since
//	0x1c    account u32 | client_msg_id           scheduled broadcast: when, its state, the request
//	0x1d    send_at u64 | account u32 | client_msg_id
//	                                              (empty) a scheduled broadcast not sent yet, by time
//	0x1e    message u64                           audience manifest: runs of chunks, each naming the
//	                                              message whose 0x07 chunks they are (shared_audience.go)
//	0x1f    origin message u64                    uses of its chunks: runs, each naming the newest
//	                                              broadcast that refers to them
//	0x20    user u32 | account u32                the user unfollowed the account: the newest id
//	                                              in the writer's batch then u64 (catchup_index.go)
//	0x21    user u32 | message u64                (empty) a preview, notification or reply listed
//	                                              the user
//	0x22    message u64                           (empty) a broadcast to users chosen otherwise
//	                                              (AddBroadcast): catch-up probes each
//
// A set of uint32 user ids is stored chunked by the high 16 bits: one key
// per Roaring container, so a value is at most one container (8 KiB plus a
// few header bytes), a follow rewrites one small value, and "is user u in
// the set" is one point read.
//
// # Values
//
// Every decoded value is framed as
//
//	version u8 | body | crc32c u32 (over version and body)
//
// and checked on read: a corrupt value is an error wrapping ErrCorrupt that
// names the key, never a panic and never a wrong set.
//
// # Writes
//
// All mutations go through a Batch, which reads its own writes. The fan-out
// engine drives a single writer that folds many requests into one Batch and
// commits it with one fsync (group commit); reads that need no consistency
// with pending writes (catch-up, lookups) go to the Store directly. The
// Store serves whole follower, tag and blocklist sets from a cache of
// decoded sets that every commit writes through (set_cache.go), so a
// publish resolves its audience from memory.
package storage
