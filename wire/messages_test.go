package wire

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"
)

// decodeOne parses exactly one frame from b.
func decodeOne(t *testing.T, b []byte) Frame {
	t.Helper()
	var got []Frame
	err := NewParser(0).Feed(b, func(f Frame) error {
		got = append(got, Frame{Type: f.Type, Flags: f.Flags, Body: bytes.Clone(f.Body)})
		return nil
	})
	if err != nil || len(got) != 1 {
		t.Fatalf("parse: %v, %d frames", err, len(got))
	}
	return got[0]
}

func TestMessagesRoundTrip(t *testing.T) {
	tests := []struct {
		name   string
		frame  []byte
		typ    Type
		flags  uint8
		decode func([]byte) (any, error)
		want   any
	}{
		{
			name:   "hello",
			frame:  AppendHello(nil, Hello{Version: 1, Account: 7, Credential: "secret"}),
			typ:    TypeHello,
			decode: func(b []byte) (any, error) { return DecodeHello(b) },
			want:   Hello{Version: 1, Account: 7, Credential: "secret"},
		},
		{
			name:   "welcome",
			frame:  AppendWelcome(nil, Welcome{Version: 1, ID: 42, HeartbeatMillis: 30000, MaxFrame: 1 << 20}),
			typ:    TypeWelcome,
			decode: func(b []byte) (any, error) { return DecodeWelcome(b) },
			want:   Welcome{Version: 1, ID: 42, HeartbeatMillis: 30000, MaxFrame: 1 << 20},
		},
		{
			name:   "error",
			frame:  AppendError(nil, Error{RequestID: 3, Code: CodeForbidden, RetryAtMillis: 99, Text: "no"}),
			typ:    TypeError,
			decode: func(b []byte) (any, error) { return DecodeError(b) },
			want:   Error{RequestID: 3, Code: CodeForbidden, RetryAtMillis: 99, Text: "no"},
		},
		{
			name: "publish",
			frame: AppendPublish(nil, Publish{RequestID: 1, Account: 2, ClientMsgID: "m-1", TTLSeconds: 60,
				AudienceKind: AudienceAll, AudienceBytes: []byte{}, ContentType: "text/plain", Payload: []byte("hello")}),
			typ:    TypePublish,
			decode: func(b []byte) (any, error) { return DecodePublish(b) },
			want: Publish{RequestID: 1, Account: 2, ClientMsgID: "m-1", TTLSeconds: 60,
				AudienceKind: AudienceAll, AudienceBytes: []byte{}, ContentType: "text/plain", Payload: []byte("hello")},
		},
		{
			name:   "publish ack",
			frame:  AppendPublishAck(nil, PublishAck{RequestID: 1, MessageID: 9, Total: 5, Filtered: 1, Recipients: 4}, FlagDuplicate),
			typ:    TypePublishAck,
			flags:  FlagDuplicate,
			decode: func(b []byte) (any, error) { return DecodePublishAck(b) },
			want:   PublishAck{RequestID: 1, MessageID: 9, Total: 5, Filtered: 1, Recipients: 4},
		},
		{
			name:   "resume",
			frame:  AppendResume(nil, Resume{Cursor: 77}, FlagFromStored),
			typ:    TypeResume,
			flags:  FlagFromStored,
			decode: func(b []byte) (any, error) { return DecodeResume(b) },
			want:   Resume{Cursor: 77},
		},
		{
			name:   "resume v2",
			frame:  AppendResumeV2(nil, ResumeV2{Cursor: Cursor{77, ShardBase(3) + 5}}, FlagFromStored),
			typ:    TypeResume,
			flags:  FlagFromStored,
			decode: func(b []byte) (any, error) { return DecodeResumeV2(b) },
			want:   ResumeV2{Cursor: Cursor{77, ShardBase(3) + 5}},
		},
		{
			name:   "push",
			frame:  AppendPush(nil, Push{MessageID: 5, Account: 2, TimeMillis: 1234, ContentType: "a/b", Payload: []byte{1, 2, 3}}),
			typ:    TypePush,
			decode: func(b []byte) (any, error) { return DecodePush(b) },
			want:   Push{MessageID: 5, Account: 2, TimeMillis: 1234, ContentType: "a/b", Payload: []byte{1, 2, 3}},
		},
		{
			name:   "ack",
			frame:  AppendAck(nil, 88),
			typ:    TypeAck,
			decode: func(b []byte) (any, error) { return DecodeAck(b) },
			want:   uint64(88),
		},
		{
			name:   "ok",
			frame:  AppendOK(nil, 12),
			typ:    TypeOK,
			decode: func(b []byte) (any, error) { return DecodeOK(b) },
			want:   uint32(12),
		},
		{
			name:   "retract",
			frame:  AppendRetract(nil, Retract{RequestID: 2, Account: 3, MessageID: 4}),
			typ:    TypeRetract,
			decode: func(b []byte) (any, error) { return DecodeRetract(b) },
			want:   Retract{RequestID: 2, Account: 3, MessageID: 4},
		},
		{
			name:   "retracted",
			frame:  AppendRetracted(nil, Retracted{MessageID: 4, Account: 3}),
			typ:    TypeRetracted,
			decode: func(b []byte) (any, error) { return DecodeRetracted(b) },
			want:   Retracted{MessageID: 4, Account: 3},
		},
		{
			name:   "job done",
			frame:  AppendJobDone(nil, JobDone{RequestID: 1, MessageID: 2, Total: 9, Filtered: 1, SentLive: 3, PendingOffline: 4, Errors: 1}, FlagInProgress),
			typ:    TypeJobDone,
			flags:  FlagInProgress,
			decode: func(b []byte) (any, error) { return DecodeJobDone(b) },
			want:   JobDone{RequestID: 1, MessageID: 2, Total: 9, Filtered: 1, SentLive: 3, PendingOffline: 4, Errors: 1},
		},
		{
			name:   "status",
			frame:  AppendStatus(nil, Status{RequestID: 5, Account: 6, MessageID: 7}),
			typ:    TypeStatus,
			decode: func(b []byte) (any, error) { return DecodeStatus(b) },
			want:   Status{RequestID: 5, Account: 6, MessageID: 7},
		},
		{
			name:   "resumed",
			frame:  AppendResumed(nil, Resumed{Count: 3, LastID: 10}, FlagMore),
			typ:    TypeResumed,
			flags:  FlagMore,
			decode: func(b []byte) (any, error) { return DecodeResumed(b) },
			want:   Resumed{Count: 3, LastID: 10},
		},
		{
			name:   "resumed v2",
			frame:  AppendResumedV2(nil, ResumedV2{Count: 3, Last: Cursor{10, ShardBase(1)}}, FlagMore),
			typ:    TypeResumed,
			flags:  FlagMore,
			decode: func(b []byte) (any, error) { return DecodeResumedV2(b) },
			want:   ResumedV2{Count: 3, Last: Cursor{10, ShardBase(1)}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := decodeOne(t, tc.frame)
			if f.Type != tc.typ || f.Flags != tc.flags {
				t.Fatalf("header = %v/%d, want %v/%d", f.Type, f.Flags, tc.typ, tc.flags)
			}
			got, err := tc.decode(f.Body)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
			// Every strict prefix of the body and one extra byte must fail.
			for n := 0; n < len(f.Body); n++ {
				if tc.typ == TypePush || tc.typ == TypePublish {
					break // payload runs to the end: prefixes of it are valid
				}
				if _, err := tc.decode(f.Body[:n]); !errors.Is(err, ErrMalformed) {
					t.Fatalf("prefix %d: err = %v, want ErrMalformed", n, err)
				}
			}
			if tc.typ != TypePush && tc.typ != TypePublish {
				if _, err := tc.decode(append(bytes.Clone(f.Body), 0)); !errors.Is(err, ErrMalformed) {
					t.Fatalf("trailing byte: err = %v, want ErrMalformed", err)
				}
			}
		})
	}
}

