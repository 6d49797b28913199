package wire

import (
	"bytes"
	"fmt"
	"testing"
)

// FuzzParser feeds every input whole and then in pieces at two fuzzed cut
// points; both must yield the same frames (or the same error class), and
// every frame's body must decode or fail cleanly without panicking.
func FuzzParser(f *testing.F) {
	f.Add(stream(), uint16(1), uint16(7))
	f.Add(AppendHello(nil, Hello{Version: 1, Credential: "tok"}), uint16(3), uint16(5))
	f.Add(AppendPublish(nil, Publish{RequestID: 1, ClientMsgID: "x", Payload: []byte("p")}), uint16(9), uint16(20))
	f.Add([]byte{0, 0, 0, 1, 0}, uint16(2), uint16(3))
	f.Add(AppendTag(nil, Tag{RequestID: 2, Account: 1, Op: TagAdd, Name: "vip", Users: []uint32{1, 2}}), uint16(4), uint16(11))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff}, uint16(1), uint16(2))
	f.Add(append(AppendReach(nil, Reach{RequestID: 1, MessageID: 2, Delivered: 3, Curve: [CurvePoints]uint32{1, 2, 3, 3, 3}}, FlagRetracted), AppendOpened(nil, 9)...), uint16(5), uint16(70))
	f.Add(AppendNotify(nil, Notify{RequestID: 3, Account: 1, ClientMsgID: "n", Users: []uint32{4}, Notification: Notification{Template: "t", Link: "l", Fields: []Field{{Name: "a", Value: "1"}}}}), uint16(6), uint16(30))
	f.Add(AppendTemplate(nil, Template{RequestID: 4, Account: 1, Op: TemplateDefine, Template: TemplateInfo{Name: "t", Title: "T", Consent: true, Fields: []string{"a"}}}), uint16(2), uint16(12))
	f.Add(AppendConsent(nil, Consent{RequestID: 5, Account: 1, Op: ConsentGrant, Template: "t", Count: 3}), uint16(1), uint16(9))
	f.Add(AppendPush(nil, Push{MessageID: 1, Account: 1, Notification: true, Payload: AppendNotification(nil, Notification{Template: "t"})}), uint16(3), uint16(8))
	f.Add(append(AppendMessage(nil, Message{RequestID: 6, Account: 1, ContentType: "text/plain", Payload: []byte("hi")}), AppendInbox(nil, Inbox{RequestID: 7, Account: 1, After: 3}, FlagWatch)...), uint16(4), uint16(25))
	f.Add(AppendLetters(nil, Letters{RequestID: 7, Letters: []Letter{{Seq: 1, User: 2, TimeMillis: 3, ContentType: "c", Payload: []byte("p")}}}, FlagMore), uint16(3), uint16(9))
	f.Add(append(AppendSchedule(nil, Schedule{SendAtMillis: 9, Publish: Publish{RequestID: 8, Account: 1, ClientMsgID: "s", Payload: []byte("p")}}), AppendCancel(nil, Cancel{RequestID: 9, Account: 1, ClientMsgID: "s"})...), uint16(7), uint16(40))
	f.Fuzz(func(t *testing.T, input []byte, cutA, cutB uint16) {
		whole, errWhole := collect(NewParser(4096), input)
		a := int(cutA) % (len(input) + 1)
		b := int(cutB) % (len(input) + 1)
		if a > b {
			a, b = b, a
		}
		pieces, errPieces := collect(NewParser(4096), input[:a], input[a:b], input[b:])
		if (errWhole == nil) != (errPieces == nil) {
			t.Fatalf("whole err %v, pieces err %v", errWhole, errPieces)
		}
		if len(whole) != len(pieces) {
			t.Fatalf("whole %d frames, pieces %d", len(whole), len(pieces))
		}
		for i := range whole {
			if whole[i].Type != pieces[i].Type || whole[i].Flags != pieces[i].Flags || !bytes.Equal(whole[i].Body, pieces[i].Body) {
				t.Fatalf("frame %d differs", i)
			}
			decodeAny(whole[i])
		}
	})
}

