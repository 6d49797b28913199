package server_test

import (
	"encoding/binary"
	"strings"
	"testing"
	"time"

	"herald/internal/testserver"
	"herald/internal/testutil"
	"herald/node"
	"herald/wire"
)

// TestEveryFieldLimit is docs/PROTOCOL.md's table "Which error, which
// request id, connection kept or closed", one row per case: the frame sent
// (after HELLO unless the row is about HELLO), the ERROR code and request
// id it gets, and whether the connection is then closed (checked by its
// closing) or kept (checked by a PING answered with PONG).
func TestEveryFieldLimit(t *testing.T) {
	h := testserver.Start(t, "", node.Config{})
	account, secret := h.Account(1, 3)
	other, _ := h.Account(1, 1)
	token := h.Token(2)

	publish := func(patch func(*wire.Publish)) []byte {
		m := wire.Publish{RequestID: 7, Account: account, ClientMsgID: "id", Payload: []byte("x")}
		patch(&m)
		return wire.AppendPublish(nil, m)
	}
	notify := func(patch func(*wire.Notify)) []byte {
		m := wire.Notify{RequestID: 7, Account: account, ClientMsgID: "id", Users: []uint32{1}, Notification: wire.Notification{Template: "t"}}
		patch(&m)
		return wire.AppendNotify(nil, m)
	}
	template := func(patch func(*wire.Template)) []byte {
		m := wire.Template{RequestID: 7, Account: account, Op: wire.TemplateDefine, Template: wire.TemplateInfo{Name: "t", Title: "T"}}
		patch(&m)
		return wire.AppendTemplate(nil, m)
	}
	consent := func(patch func(*wire.Consent)) []byte {
		m := wire.Consent{RequestID: 7, Account: account, Op: wire.ConsentGrant, Template: "t", Count: 1}
		patch(&m)
		return wire.AppendConsent(nil, m)
	}
	withFlags := func(frame []byte, flags uint8) []byte { frame[5] = flags; return frame }
	cutTail := func(frame []byte, n int) []byte {
		frame = frame[:len(frame)-n]
		binary.BigEndian.PutUint32(frame, uint32(len(frame)-4))
		return frame
	}
	const (
		client    = "client"
		publisher = "publisher"
	)
	tests := []struct {
		name     string
		listener string
		noHello  bool // the row sends its own HELLO (or none)
		frame    []byte
		code     wire.Code
		request  uint32
		closed   bool
	}{
		// Framing and session: always request id 0, always closed.
		{"length below 2", client, false, []byte{0, 0, 0, 1, byte(wire.TypePing)}, wire.CodeMalformedFrame, 0, true},
		{"client frame over 4096", client, false, wire.AppendHeader(nil, wire.TypeAck, 0, 4096), wire.CodeFrameTooLarge, 0, true},
		{"publisher frame over max_frame", publisher, false, wire.AppendHeader(nil, wire.TypePublish, 0, wire.DefaultMaxFrame), wire.CodeFrameTooLarge, 0, true},
		{"unknown frame type", client, false, wire.AppendFrame(nil, wire.Type(0x7f), 0, nil), wire.CodeUnexpectedFrame, 0, true},
		{"frame before HELLO", client, true, wire.AppendEmpty(nil, wire.TypePing), wire.CodeUnexpectedFrame, 0, true},
		{"publisher frame on the client listener", client, false, publish(func(*wire.Publish) {}), wire.CodeUnexpectedFrame, 0, true},
		{"HELLO that does not decode", client, true, wire.AppendFrame(nil, wire.TypeHello, 0, []byte{1}), wire.CodeMalformedFrame, 0, true},
		{"HELLO credential over 1024 bytes", client, true, wire.AppendHello(nil, wire.Hello{Version: 1, Credential: strings.Repeat("a", 1025)}), wire.CodeMalformedFrame, 0, true},
		{"HELLO version 3", client, true, wire.AppendHello(nil, wire.Hello{Version: 3, Credential: token}), wire.CodeUnsupportedVersion, 0, true},
		{"HELLO undefined flag", client, true, withFlags(wire.AppendHello(nil, wire.Hello{Version: 1, Credential: token}), 1<<1), wire.CodeMalformedFrame, 0, true},
		{"HELLO account on the client listener", client, true, wire.AppendHello(nil, wire.Hello{Version: 1, Account: 1, Credential: token}), wire.CodeMalformedFrame, 0, true},
		{"HELLO token with a trailing newline", client, true, wire.AppendHello(nil, wire.Hello{Version: 1, Credential: token + "\n"}), wire.CodeTokenInvalid, 0, true},
		{"HELLO token in non-canonical base64", client, true, wire.AppendHello(nil, wire.Hello{Version: 1, Credential: nonCanonical(token)}), wire.CodeTokenInvalid, 0, true},
		{"HELLO wrong publisher secret", publisher, true, wire.AppendHello(nil, wire.Hello{Version: 1, Account: other, Credential: secret}), wire.CodeAuthFailed, 0, true},
		{"PING with a body", client, false, wire.AppendFrame(nil, wire.TypePing, 0, []byte{0}), wire.CodeMalformedFrame, 0, true},
		{"PING undefined flag", client, false, withFlags(wire.AppendEmpty(nil, wire.TypePing), 1), wire.CodeMalformedFrame, 0, true},
		{"RESUME undefined flag", client, false, wire.AppendResume(nil, wire.Resume{}, 1<<3), wire.CodeMalformedFrame, 0, true},
		{"RESUME body of 7 bytes", client, false, cutTail(wire.AppendResume(nil, wire.Resume{}, 0), 1), wire.CodeMalformedFrame, 0, true},
		{"RESUME beyond the newest message", client, false, wire.AppendResume(nil, wire.Resume{Cursor: 1 << 40}, 0), wire.CodeCursorAhead, 0, true},
		{"ACK body of 9 bytes", client, false, wire.AppendFrame(nil, wire.TypeAck, 0, make([]byte, 9)), wire.CodeMalformedFrame, 0, true},
		{"request too short for its request id", client, false, wire.AppendFrame(nil, wire.TypeFollow, 0, []byte{0, 7}), wire.CodeMalformedFrame, 0, true},
		{"request id 0", client, false, wire.AppendFollow(nil, wire.TypeFollow, 0, account), wire.CodeMalformedFrame, 0, true},

		// Requests: the request's id, the connection kept.
		{"FOLLOW cut short", client, false, cutTail(wire.AppendFollow(nil, wire.TypeFollow, 7, account), 2), wire.CodeBadRequest, 7, false},
		{"FOLLOW undefined flag", client, false, withFlags(wire.AppendFollow(nil, wire.TypeFollow, 7, account), 2), wire.CodeBadRequest, 7, false},
		{"FOLLOW with a bad source", client, false, wire.AppendFollowFrom(nil, 7, account, "two words"), wire.CodeBadRequest, 7, false},
		{"FOLLOW of an unknown account", client, false, wire.AppendFollow(nil, wire.TypeFollow, 7, 999), wire.CodeUnknownAccount, 7, false},
		{"PUBLISH empty client_msg_id", publisher, false, publish(func(m *wire.Publish) { m.ClientMsgID = "" }), wire.CodeBadRequest, 7, false},
		{"PUBLISH client_msg_id of 65 bytes", publisher, false, publish(func(m *wire.Publish) { m.ClientMsgID = strings.Repeat("k", 65) }), wire.CodeBadRequest, 7, false},
		{"PUBLISH content_type of 65 bytes", publisher, false, publish(func(m *wire.Publish) { m.ContentType = strings.Repeat("t", 65) }), wire.CodeBadRequest, 7, false},
		{"PUBLISH undefined flag", publisher, false, withFlags(publish(func(*wire.Publish) {}), 1<<5), wire.CodeBadRequest, 7, false},
		{"PUBLISH speed level 6", publisher, false, withFlags(publish(func(*wire.Publish) {}), wire.SpeedFlags(6)), wire.CodeBadRequest, 7, false},
		{"PUBLISH audience kind 5", publisher, false, publish(func(m *wire.Publish) { m.AudienceKind = 5 }), wire.CodeBadRequest, 7, false},
		{"PUBLISH kind 0 with audience bytes", publisher, false, publish(func(m *wire.Publish) { m.AudienceBytes = []byte{1} }), wire.CodeBadRequest, 7, false},
		{"PUBLISH expression that does not decode", publisher, false, publish(func(m *wire.Publish) { m.AudienceKind, m.AudienceBytes = wire.AudienceTags, []byte{wire.OpAnd} }), wire.CodeBadRequest, 7, false},
		{"PUBLISH list of 0 users", publisher, false, publish(func(m *wire.Publish) { m.AudienceKind, m.AudienceBytes = wire.AudienceList, wire.EncodeUsers(nil) }), wire.CodeBadRequest, 7, false},
		{"PUBLISH list of 10,001 users", publisher, false, publish(func(m *wire.Publish) {
			m.AudienceKind, m.AudienceBytes = wire.AudienceList, wire.EncodeUsers(make([]uint32, wire.MaxListed+1))
		}), wire.CodeBadRequest, 7, false},
		{"PUBLISH preview of 101 users", publisher, false, publish(func(m *wire.Publish) {
			m.AudienceKind, m.AudienceBytes = wire.AudiencePreview, wire.EncodeUsers(make([]uint32, wire.MaxPreview+1))
		}), wire.CodeBadRequest, 7, false},
		{"PUBLISH audience length past the body", publisher, false, cutTail(publish(func(m *wire.Publish) {
			m.AudienceKind, m.AudienceBytes, m.Payload = wire.AudienceList, wire.EncodeUsers([]uint32{1}), nil
		}), 2), wire.CodeBadRequest, 7, false},
		{"PUBLISH payload over the limit", publisher, false, publish(func(m *wire.Publish) { m.Payload = make([]byte, 256<<10+1) }), wire.CodePayloadTooLarge, 7, false},
		{"PUBLISH for another account", publisher, false, publish(func(m *wire.Publish) { m.Account = other }), wire.CodeForbidden, 7, false},
		{"BLOCK of 0 users", publisher, false, wire.AppendBlock(nil, wire.TypeBlock, wire.Block{RequestID: 7, Account: account}), wire.CodeBadRequest, 7, false},
		{"BLOCK list cut short", publisher, false, cutTail(wire.AppendBlock(nil, wire.TypeBlock, wire.Block{RequestID: 7, Account: account, Users: []uint32{1, 2}}), 4), wire.CodeBadRequest, 7, false},
		{"TAG unknown op", publisher, false, wire.AppendTag(nil, wire.Tag{RequestID: 7, Account: account, Op: 9, Name: "x"}), wire.CodeBadRequest, 7, false},
		{"TAG bad name", publisher, false, wire.AppendTag(nil, wire.Tag{RequestID: 7, Account: account, Op: wire.TagCreate, Name: "a b"}), wire.CodeBadRequest, 7, false},
		{"RETRACT cut short", publisher, false, cutTail(wire.AppendRetract(nil, wire.Retract{RequestID: 7, Account: account, MessageID: 1}), 1), wire.CodeBadRequest, 7, false},
		{"NOTIFY to 0 users", publisher, false, notify(func(m *wire.Notify) { m.Users = nil }), wire.CodeBadRequest, 7, false},
		{"NOTIFY to 101 users", publisher, false, notify(func(m *wire.Notify) { m.Users = make([]uint32, wire.MaxNotifyUsers+1) }), wire.CodeBadRequest, 7, false},
		{"NOTIFY empty client_msg_id", publisher, false, notify(func(m *wire.Notify) { m.ClientMsgID = "" }), wire.CodeBadRequest, 7, false},
		{"NOTIFY bad template name", publisher, false, notify(func(m *wire.Notify) { m.Template = "a b" }), wire.CodeBadRequest, 7, false},
		{"NOTIFY a field twice", publisher, false, notify(func(m *wire.Notify) { m.Fields = []wire.Field{{Name: "f"}, {Name: "f"}} }), wire.CodeBadRequest, 7, false},
		{"NOTIFY 21 fields", publisher, false, notify(func(m *wire.Notify) {
			for i := range wire.MaxFields + 1 {
				m.Fields = append(m.Fields, wire.Field{Name: string(rune('a' + i))})
			}
		}), wire.CodeBadRequest, 7, false},
		{"NOTIFY value of 1025 bytes", publisher, false, notify(func(m *wire.Notify) { m.Fields = []wire.Field{{Name: "f", Value: strings.Repeat("v", 1025)}} }), wire.CodeBadRequest, 7, false},
		{"NOTIFY link of 2049 bytes", publisher, false, notify(func(m *wire.Notify) { m.Link = strings.Repeat("l", 2049) }), wire.CodeBadRequest, 7, false},
		{"NOTIFY undefined flag", publisher, false, withFlags(notify(func(*wire.Notify) {}), 1<<2), wire.CodeBadRequest, 7, false},
		{"NOTIFY for another account", publisher, false, notify(func(m *wire.Notify) { m.Account = other }), wire.CodeForbidden, 7, false},
		{"TEMPLATE unknown op", publisher, false, template(func(m *wire.Template) { m.Op = 9 }), wire.CodeBadRequest, 7, false},
		{"TEMPLATE bad name", publisher, false, template(func(m *wire.Template) { m.Template.Name = "" }), wire.CodeBadRequest, 7, false},
		{"TEMPLATE empty title", publisher, false, template(func(m *wire.Template) { m.Template.Title = "" }), wire.CodeBadRequest, 7, false},
		{"TEMPLATE a field twice", publisher, false, template(func(m *wire.Template) { m.Template.Fields = []string{"f", "f"} }), wire.CodeBadRequest, 7, false},
		{"TEMPLATE list naming a template", publisher, false, template(func(m *wire.Template) { m.Op = wire.TemplateList }), wire.CodeBadRequest, 7, false},
		{"CONSENT unknown op", client, false, consent(func(m *wire.Consent) { m.Op = 9 }), wire.CodeBadRequest, 7, false},
		{"CONSENT grant of 0", client, false, consent(func(m *wire.Consent) { m.Count = 0 }), wire.CodeBadRequest, 7, false},
		{"CONSENT grant of 101", client, false, consent(func(m *wire.Consent) { m.Count = wire.MaxGrant + 1 }), wire.CodeBadRequest, 7, false},
		{"CONSENT ban with a count", client, false, consent(func(m *wire.Consent) { m.Op = wire.ConsentBan }), wire.CodeBadRequest, 7, false},
		{"CONSENT bad template name", client, false, consent(func(m *wire.Consent) { m.Template = "a/b" }), wire.CodeBadRequest, 7, false},
		{"CONSENT of an unknown account", client, false, consent(func(m *wire.Consent) { m.Account = 999 }), wire.CodeUnknownAccount, 7, false},
		{"MESSAGE with no payload", client, false, wire.AppendMessage(nil, wire.Message{RequestID: 7, Account: account}), wire.CodeBadRequest, 7, false},
		{"MESSAGE of 2049 bytes", client, false, wire.AppendMessage(nil, wire.Message{RequestID: 7, Account: account, Payload: make([]byte, wire.MaxMessagePayload+1)}), wire.CodeBadRequest, 7, false},
		{"MESSAGE content_type of 65 bytes", client, false, wire.AppendMessage(nil, wire.Message{RequestID: 7, Account: account, ContentType: strings.Repeat("t", 65), Payload: []byte("x")}), wire.CodeBadRequest, 7, false},
		{"MESSAGE to an unknown account", client, false, wire.AppendMessage(nil, wire.Message{RequestID: 7, Account: 999, Payload: []byte("x")}), wire.CodeUnknownAccount, 7, false},
		{"MESSAGE to an account not followed", client, false, wire.AppendMessage(nil, wire.Message{RequestID: 7, Account: other, Payload: []byte("x")}), wire.CodeNotFollowing, 7, false},
		{"INBOX with WATCH and UNWATCH", publisher, false, wire.AppendInbox(nil, wire.Inbox{RequestID: 7, Account: account}, wire.FlagWatch|wire.FlagUnwatch), wire.CodeBadRequest, 7, false},
		{"INBOX for another account", publisher, false, wire.AppendInbox(nil, wire.Inbox{RequestID: 7, Account: other}, 0), wire.CodeForbidden, 7, false},
		{"PUBLISH reply audience of 2 bytes", publisher, false, publish(func(m *wire.Publish) { m.AudienceKind, m.AudienceBytes = wire.AudienceReply, []byte{0, 1} }), wire.CodeBadRequest, 7, false},
		{"PUBLISH reply to user 0", publisher, false, publish(func(m *wire.Publish) { m.AudienceKind, m.AudienceBytes = wire.AudienceReply, wire.EncodeReply(0) }), wire.CodeBadRequest, 7, false},
		{"PUBLISH reply outside the window", publisher, false, publish(func(m *wire.Publish) { m.AudienceKind, m.AudienceBytes = wire.AudienceReply, wire.EncodeReply(2) }), wire.CodeWindowClosed, 7, false},
		{"SCHEDULE empty client_msg_id", publisher, false, wire.AppendSchedule(nil, wire.Schedule{SendAtMillis: 1, Publish: wire.Publish{RequestID: 7, Account: account}}), wire.CodeBadRequest, 7, false},
		{"SCHEDULE cut short", publisher, false, wire.AppendFrame(nil, wire.TypeSchedule, 0, []byte{0, 0, 0, 7, 1}), wire.CodeBadRequest, 7, false},
		{"SCHEDULE a flag", publisher, false, withFlags(wire.AppendSchedule(nil, wire.Schedule{SendAtMillis: 1, Publish: wire.Publish{RequestID: 7, Account: account, ClientMsgID: "s"}}), wire.FlagDryRun), wire.CodeBadRequest, 7, false},
		{"CANCEL empty client_msg_id", publisher, false, wire.AppendCancel(nil, wire.Cancel{RequestID: 7, Account: account}), wire.CodeBadRequest, 7, false},
		{"CANCEL of nothing scheduled", publisher, false, wire.AppendCancel(nil, wire.Cancel{RequestID: 7, Account: account, ClientMsgID: "none"}), wire.CodeUnknownMessage, 7, false},
		{"STATUS of an unknown message", publisher, false, wire.AppendStatus(nil, wire.Status{RequestID: 7, Account: account, MessageID: 999}), wire.CodeUnknownMessage, 7, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			addr, hello, credential := h.Server.ClientAddr(), uint32(0), token
			if tt.listener == publisher {
				addr, hello, credential = h.Server.PublisherAddr(), account, secret
			}
			r := testutil.DialRaw(t, addr)
			if !tt.noHello {
				r.Welcome(hello, credential)
			}
			r.Send(tt.frame)
			r.ExpectError(tt.code, tt.request)
			if tt.closed {
				r.ExpectClosed()
				return
			}
			r.Send(wire.AppendEmpty(nil, wire.TypePing))
			for {
				f, err := r.Next(5 * time.Second)
				if err != nil {
					t.Fatalf("connection not kept: %v", err)
				}
				if f.Type == wire.TypePong {
					return
				}
			}
		})
	}
}

// nonCanonical spells a token's last base64 character with bits set past
// its data: the same bytes to a lenient decoder, another token to a strict
// one.
func nonCanonical(token string) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	last := strings.IndexByte(alphabet, token[len(token)-1])
	return token[:len(token)-1] + string(alphabet[last|1])
}