func TestFollowFrames(t *testing.T) {
	for _, typ := range []Type{TypeFollow, TypeUnfollow} {
		f := decodeOne(t, AppendFollow(nil, typ, 4, 9))
		req, acct, err := DecodeFollow(f.Body)
		if f.Type != typ || err != nil || req != 4 || acct != 9 {
			t.Fatalf("%v: got %v %d %d %v", typ, f.Type, req, acct, err)
		}
	}
}

func TestBlockFrames(t *testing.T) {
	for _, typ := range []Type{TypeBlock, TypeUnblock} {
		f := decodeOne(t, AppendBlock(nil, typ, Block{RequestID: 1, Account: 2, Users: []uint32{3, 4}}))
		m, err := DecodeBlock(f.Body)
		if f.Type != typ || err != nil || m.RequestID != 1 || m.Account != 2 || len(m.Users) != 2 || m.Users[1] != 4 {
			t.Fatalf("%v: %+v, %v", typ, m, err)
		}
	}
	for _, n := range []int{0, MaxBlockUsers + 1} {
		f := decodeOne(t, AppendBlock(nil, TypeBlock, Block{Users: make([]uint32, n)}))
		if _, err := DecodeBlock(f.Body); !errors.Is(err, ErrMalformed) {
			t.Fatalf("%d users: %v", n, err)
		}
	}
}

