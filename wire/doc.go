// Package wire is Herald's protocol, versions 1 and 2: frames and their layouts,
// error codes, field limits, and the rules of a valid request (rules.go),
// in one place for the Go SDK, the network edge and the engine. It does no
// I/O: the server feeds it bytes from gnet's inbound buffer, the SDK bytes
// from a net.Conn, and both get back whole frames. docs/PROTOCOL.md is
// its specification.
//
// # Framing
//
// Every frame, in both directions and on both listeners, is
//
//	offset  size  field
//	0       4     length   uint32, big-endian: bytes that follow this field (2 + len(body))
//	4       1     type     frame type (Type)
//	5       1     flags    per-type flag bits; unknown bits must be zero
//	6       n     body     per-type layout, see docs/PROTOCOL.md
//
// A length below 2 is malformed; a length above the negotiated maximum
// (DefaultMaxFrame unless configured) is rejected before its body is read,
// so an oversized frame never costs the receiver memory.
//
// # Invariants
//
//   - Decoders never retain the input slice: every []byte or string they
//     return that must outlive the call is copied, except Frame.Body and the
//     Payload of decoded PUBLISH/PUSH bodies, which are views that the caller
//     must copy before the next Feed.
//   - Decoders reject trailing bytes and truncated fields with ErrMalformed;
//     they never panic on any input (fuzzed in parser_fuzz_test.go).
//   - All integers are big-endian.
package wire
