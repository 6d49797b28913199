package wire

import (
	"errors"
	"strings"
	"testing"
)

// TestNotificationFramesRoundTrip: NOTIFY, TEMPLATE, TEMPLATES and CONSENT
// decode to what was encoded, and a notification PUSH carries its flag.
func TestNotificationFramesRoundTrip(t *testing.T) {
	n := Notification{Template: "receipt", Link: "https://x/1", Fields: []Field{{Name: "amount", Value: "9.99"}, {Name: "shop", Value: "茶"}}}
	f := decodeOne(t, AppendNotify(nil, Notify{DryRun: true, RequestID: 7, Account: 3, ClientMsgID: "c", TTLSeconds: 60, Users: []uint32{1, 2}, Notification: n}))
	if f.Type != TypeNotify || f.Flags != FlagDryRun {
		t.Fatalf("frame %v flags %#x", f.Type, f.Flags)
	}
	m, err := DecodeNotify(f.Body)
	if err != nil || m.Validate() != nil || m.RequestID != 7 || m.Account != 3 || m.ClientMsgID != "c" || m.TTLSeconds != 60 ||
		len(m.Users) != 2 || m.Users[1] != 2 || !sameNotification(m.Notification, n) {
		t.Fatalf("NOTIFY decoded as %+v, %v", m, err)
	}
	push := decodeOne(t, AppendPush(nil, Push{MessageID: 9, Notification: true, Compressed: true, Payload: []byte{1}}))
	if push.Flags != FlagNotification|FlagCompressed {
		t.Fatalf("PUSH flags %#x", push.Flags)
	}
	back, err := DecodeNotification(AppendNotification(nil, n))
	if err != nil || !sameNotification(back, n) {
		t.Fatalf("notification %+v, %v", back, err)
	}

	tmpl := TemplateInfo{Name: "order.shipped", Title: "Shipped", Consent: true, Fields: []string{"order", "carrier"}}
	tm, err := DecodeTemplate(decodeOne(t, AppendTemplate(nil, Template{RequestID: 2, Account: 3, Op: TemplateDefine, Template: tmpl})).Body)
	if err != nil || tm.Op != TemplateDefine || tm.Template.Name != tmpl.Name || !tm.Template.Consent || tm.Template.Fields[1] != "carrier" {
		t.Fatalf("TEMPLATE decoded as %+v, %v", tm, err)
	}
	if del, err := DecodeTemplate(decodeOne(t, AppendTemplate(nil, Template{RequestID: 2, Op: TemplateDelete, Template: TemplateInfo{Name: "x"}})).Body); err != nil || del.Template.Name != "x" {
		t.Fatalf("delete decoded as %+v, %v", del, err)
	}
	ts, err := DecodeTemplates(decodeOne(t, AppendTemplates(nil, Templates{RequestID: 5, Templates: []TemplateInfo{tmpl, {Name: "b", Title: "B"}}})).Body)
	if err != nil || ts.RequestID != 5 || len(ts.Templates) != 2 || ts.Templates[0].Title != "Shipped" || ts.Templates[1].Consent {
		t.Fatalf("TEMPLATES decoded as %+v, %v", ts, err)
	}

	c := Consent{RequestID: 4, Account: 3, Op: ConsentGrant, Template: "order.shipped", Count: 5}
	if got, err := DecodeConsent(decodeOne(t, AppendConsent(nil, c)).Body); err != nil || got != c {
		t.Fatalf("CONSENT decoded as %+v, %v", got, err)
	}
}

// TestNotificationRules: every rule of a notification, a template and a
// consent is enforced by its decoder or Validate, as ErrInvalid.
func TestNotificationRules(t *testing.T) {
	ok := Notification{Template: "t"}
	bad := []Notification{
		{},
		{Template: "a b"},
		{Template: strings.Repeat("t", MaxName+1)},
		{Template: "t", Link: strings.Repeat("l", MaxLink+1)},
		{Template: "t", Fields: []Field{{Name: "f"}, {Name: "f"}}},
		{Template: "t", Fields: []Field{{Name: ""}}},
		{Template: "t", Fields: []Field{{Name: "f", Value: strings.Repeat("v", MaxFieldValue+1)}}},
		{Template: "t", Fields: make([]Field, MaxFields+1)},
	}
	if err := ok.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, n := range bad {
		if err := n.Validate(); !errors.Is(err, ErrInvalid) {
			t.Errorf("%+v: %v, want ErrInvalid", n, err)
		}
	}
	for _, m := range []Notify{
		{ClientMsgID: "c", Notification: ok},
		{ClientMsgID: "c", Users: make([]uint32, MaxNotifyUsers+1), Notification: ok},
		{Users: []uint32{1}, Notification: ok},
	} {
		if err := m.Validate(); !errors.Is(err, ErrInvalid) {
			t.Errorf("%+v: %v, want ErrInvalid", m, err)
		}
	}
	for _, tm := range []TemplateInfo{
		{Name: "t"},
		{Name: "t", Title: strings.Repeat("T", MaxTemplateTitle+1)},
		{Name: "t", Title: "T", Fields: []string{"a", "a"}},
		{Name: "t", Title: "T", Fields: make([]string, MaxFields+1)},
	} {
		if err := tm.Validate(); !errors.Is(err, ErrInvalid) {
			t.Errorf("%+v: %v, want ErrInvalid", tm, err)
		}
	}
	for _, c := range []Consent{
		{RequestID: 1, Op: 0, Template: "t"},
		{RequestID: 1, Op: ConsentGrant, Template: "t"},
		{RequestID: 1, Op: ConsentGrant, Template: "t", Count: MaxGrant + 1},
		{RequestID: 1, Op: ConsentUnban, Template: "t", Count: 1},
		{RequestID: 1, Op: ConsentBan, Template: ""},
	} {
		if _, err := DecodeConsent(AppendConsent(nil, c)[HeaderSize:]); !errors.Is(err, ErrInvalid) {
			t.Errorf("%+v: %v, want ErrInvalid", c, err)
		}
	}
	// A template flag bit other than CONSENT does not decode.
	frame := AppendTemplate(nil, Template{RequestID: 1, Op: TemplateDefine, Template: TemplateInfo{Name: "t", Title: "T"}})
	frame[len(frame)-2] |= 1 << 3
	if _, err := DecodeTemplate(frame[HeaderSize:]); !errors.Is(err, ErrMalformed) {
		t.Errorf("template with flag bit 3: %v, want ErrMalformed", err)
	}
}