// TestPublishValidate: the layout decodes whatever the field values; the
// rules are Validate's, each breach an ErrInvalid.
func TestPublishValidate(t *testing.T) {
	valid := Publish{RequestID: 1, Account: 1, ClientMsgID: "k", Payload: []byte("x")}
	tests := []struct {
		name  string
		patch func(*Publish)
		ok    bool
	}{
		{"valid", func(*Publish) {}, true},
		{"empty client_msg_id", func(m *Publish) { m.ClientMsgID = "" }, false},
		{"client_msg_id of 64 bytes", func(m *Publish) { m.ClientMsgID = strings.Repeat("k", 64) }, true},
		{"client_msg_id of 65 bytes", func(m *Publish) { m.ClientMsgID = strings.Repeat("k", 65) }, false},
		{"content type of 65 bytes", func(m *Publish) { m.ContentType = strings.Repeat("t", 65) }, false},
		{"kind 0 with audience bytes", func(m *Publish) { m.AudienceBytes = []byte{1} }, false},
		{"kind 4 (reply)", func(m *Publish) { m.AudienceKind, m.AudienceBytes = AudienceReply, EncodeReply(3) }, true},
		{"kind 5", func(m *Publish) { m.AudienceKind = 5 }, false},
	}
	for _, tt := range tests {
		m := valid
		tt.patch(&m)
		f := decodeOne(t, AppendPublish(nil, m))
		got, err := DecodePublish(f.Body)
		if err != nil {
			t.Fatalf("%s: the layout did not decode: %v", tt.name, err)
		}
		if err := got.Validate(); (err == nil) != tt.ok || (err != nil && !errors.Is(err, ErrInvalid)) {
			t.Fatalf("%s: Validate = %v", tt.name, err)
		}
	}
}

func TestCheckFlags(t *testing.T) {
	for _, tc := range []struct {
		t     Type
		flags uint8
		ok    bool
	}{
		{TypeHello, FlagCompress, true}, {TypeHello, 1 << 1, false},
		{TypePublish, FlagDryRun, true}, {TypePublish, 1 << 0, false},
		{TypeResume, FlagFromStored, true}, {TypeResume, 1 << 7, false},
		{TypeAck, 1, false}, {TypePing, 0, true}, {TypeFollow, FlagSource, true}, {TypeFollow, 1 << 1, false}, {TypeUnfollow, 1, false},
	} {
		if err := CheckFlags(tc.t, tc.flags); (err == nil) != tc.ok {
			t.Errorf("%s flags %#x: %v", tc.t, tc.flags, err)
		}
	}
}