// decodeAny runs the decoder for the frame's type; it must not panic.
func decodeAny(f Frame) {
	switch f.Type {
	case TypeHello:
		_, _ = DecodeHello(f.Body)
	case TypeWelcome:
		_, _ = DecodeWelcome(f.Body)
	case TypeError:
		_, _ = DecodeError(f.Body)
	case TypePublish:
		if m, err := DecodePublish(f.Body); err == nil {
			_ = m.Validate()
		}
	case TypePublishAck:
		_, _ = DecodePublishAck(f.Body)
	case TypeResume:
		_, _ = DecodeResume(f.Body)
		_, _, _, _ = DecodeFollowFrom(f.Body, f.Flags)
		if m, err := DecodeResumeV2(f.Body); err == nil {
			roundTripCursor(m.Cursor)
		}
	case TypePush:
		if m, err := DecodePush(f.Body); err == nil && f.Flags&FlagNotification != 0 {
			if n, err := DecodeNotification(m.Payload); err == nil {
				if again, err := DecodeNotification(AppendNotification(nil, n)); err != nil || !sameNotification(again, n) {
					panic(fmt.Sprintf("notification %+v decoded back as %+v, %v", n, again, err))
				}
			}
		}
	case TypeNotify:
		if m, err := DecodeNotify(f.Body); err == nil && m.Validate() == nil {
			again, err := DecodeNotify(AppendNotify(nil, m)[HeaderSize:])
			if err != nil || again.RequestID != m.RequestID || len(again.Users) != len(m.Users) || !sameNotification(again.Notification, m.Notification) {
				panic(fmt.Sprintf("NOTIFY %+v decoded back as %+v, %v", m, again, err))
			}
		}
	case TypeTemplate:
		if m, err := DecodeTemplate(f.Body); err == nil {
			again, err := DecodeTemplate(AppendTemplate(nil, m)[HeaderSize:])
			if err != nil || again.Op != m.Op || again.Template.Name != m.Template.Name || again.Template.Title != m.Template.Title ||
				again.Template.Consent != m.Template.Consent || len(again.Template.Fields) != len(m.Template.Fields) {
				panic(fmt.Sprintf("TEMPLATE %+v decoded back as %+v, %v", m, again, err))
			}
		}
	case TypeTemplates:
		_, _ = DecodeTemplates(f.Body)
	case TypeMessage:
		if m, err := DecodeMessage(f.Body); err == nil {
			if again, err := DecodeMessage(AppendMessage(nil, m)[HeaderSize:]); err != nil || again.ContentType != m.ContentType || string(again.Payload) != string(m.Payload) {
				panic(fmt.Sprintf("MESSAGE %+v decoded back as %+v, %v", m, again, err))
			}
		}
	case TypeInbox:
		_, _ = DecodeInbox(f.Body)
	case TypeSchedule:
		if m, err := DecodeSchedule(f.Body); err == nil {
			again, err := DecodeSchedule(AppendSchedule(nil, m)[HeaderSize:])
			if err != nil || again.SendAtMillis != m.SendAtMillis || again.RequestID != m.RequestID || again.ClientMsgID != m.ClientMsgID || string(again.Payload) != string(m.Payload) {
				panic(fmt.Sprintf("SCHEDULE %+v decoded back as %+v, %v", m, again, err))
			}
		}
	case TypeCancel:
		_, _ = DecodeCancel(f.Body)
	case TypeLetters:
		if m, err := DecodeLetters(f.Body); err == nil {
			if again, err := DecodeLetters(AppendLetters(nil, m, f.Flags)[HeaderSize:]); err != nil || len(again.Letters) != len(m.Letters) {
				panic(fmt.Sprintf("LETTERS %+v decoded back as %+v, %v", m, again, err))
			}
		}
	case TypeConsent:
		if m, err := DecodeConsent(f.Body); err == nil {
			if again, err := DecodeConsent(AppendConsent(nil, m)[HeaderSize:]); err != nil || again != m {
				panic(fmt.Sprintf("CONSENT %+v decoded back as %+v, %v", m, again, err))
			}
		}
	case TypeAck:
		_, _ = DecodeAck(f.Body)
	case TypeFollow, TypeUnfollow:
		_, _, _ = DecodeFollow(f.Body)
	case TypeOK:
		_, _ = DecodeOK(f.Body)
	case TypeResumed:
		_, _ = DecodeResumed(f.Body)
		if m, err := DecodeResumedV2(f.Body); err == nil {
			roundTripCursor(m.Last)
		}
	case TypeRetract:
		_, _ = DecodeRetract(f.Body)
	case TypeRetracted:
		_, _ = DecodeRetracted(f.Body)
	case TypeJobDone:
		_, _ = DecodeJobDone(f.Body)
	case TypeStatus:
		_, _ = DecodeStatus(f.Body)
	case TypeBlock, TypeUnblock:
		_, _ = DecodeBlock(f.Body)
	case TypeTag:
		if m, err := DecodeTag(f.Body); err == nil {
			if again, err := DecodeTag(AppendTag(nil, m)[HeaderSize:]); err != nil || again.Name != m.Name || len(again.Users) != len(m.Users) {
				panic(fmt.Sprintf("TAG %+v does not survive a round trip: %+v %v", m, again, err))
			}
		}
	case TypeTags:
		_, _ = DecodeTags(f.Body)
	case TypeReach:
		if m, err := DecodeReach(f.Body); err == nil {
			if again, err := DecodeReach(AppendReach(nil, m, f.Flags)[HeaderSize:]); err != nil || again != m {
				panic(fmt.Sprintf("REACH %+v decoded back as %+v, %v", m, again, err))
			}
		}
	case TypeOpened:
		_, _ = DecodeOpened(f.Body)
	}
}

// roundTripCursor checks that a cursor a decoder accepted survives its
// text form; it panics (failing the fuzz run) if not.
func roundTripCursor(c Cursor) {
	back, err := ParseCursor(c.String())
	if err != nil || !back.Equal(c) || len(back) != len(c) {
		panic(fmt.Sprintf("cursor %v: parsed back as %v, %v", c, back, err))
	}
}

func sameNotification(a, b Notification) bool {
	if a.Template != b.Template || a.Link != b.Link || len(a.Fields) != len(b.Fields) {
		return false
	}
	for i := range a.Fields {
		if a.Fields[i] != b.Fields[i] {
			return false
		}
	}
	return true
}
