package cluster

import (
	"testing"

	"github.com/RoaringBitmap/roaring/v2"

	"herald/engine"
	"herald/fanout"
	"herald/wire"
)

// FuzzBusMessages: no input makes a decoder of the bus panic, and a relay
// that decodes encodes back to the same bytes.
func FuzzBusMessages(f *testing.F) {
	f.Add(encodeRelay(relayMsg{Instance: 3, Parts: 1, Relayed: fanout.Relayed{ID: 9, Plain: []byte("frame"), Audience: roaring.BitmapOf(1, 5, 70000)}}))
	f.Add(encodeReport(reportMsg{Edge: "e", ID: 4, Reached: roaring.BitmapOf(2)}))
	f.Add(encodeAcks([]ack{{User: 1, ID: 2, CaughtUp: 1}, {User: 1, ID: 2, Opened: true}}))
	f.Add(encodePublishForFuzz())
	f.Add(encodeErrorForFuzz())
	f.Add(encPublish(publishMsg{PublishRequest: engine.PublishRequest{Account: 1, ClientMsgID: "n", Users: []uint32{2},
		Notification: &wire.Notification{Template: "t", Fields: []wire.Field{{Name: "a", Value: "b"}}}}}))
	f.Add(encTemplateRequest(engine.TemplateRequest{Account: 1, Op: engine.TemplateDefine, Template: wire.TemplateInfo{Name: "t", Title: "T", Fields: []string{"a"}}}))
	f.Add(encLetterRequest(engine.LetterRequest{User: 1, Account: 2, ContentType: "text/plain", Payload: []byte("hi")}))
	f.Add(encConsentRequest(engine.ConsentRequest{User: 1, Account: 2, Template: "t", Op: engine.ConsentGrant, Count: 3}))
	f.Fuzz(func(t *testing.T, b []byte) {
		if m, err := decodeRelay(b); err == nil {
			// A bitmap has more than one serialisation: compare what the
			// re-encoded relay decodes to.
			again, err := decodeRelay(encodeRelay(m))
			if err != nil || !again.Audience.Equals(m.Audience) || string(again.Plain) != string(m.Plain) ||
				string(again.Compressed) != string(m.Compressed) || again.ID != m.ID || again.Retracts != m.Retracts ||
				again.Part != m.Part || again.Parts != m.Parts || again.Instance != m.Instance || again.Expires != m.Expires {
				t.Fatalf("relay %x re-encodes to something else (%v)", b, err)
			}
		}
		_, _ = decodeReport(b)
		_, _ = decodeAcks(b)
		_, _ = decodeCoreAlive(b)
		_, _ = decodeEdgeAlive(b)
		_, _ = decodeJobDone(b)
		for _, read := range []func(*dec){
			func(d *dec) { decResume(d) },
			func(d *dec) { decPage(d) },
			func(d *dec) { decMembership(d) },
			func(d *dec) { decStatsRequest(d) },
			func(d *dec) { decList(d, minFollowerDay, decFollowerDay) },
			func(d *dec) { decCredentials(d) },
			func(d *dec) { _, _ = decPublish(d) },
			func(d *dec) { decPublishResult(d) },
			func(d *dec) { decMessageRef(d) },
			func(d *dec) { decJobReport(d) },
			func(d *dec) { decTagRequest(d) },
			func(d *dec) { decTag(d) },
			func(d *dec) { decTemplateRequest(d) },
			func(d *dec) { decList(d, minTemplate, decTemplateInfo) },
			func(d *dec) { decConsentRequest(d) },
			func(d *dec) { decConsentState(d) },
			func(d *dec) { decLetterRequest(d) },
			func(d *dec) { _, _ = decScheduleRequest(d) },
			func(d *dec) { decCancelRequest(d) },
			func(d *dec) { decConfirmRequest(d) },
			func(d *dec) { decList(d, minConfirm, decConfirmation) },
			func(d *dec) { decList(d, minScheduled, decScheduled) },
			func(d *dec) { decInboxRequest(d) },
			func(d *dec) { decList(d, minLetter, decLetter) },
			func(d *dec) { decAccount(d) },
			func(d *dec) { _ = decError(d) },
		} {
			if d, err := newDec(b); err == nil {
				read(d)
				_ = d.check("fuzz")
			}
		}
	})
}

func encodePublishForFuzz() []byte {
	return encPublish(publishMsg{PublishRequest: engine.PublishRequest{Account: 1, ClientMsgID: "c", Payload: []byte("p"), Users: []uint32{3}}, JobDone: "s", Token: 1})
}

func encodeErrorForFuzz() []byte {
	e := newEnc(32)
	encError(e, &engine.CursorAheadError{Cursor: 9, Newest: 3})
	return e.b
}