func TestErrorTextIsCut(t *testing.T) {
	f := decodeOne(t, AppendError(nil, Error{Code: CodeInternal, Text: string(make([]byte, 5000))}))
	m, err := DecodeError(f.Body)
	if err != nil || len(m.Text) != MaxErrorText {
		t.Fatalf("len = %d, err = %v", len(m.Text), err)
	}
}

func TestCodeClasses(t *testing.T) {
	if CodeForbidden.Fatal() || !CodeSlowConsumer.Fatal() || !CodeSlowConsumer.Reconnect() || CodeAuthFailed.Reconnect() {
		t.Fatal("code classes wrong")
	}
	if CodeAuthFailed.String() != "AUTH_FAILED" || Code(1999).String() != "CODE_1999" {
		t.Fatal("code names wrong")
	}
}

func TestTagFramesRoundTrip(t *testing.T) {
	for _, m := range []Tag{
		{RequestID: 1, Account: 2, Op: TagCreate, Name: "vip"},
		{RequestID: 1, Account: 2, Op: TagRename, Name: "vip", NewName: "gold"},
		{RequestID: 1, Account: 2, Op: TagAdd, Name: "vip", Users: []uint32{1, 1 << 31}},
		{RequestID: 1, Account: 2, Op: TagList},
	} {
		frame := AppendTag(nil, m)
		got, err := DecodeTag(frame[HeaderSize:])
		if err != nil || got.Name != m.Name || got.NewName != m.NewName || len(got.Users) != len(m.Users) || got.Op != m.Op {
			t.Fatalf("%+v came back as %+v, %v", m, got, err)
		}
		if _, err := DecodeTag(frame[HeaderSize : len(frame)-1]); err == nil && len(frame) > HeaderSize+9 {
			t.Fatalf("a TAG cut short decoded: %+v", m)
		}
	}
	tags := Tags{RequestID: 9, Tags: []TagInfo{{ID: 1, Members: 1 << 40, Name: "a"}, {ID: 2, Name: "北京"}}}
	got, err := DecodeTags(AppendTags(nil, tags)[HeaderSize:])
	if err != nil || len(got.Tags) != 2 || got.Tags[0].Members != 1<<40 || got.Tags[1].Name != "北京" {
		t.Fatalf("TAGS came back as %+v, %v", got, err)
	}
}

// TestFollowWithASource: FOLLOW may end with its source (FlagSource); an
// empty or invalid source, or one over MaxSource, is refused.
func TestFollowWithASource(t *testing.T) {
	f := decodeOne(t, AppendFollowFrom(nil, 3, 9, "qr"))
	if f.Flags != FlagSource {
		t.Fatalf("flags %#x", f.Flags)
	}
	req, account, source, err := DecodeFollowFrom(f.Body, f.Flags)
	if err != nil || req != 3 || account != 9 || source != "qr" {
		t.Fatalf("decoded %d %d %q %v", req, account, source, err)
	}
	if f := decodeOne(t, AppendFollowFrom(nil, 3, 9, "")); f.Flags != 0 {
		t.Fatalf("no source: flags %#x", f.Flags)
	}
	for _, bad := range []string{"two words", "ünicode", string(make([]byte, MaxSource+1))} {
		f := decodeOne(t, AppendFollowFrom(nil, 3, 9, bad))
		if _, _, _, err := DecodeFollowFrom(f.Body, f.Flags); err == nil {
			t.Errorf("source %q accepted", bad)
		}
	}
	if _, _, _, err := DecodeFollowFrom([]byte{0, 0, 0, 3, 0, 0, 0, 9, 0}, FlagSource); err == nil {
		t.Error("an empty source accepted")
	}
}
