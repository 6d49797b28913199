// Package client is Herald's Go SDK.
//
//   - Publisher publishes broadcasts for one account. A publish that fails
//     because the connection broke is retried on a new connection with the
//     same client_msg_id, so the server sends it at most once.
//   - Subscriber holds a follower's connection: it resumes from the last
//     message it delivered, reconnects with jittered backoff, drops
//     duplicates by message id, and acknowledges only what the
//     application has handled (see Subscriber), never what is still
//     buffered.
//   - Admin talks to the server's HTTP admin port (accounts, follower
//     import, client tokens).
//
// Errors the server reports arrive as *Error, whose Code says whether
// retrying can help (see docs/PROTOCOL.md).
package client