// TestLetterFramesRoundTrip: MESSAGE, INBOX, LETTERS and a reply's
// audience decode to what was encoded, and their limits hold.
func TestLetterFramesRoundTrip(t *testing.T) {
	m := Message{RequestID: 1, Account: 2, ContentType: "text/plain", Payload: []byte("where is my order?")}
	got, err := DecodeMessage(decodeOne(t, AppendMessage(nil, m)).Body)
	if err != nil || got.RequestID != 1 || got.Account != 2 || got.ContentType != m.ContentType || string(got.Payload) != string(m.Payload) {
		t.Fatalf("MESSAGE decoded as %+v, %v", got, err)
	}
	for _, payload := range [][]byte{nil, make([]byte, MaxMessagePayload+1)} {
		if _, err := DecodeMessage(AppendMessage(nil, Message{RequestID: 1, Payload: payload})[HeaderSize:]); !errors.Is(err, ErrInvalid) {
			t.Errorf("a payload of %d bytes: %v, want ErrInvalid", len(payload), err)
		}
	}
	in := decodeOne(t, AppendInbox(nil, Inbox{RequestID: 3, Account: 2, After: 9}, FlagWatch))
	if q, err := DecodeInbox(in.Body); err != nil || in.Flags != FlagWatch || q != (Inbox{RequestID: 3, Account: 2, After: 9}) {
		t.Fatalf("INBOX decoded as %+v, %#x, %v", q, in.Flags, err)
	}
	letters := Letters{RequestID: 3, Letters: []Letter{{Seq: 1, User: 5, TimeMillis: 7, ContentType: "c", Payload: []byte("a")}, {Seq: 2, User: 6, Payload: []byte("bb")}}}
	lf := decodeOne(t, AppendLetters(nil, letters, FlagMore))
	back, err := DecodeLetters(lf.Body)
	if err != nil || lf.Flags != FlagMore || len(back.Letters) != 2 || back.Letters[1].Seq != 2 || string(back.Letters[1].Payload) != "bb" || back.Letters[0].ContentType != "c" {
		t.Fatalf("LETTERS decoded as %+v, %v", back, err)
	}
	if user, err := DecodeReply(EncodeReply(77)); err != nil || user != 77 {
		t.Fatalf("reply audience: %d, %v", user, err)
	}
	if _, err := DecodeReply([]byte{1, 2}); !errors.Is(err, ErrMalformed) {
		t.Fatalf("a short reply audience: %v", err)
	}
	if err := (Publish{ClientMsgID: "c", AudienceKind: AudienceReply + 1}).Validate(); !errors.Is(err, ErrInvalid) {
		t.Fatalf("audience kind 5: %v", err)
	}
}

// TestScheduleFramesRoundTrip: SCHEDULE carries a PUBLISH body behind its
// time, and CANCEL its client_msg_id.
func TestScheduleFramesRoundTrip(t *testing.T) {
	m := Schedule{SendAtMillis: 1_800_000_000_000, Publish: Publish{RequestID: 4, Account: 2, ClientMsgID: "morning", TTLSeconds: 60,
		AudienceKind: AudienceList, AudienceBytes: EncodeUsers([]uint32{1, 2}), ContentType: "text/plain", Payload: []byte("good morning")}}
	f := decodeOne(t, AppendSchedule(nil, m))
	got, err := DecodeSchedule(f.Body)
	if err != nil || got.Validate() != nil || got.SendAtMillis != m.SendAtMillis || got.RequestID != 4 || got.Account != 2 || got.ClientMsgID != "morning" ||
		got.TTLSeconds != 60 || got.AudienceKind != AudienceList || string(got.AudienceBytes) != string(m.AudienceBytes) || string(got.Payload) != "good morning" {
		t.Fatalf("SCHEDULE decoded as %+v, %v", got, err)
	}
	if _, err := DecodeSchedule([]byte{0, 0, 0, 1, 2}); !errors.Is(err, ErrMalformed) {
		t.Fatalf("a short SCHEDULE: %v", err)
	}
	c, err := DecodeCancel(decodeOne(t, AppendCancel(nil, Cancel{RequestID: 5, Account: 2, ClientMsgID: "morning"})).Body)
	if err != nil || c != (Cancel{RequestID: 5, Account: 2, ClientMsgID: "morning"}) {
		t.Fatalf("CANCEL decoded as %+v, %v", c, err)
	}
	if _, err := DecodeCancel(AppendCancel(nil, Cancel{RequestID: 5})[HeaderSize:]); !errors.Is(err, ErrInvalid) {
		t.Fatalf("CANCEL without a client_msg_id: %v", err)
	}
}
